import { describe, expect, it } from "vitest"
import * as crypto from "node:crypto"
import { DecryptError } from "../../../src/encryption/errors.ts"
import { encodeHeader, HeaderReader, maxHeaderSize, maxStanzas, parseHeader, type Stanza, verifyHeaderMac } from "../../../src/encryption/age/header.ts"

const fileKey = crypto.randomBytes(16)
const stanzas: ReadonlyArray<Stanza> = [
  { type: "X25519", args: ["O6DLx/wDIawpUC978NSPjYvrfDtJVnZApXKp4FMPHCY"], body: crypto.randomBytes(32) },
  { type: "ssh-rsa", args: ["Wq3kDw"], body: crypto.randomBytes(512) },
  // a body of exactly 48 bytes is 64 base64 columns: it must be followed by an empty line
  { type: "example.com/enigma", args: ["a", "b"], body: crypto.randomBytes(48) },
  { type: "empty", args: [], body: new Uint8Array(0) }
]

const headerText = (header: Buffer) => header.toString("latin1")

const expectMalformed = (text: string) => {
  let error: unknown
  try {
    parseHeader(Buffer.from(text, "latin1"))
  } catch (e) {
    error = e
  }
  expect(error, text).toBeInstanceOf(DecryptError)
  expect((error as DecryptError).reason).toBe("Malformed")
}

describe("age header", () => {
  it("round-trips stanzas and verifies its MAC", () => {
    const header = encodeHeader(stanzas, fileKey)
    const parsed = parseHeader(Buffer.concat([header, Buffer.from("payload")]))!
    expect(parsed.length).toBe(header.length)
    expect(parsed.header.stanzas.map((s) => [s.type, s.args, Buffer.from(s.body)])).toEqual(
      stanzas.map((s) => [s.type, s.args, Buffer.from(s.body)])
    )
    expect(verifyHeaderMac(parsed.header, fileKey)).toBe(true)
    expect(verifyHeaderMac(parsed.header, crypto.randomBytes(16))).toBe(false)
  })

  it("wraps bodies at 64 columns and ends each with a short line", () => {
    const lines = headerText(encodeHeader(stanzas, fileKey)).split("\n")
    expect(lines[0]).toBe("age-encryption.org/v1")
    const enigma = lines.indexOf("-> example.com/enigma a b")
    expect(lines[enigma + 1]).toHaveLength(64)
    expect(lines[enigma + 2]).toBe("")
    expect(lines.every((line) => line.length <= 64 || line.startsWith("-> "))).toBe(true)
  })

  it("asks for more bytes while the header is incomplete", () => {
    const header = encodeHeader(stanzas, fileKey)
    for (let n = 0; n < header.length; n += 7) expect(parseHeader(header.subarray(0, n))).toBeUndefined()
  })

  it("rejects malformed headers", () => {
    const mac = "--- " + "A".repeat(43) + "\n"
    expectMalformed("age-encryption.org/v2\n-> X25519 abc\n\n" + mac)
    expectMalformed("age-encryption.org/v1\n" + mac) // no stanza
    expectMalformed("age-encryption.org/v1\n-> X25519 abc\n\n--- AAAA\n") // short MAC
    expectMalformed("age-encryption.org/v1\n-> X25519 abc\n\n--- " + "A".repeat(43) + "=\n") // padded MAC
    expectMalformed("age-encryption.org/v1\n-> X25519 abc\nAB\n" + mac) // non-canonical body
    expectMalformed("age-encryption.org/v1\n-> X25519 abc\n" + "A".repeat(65) + "\n" + mac) // line over 64
    expectMalformed("age-encryption.org/v1\n->  X25519\n\n" + mac) // empty argument
    expectMalformed("age-encryption.org/v1\nhello\n" + mac)
  })

  it("refuses to buffer more than 1 MiB of header", () => {
    const huge = Buffer.from("age-encryption.org/v1\n-> X25519 abc\n" + "A".repeat(64).concat("\n").repeat(maxHeaderSize / 65 + 10))
    expect(() => parseHeader(huge)).toThrow(DecryptError)
    expect(() => parseHeader(Buffer.from("age-encryption.org/v1\n" + "x".repeat(maxHeaderSize + 10)))).toThrow(DecryptError)
  })

  it("reads a header pushed one byte at a time, and hands back what follows it", () => {
    const header = encodeHeader(stanzas, fileKey)
    const input = Buffer.concat([header, Buffer.from("nonce and payload")])
    const reader = new HeaderReader()
    let parsed: ReturnType<HeaderReader["push"]>
    let at = 0
    while ((parsed = reader.push(input.subarray(at, at + 1))) === undefined) at++
    expect(at).toBe(header.length - 1)
    expect(parsed.rest.toString()).toBe("")
    expect(parsed.header.stanzas).toHaveLength(stanzas.length)
    expect(verifyHeaderMac(parsed.header, fileKey)).toBe(true)
    const whole = new HeaderReader().push(input)
    expect(whole?.rest.toString()).toBe("nonce and payload")
  })

  it(`refuses more than ${maxStanzas} stanzas`, () => {
    const many = Array.from({ length: maxStanzas }, () => ({ type: "X25519", args: ["abc"], body: crypto.randomBytes(32) }))
    expect(parseHeader(encodeHeader(many, fileKey))?.header.stanzas).toHaveLength(maxStanzas)
    expect(() => parseHeader(encodeHeader([...many, stanzas[0]!], fileKey))).toThrow(/more than 256 recipient stanzas/)
  })
})
