import { describe, expect, it } from "vitest"
import * as crypto from "node:crypto"
import { chunkSize, PayloadDecryptor, PayloadEncryptor, sealedChunkSize } from "../../../src/encryption/age/payload.ts"
import { DecryptError } from "../../../src/encryption/errors.ts"

const fileKey = crypto.randomBytes(16)
const nonce = crypto.randomBytes(16)

const encrypt = (plaintext: Buffer, step: number): Buffer => {
  const encryptor = new PayloadEncryptor(fileKey, nonce)
  const out: Array<Buffer> = []
  for (let i = 0; i < plaintext.length; i += step) out.push(...encryptor.push(plaintext.subarray(i, i + step)))
  out.push(...encryptor.finish())
  return Buffer.concat(out)
}

const decrypt = (sealed: Buffer, step: number): Buffer => {
  const decryptor = new PayloadDecryptor(fileKey, nonce)
  const out: Array<Buffer> = []
  for (let i = 0; i < sealed.length; i += step) out.push(...decryptor.push(sealed.subarray(i, i + step)))
  out.push(decryptor.finish())
  return Buffer.concat(out)
}

const reasonOf = (f: () => unknown) => {
  try {
    f()
  } catch (error) {
    if (error instanceof DecryptError) return error.reason
    throw error
  }
  return "no error"
}

describe("age payload (STREAM)", () => {
  const sizes = [0, 1, 65535, 65536, 65537, 131072, 200000]
  it.each(sizes)("round-trips %i bytes whatever the push size", (size) => {
    const plaintext = crypto.randomBytes(size)
    const steps = size <= 70000 ? [1, 1000, Math.max(size, 1)] : [1000, 65536, Math.max(size, 1)]
    const expectedLength = size === 0 ? 16 : size + Math.ceil(size / chunkSize) * 16
    for (const step of steps) {
      const sealed = encrypt(plaintext, step)
      expect(sealed.length).toBe(expectedLength)
      for (const readStep of steps) expect(decrypt(sealed, readStep)).toEqual(plaintext)
    }
  })

  it("flags only the last chunk, so any truncation at a chunk boundary fails", () => {
    const sealed = encrypt(crypto.randomBytes(3 * chunkSize), 7777)
    expect(sealed.length).toBe(3 * sealedChunkSize)
    for (const cut of [sealedChunkSize, 2 * sealedChunkSize]) {
      expect(reasonOf(() => decrypt(sealed.subarray(0, cut), 1000))).toBe("Truncated")
    }
    expect(reasonOf(() => decrypt(sealed.subarray(0, 10), 1000))).toBe("Truncated")
  })

  it("rejects an empty final chunk after full ones, data after the final chunk, and reordering", () => {
    const plaintext = crypto.randomBytes(2 * chunkSize + 10)
    const sealed = encrypt(plaintext, 5000)
    // after a short final chunk an extra byte makes it a chunk that does not authenticate
    expect(reasonOf(() => decrypt(Buffer.concat([sealed, Buffer.of(0)]), 4096))).toBe("Truncated")
    // after a full final chunk it is data past the end
    const full = encrypt(crypto.randomBytes(2 * chunkSize), 5000)
    expect(reasonOf(() => decrypt(Buffer.concat([full, Buffer.of(0)]), 4096))).toBe("TrailingData")
    const chunks = [0, 1, 2].map((i) => sealed.subarray(i * sealedChunkSize, (i + 1) * sealedChunkSize))
    expect(reasonOf(() => decrypt(Buffer.concat([chunks[1]!, chunks[0]!, chunks[2]!]), 4096))).toBe("Tampered")
    // an empty last chunk: seal 2 full chunks with the empty final one by hand is impossible through
    // the encryptor; a 16-byte tail after full chunks is what it would look like
    expect(reasonOf(() => decrypt(Buffer.concat([chunks[0]!, chunks[1]!, Buffer.alloc(16)]), 4096))).toBe("Malformed")
  })

  it("never releases plaintext of a chunk that does not authenticate", () => {
    const plaintext = crypto.randomBytes(3 * chunkSize)
    const sealed = encrypt(plaintext, 10000)
    sealed[sealedChunkSize + 100]! ^= 1 // damage chunk 1
    const decryptor = new PayloadDecryptor(fileKey, nonce)
    const released: Array<Buffer> = []
    expect(() => {
      for (let i = 0; i < sealed.length; i += 1000) released.push(...decryptor.push(sealed.subarray(i, i + 1000)))
    }).toThrow(DecryptError)
    expect(Buffer.concat(released)).toEqual(plaintext.subarray(0, chunkSize))
  })
})
