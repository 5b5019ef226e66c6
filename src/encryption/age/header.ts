/**
 * The age v1 header: version line, recipient stanzas, MAC
 * (age-encryption.org/v1, "Header").
 */
import * as crypto from "node:crypto"
import { DecryptError } from "../errors.ts"
import { decodeRaw, encodeRaw } from "./base64.ts"
import { hkdfSha256 } from "./kdf.ts"

export const versionLine = "age-encryption.org/v1"
export const fileKeySize = 16

/** One recipient stanza: `-> type args…` and a binary body. */
export interface Stanza {
  readonly type: string
  readonly args: ReadonlyArray<string>
  readonly body: Uint8Array
}

export interface Header {
  readonly stanzas: ReadonlyArray<Stanza>
  /** The header bytes the MAC covers: from the version line up to and including `---`. */
  readonly macInput: Uint8Array
  readonly mac: Uint8Array
}

const columns = 64
/** No header we accept is larger: it bounds what a bogus input can make us buffer. */
export const maxHeaderSize = 1 << 20

const headerMac = (fileKey: Uint8Array, macInput: Uint8Array): Buffer =>
  crypto.createHmac("sha256", hkdfSha256(fileKey, new Uint8Array(0), "header")).update(macInput).digest()

const isArgument = (arg: string) => /^[\x21-\x7e]+$/.test(arg)

const encodeStanza = (stanza: Stanza): string => {
  const body = encodeRaw(stanza.body)
  const lines: Array<string> = []
  for (let i = 0; i < body.length; i += columns) lines.push(body.slice(i, i + columns))
  // the body always ends with a line shorter than 64 columns, possibly empty
  if (body.length % columns === 0) lines.push("")
  return `-> ${[stanza.type, ...stanza.args].join(" ")}\n${lines.join("\n")}\n`
}

/** Serializes a header for `stanzas`, authenticated with `fileKey`. */
export const encodeHeader = (stanzas: ReadonlyArray<Stanza>, fileKey: Uint8Array): Buffer => {
  for (const stanza of stanzas) {
    if (![stanza.type, ...stanza.args].every(isArgument)) throw new Error(`invalid stanza argument in ${stanza.type}`)
  }
  const macInput = Buffer.from(`${versionLine}\n${stanzas.map(encodeStanza).join("")}---`, "latin1")
  return Buffer.concat([macInput, Buffer.from(` ${encodeRaw(headerMac(fileKey, macInput))}\n`, "latin1")])
}

/** True when `fileKey` authenticates `header`; compares in constant time. */
export const verifyHeaderMac = (header: Header, fileKey: Uint8Array): boolean => {
  const expected = headerMac(fileKey, header.macInput)
  return expected.length === header.mac.length && crypto.timingSafeEqual(expected, header.mac)
}

const malformed = (detail: string) => new DecryptError({ reason: "Malformed", detail: `malformed age header: ${detail}` })

/**
 * Parses a header from the start of `input`. Returns `undefined` when more
 * bytes are needed, else the header and its length in bytes (where the
 * payload starts). Throws a `DecryptError` for anything the format forbids.
 */
export const parseHeader = (input: Uint8Array): { readonly header: Header; readonly length: number } | undefined => {
  let offset = 0
  const nextLine = (): string | undefined => {
    const end = input.indexOf(0x0a, offset)
    // a header has to end within its first MiB: bogus input cannot make us buffer forever
    if (end === -1 ? input.length > maxHeaderSize : end > maxHeaderSize) throw malformed("header larger than 1 MiB")
    if (end === -1) return undefined
    const line = Buffer.from(input.subarray(offset, end)).toString("latin1")
    offset = end + 1
    return line
  }
  const version = nextLine()
  if (version === undefined) return undefined
  if (version !== versionLine) throw malformed(`unsupported version line ${JSON.stringify(version.slice(0, 40))}`)

  const stanzas: Array<Stanza> = []
  for (;;) {
    const lineStart = offset
    const line = nextLine()
    if (line === undefined) return undefined
    if (line.startsWith("--- ")) {
      if (stanzas.length === 0) throw malformed("no recipient stanza")
      const mac = decodeRaw(line.slice(4))
      if (mac === undefined || mac.length !== 32) throw malformed("bad MAC encoding")
      return { header: { stanzas, macInput: input.slice(0, lineStart + 3), mac }, length: offset }
    }
    if (!line.startsWith("-> ")) throw malformed("expected a stanza (->) or the MAC line (---)")
    const [type, ...args] = line.slice(3).split(" ")
    if (type === undefined || ![type, ...args].every(isArgument)) throw malformed("bad stanza arguments")
    const bodyLines: Array<string> = []
    for (;;) {
      const bodyLine = nextLine()
      if (bodyLine === undefined) return undefined
      if (bodyLine.length > columns) throw malformed("stanza body line longer than 64 columns")
      bodyLines.push(bodyLine)
      if (bodyLine.length < columns) break
    }
    const body = decodeRaw(bodyLines.join(""))
    if (body === undefined) throw malformed(`bad base64 in the ${type} stanza body`)
    stanzas.push({ type, args, body })
  }
}

