import { describe, expect, it } from "vitest"
import * as bech32 from "../../../src/encryption/age/bech32.ts"
import { x25519Identity } from "../../../src/encryption/age/x25519.ts"

describe("bech32", () => {
  it("accepts the BIP-173 valid vectors", () => {
    for (const valid of [
      "A12UEL5L",
      "a12uel5l",
      "an83characterlonghumanreadablepartthatcontainsthenumber1andtheexcludedcharactersbio1tt5tgs",
      "abcdef1qpzry9x8gf2tvdw0s3jn54khce6mua7lmqqqxw",
      "11" + "q".repeat(82) + "c8247j",
      "split1checkupstagehandshakeupstreamerranterredcaperred2y9e3w"
    ]) {
      expect(bech32.decode(valid), valid).toBeDefined()
    }
  })

  it("rejects the BIP-173 invalid vectors and mixed case", () => {
    for (const invalid of [
      "\x201nwldj5", // HRP character out of range
      "pzry9x0s0muk", // no separator
      "1pzry9x0s0muk", // empty HRP
      "x1b4n0q5v", // invalid data character
      "li1dgmt3", // too short checksum
      "A1G7SGD8", // checksum calculated with uppercase HRP
      "10a06t8", // empty HRP
      "1qzzfhee", // empty HRP
      "A12uEL5L" // mixed case
    ]) {
      expect(bech32.decode(invalid), JSON.stringify(invalid)).toBeUndefined()
    }
  })

  it("round-trips data, keeping the prefix's case", () => {
    const data = Uint8Array.from({ length: 32 }, (_, i) => i * 7)
    const lower = bech32.encode("age", data)
    expect(lower.startsWith("age1")).toBe(true)
    expect(bech32.decode(lower)).toEqual({ prefix: "age", data })
    const upper = bech32.encode("AGE-SECRET-KEY-", data)
    expect(upper).toBe(upper.toUpperCase())
    expect(bech32.decode(upper)?.data).toEqual(data)
  })

  it("maps the age spec's example identity to its recipient", () => {
    const decoded = bech32.decode("AGE-SECRET-KEY-1GFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPQ4EGAEX")!
    expect(decoded.prefix).toBe("age-secret-key-")
    expect(x25519Identity(decoded.data).recipient).toBe("age1zvkyg2lqzraa2lnjvqej32nkuu0ues2s82hzrye869xeexvn73equnujwj")
  })
})
