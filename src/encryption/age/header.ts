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
 * No more recipient stanzas than this. Go age bounds neither their number
 * nor the header's size (only scrypt stanzas must be alone); ubackup writes
 * one stanza per recipient, and a bound keeps a hostile header from making
 * a restore try thousands of RSA decryptions.
 */
export const maxStanzas = 256

type HeaderState =
  | { readonly _tag: "Version" }
  | { readonly _tag: "Stanza" }
  | { readonly _tag: "Body"; readonly type: string; readonly args: ReadonlyArray<string>; readonly lines: Array<string> }

/**
 * Reads a header incrementally: `push` bytes as they come; it returns the
 * header and the bytes after it once the MAC line has arrived, else
 * undefined. Each byte is looked at once (no re-parse from the start on
 * every push), and nothing beyond the 1 MiB bound is buffered. Throws a
 * `DecryptError` for anything the format forbids.
 */
export class HeaderReader {
  /** The header's complete lines so far, newlines included: what the MAC covers. */
  readonly #lines: Array<Buffer> = []
  #size = 0
  /** The start of a line whose newline has not come yet. */
  readonly #partial: Array<Buffer> = []
  #partialSize = 0
  #state: HeaderState = { _tag: "Version" }
  readonly #stanzas: Array<Stanza> = []
  #done = false

  push(input: Uint8Array): { readonly header: Header; readonly rest: Buffer } | undefined {
    if (this.#done) throw new Error("HeaderReader: push after the header ended")
    const bytes = Buffer.from(input.buffer, input.byteOffset, input.byteLength)
    let offset = 0
    while (offset < bytes.length) {
      const end = bytes.indexOf(0x0a, offset)
      const lineEnd = end === -1 ? bytes.length : end + 1
      // a header has to end within its first MiB: bogus input cannot make us buffer forever
      if (this.#size + this.#partialSize + (lineEnd - offset) > maxHeaderSize + (end === -1 ? 0 : 1)) throw malformed("header larger than 1 MiB")
      if (end === -1) {
        // copied: the caller may reuse its buffer (pool blocks) once push returns
        this.#partial.push(Buffer.from(bytes.subarray(offset)))
        this.#partialSize += bytes.length - offset
        return undefined
      }
      this.#partial.push(bytes.subarray(offset, lineEnd))
      const line = Buffer.concat(this.#partial, this.#partialSize + lineEnd - offset)
      this.#partial.length = 0
      this.#partialSize = 0
      offset = lineEnd
      const mac = this.#line(line.toString("latin1", 0, line.length - 1), line)
      if (mac !== undefined) {
        this.#done = true
        const macInput = Buffer.concat([...this.#lines, Buffer.from("---", "latin1")])
        return { header: { stanzas: this.#stanzas, macInput, mac }, rest: Buffer.from(bytes.subarray(offset)) }
      }
    }
    return undefined
  }

  /** One complete line (without its newline); the MAC once the `---` line came. */
  #line(line: string, raw: Buffer): Uint8Array | undefined {
    const state = this.#state
    switch (state._tag) {
      case "Version":
        if (line !== versionLine) throw malformed(`unsupported version line ${JSON.stringify(line.slice(0, 40))}`)
        this.#state = { _tag: "Stanza" }
        break
      case "Stanza": {
        if (line.startsWith("--- ")) {
          if (this.#stanzas.length === 0) throw malformed("no recipient stanza")
          const mac = decodeRaw(line.slice(4))
          if (mac === undefined || mac.length !== 32) throw malformed("bad MAC encoding")
          return mac
        }
        if (!line.startsWith("-> ")) throw malformed("expected a stanza (->) or the MAC line (---)")
        if (this.#stanzas.length === maxStanzas) throw malformed(`more than ${maxStanzas} recipient stanzas`)
        const [type, ...args] = line.slice(3).split(" ")
        if (type === undefined || ![type, ...args].every(isArgument)) throw malformed("bad stanza arguments")
        this.#state = { _tag: "Body", type, args, lines: [] }
        break
      }
      case "Body": {
        if (line.length > columns) throw malformed("stanza body line longer than 64 columns")
        state.lines.push(line)
        if (line.length === columns) break
        const body = decodeRaw(state.lines.join(""))
        if (body === undefined) throw malformed(`bad base64 in the ${state.type} stanza body`)
        this.#stanzas.push({ type: state.type, args: state.args, body })
        this.#state = { _tag: "Stanza" }
        break
      }
    }
    this.#lines.push(raw)
    this.#size += raw.length
    return undefined
  }
}

/**
 * Parses a header from the start of `input`. Returns `undefined` when more
 * bytes are needed, else the header and its length in bytes (where the
 * payload starts). Throws a `DecryptError` for anything the format forbids.
 */
export const parseHeader = (input: Uint8Array): { readonly header: Header; readonly length: number } | undefined => {
  const parsed = new HeaderReader().push(input)
  return parsed === undefined ? undefined : { header: parsed.header, length: input.length - parsed.rest.length }
}
