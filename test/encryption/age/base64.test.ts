import { describe, expect, it } from "vitest"
import { decodeRaw, encodeRaw } from "../../../src/encryption/age/base64.ts"

describe("age base64", () => {
  it("round-trips every length without padding", () => {
    for (let n = 0; n < 70; n++) {
      const bytes = Uint8Array.from({ length: n }, (_, i) => (i * 37 + n) & 0xff)
      const text = encodeRaw(bytes)
      expect(text).not.toContain("=")
      expect(decodeRaw(text)).toEqual(bytes)
    }
  })

  it("rejects padding, foreign characters and impossible lengths", () => {
    for (const bad of ["AA==", "AAA=", "A", "AAAAA", "AA AA", "AA\nAA", "AA-_", "AA.A"]) {
      expect(decodeRaw(bad), bad).toBeUndefined()
    }
  })

  it("rejects non-canonical spellings of the last character", () => {
    // "AA" and "AB" both decode to one 0x00 byte in lenient decoders; only "AA" is canonical
    expect(decodeRaw("AA")).toEqual(Uint8Array.of(0))
    expect(decodeRaw("AB")).toBeUndefined()
    expect(decodeRaw("AAB")).toBeUndefined()
    expect(decodeRaw("AAE")).toEqual(Uint8Array.of(0, 1))
  })
})
