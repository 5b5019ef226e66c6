/**
 * The age v1 payload: a 16-byte nonce, then the plaintext in 64 KiB chunks,
 * each sealed with ChaCha20-Poly1305 under a key derived from the file key and
 * the nonce; the chunk counter and a last-chunk flag form the AEAD nonce
 * (age-encryption.org/v1, "Payload"; the STREAM construction).
 *
 * Both directions are incremental and synchronous: push bytes in, take sealed
 * or opened chunks out. They know nothing of Effect or Node streams.
 */
import * as crypto from "node:crypto"
import { DecryptError } from "../errors.ts"
import { hkdfSha256 } from "./kdf.ts"

export const chunkSize = 64 * 1024
export const tagSize = 16
export const sealedChunkSize = chunkSize + tagSize
export const payloadNonceSize = 16

/**
 * The payload key as a KeyObject: node:crypto then skips re-importing raw key
 * bytes for every 64 KiB chunk (measured ~25 % cheaper per chunk).
 */
export const payloadKey = (fileKey: Uint8Array, nonce: Uint8Array): crypto.KeyObject => {
  const raw = hkdfSha256(fileKey, nonce, "payload")
  const key = crypto.createSecretKey(raw)
  raw.fill(0)
  return key
}

/** The 12-byte AEAD nonce: an 11-byte big-endian counter, then 0x01 for the last chunk. */
const chunkNonce = (counter: number, last: boolean): Buffer => {
  const nonce = Buffer.alloc(12)
  nonce.writeUInt32BE(Math.floor(counter / 2 ** 32), 3)
  nonce.writeUInt32BE(counter >>> 0, 7)
  nonce[11] = last ? 1 : 0
  return nonce
}

/**
 * Seals one chunk into `out` as two buffers, ciphertext then tag: joining
 * them would copy every byte once more for nothing.
 */
const seal = (key: crypto.KeyObject, counter: number, last: boolean, plaintext: Uint8Array, out: Array<Buffer>): void => {
  const cipher = crypto.createCipheriv("chacha20-poly1305", key, chunkNonce(counter, last), { authTagLength: tagSize })
  out.push(cipher.update(plaintext))
  cipher.final()
  out.push(cipher.getAuthTag())
}

/** Returns the plaintext only if the chunk authenticates, else `undefined`. */
const open = (key: crypto.KeyObject, counter: number, last: boolean, sealed: Uint8Array): Buffer | undefined => {
  const decipher = crypto.createDecipheriv("chacha20-poly1305", key, chunkNonce(counter, last), { authTagLength: tagSize })
  decipher.setAuthTag(sealed.subarray(sealed.length - tagSize))
  const plaintext = decipher.update(sealed.subarray(0, sealed.length - tagSize))
  try {
    decipher.final()
    return plaintext
  } catch {
    return undefined
  }
}

/**
 * Seals plaintext into chunks. A full chunk is held back until more input
 * shows it is not the last one, so `finish` can always flag the final chunk.
 */
export class PayloadEncryptor {
  readonly #key: crypto.KeyObject
  readonly #pending = Buffer.allocUnsafe(chunkSize)
  #filled = 0
  #counter = 0
  #finished = false

  constructor(fileKey: Uint8Array, nonce: Uint8Array) {
    this.#key = payloadKey(fileKey, nonce)
  }

  /** Sealed chunks for `plaintext`; may be empty while a chunk is filling. */
  push(plaintext: Uint8Array): Array<Buffer> {
    if (this.#finished) throw new Error("PayloadEncryptor: push after finish")
    const sealed: Array<Buffer> = []
    let offset = 0
    // top up a partly filled chunk first
    if (this.#filled > 0 && this.#filled < chunkSize) {
      const n = Math.min(chunkSize - this.#filled, plaintext.length)
      this.#pending.set(plaintext.subarray(0, n), this.#filled)
      this.#filled += n
      offset = n
    }
    if (offset === plaintext.length) return sealed
    // more input follows, so a held-back full chunk is not the last one
    if (this.#filled === chunkSize) {
      seal(this.#key, this.#counter++, false, this.#pending, sealed)
      this.#filled = 0
    }
    // whole chunks followed by more input are sealed in place, without a copy
    while (plaintext.length - offset > chunkSize) {
      seal(this.#key, this.#counter++, false, plaintext.subarray(offset, offset + chunkSize), sealed)
      offset += chunkSize
    }
    // the tail (up to one full chunk) waits: it may be the last
    this.#pending.set(plaintext.subarray(offset), 0)
    this.#filled = plaintext.length - offset
    return sealed
  }

  /** The final chunk; it is empty only when the whole payload is. */
  finish(): Array<Buffer> {
    if (this.#finished) throw new Error("PayloadEncryptor: finish called twice")
    this.#finished = true
    const last: Array<Buffer> = []
    seal(this.#key, this.#counter++, true, this.#pending.subarray(0, this.#filled), last)
    this.#pending.fill(0)
    return last
  }
}

const fail = (reason: "Tampered" | "Truncated" | "TrailingData" | "Malformed", detail: string) =>
  new DecryptError({ reason, detail })

/**
 * Opens sealed chunks. Plaintext leaves only after its chunk authenticated;
 * the input must end with exactly one chunk flagged last.
 */
export class PayloadDecryptor {
  readonly #key: crypto.KeyObject
  /**
   * The start of a chunk whose end has not come yet, or a whole chunk that
   * may be the last. Copied, so the caller may reuse its buffers (pool
   * blocks) once `push` returns; whole chunks inside an input are opened
   * where they are.
   */
  readonly #carry = Buffer.allocUnsafe(sealedChunkSize)
  #carried = 0
  #counter = 0
  #done = false

  constructor(fileKey: Uint8Array, nonce: Uint8Array) {
    this.#key = payloadKey(fileKey, nonce)
  }

  push(sealed: Uint8Array): Array<Buffer> {
    if (sealed.length === 0) return []
    if (this.#done) throw fail("TrailingData", "data after the final chunk: the backup was tampered with")
    const opened: Array<Buffer> = []
    let offset = 0
    if (this.#carried > 0) {
      offset = Math.min(sealedChunkSize - this.#carried, sealed.length)
      this.#carry.set(sealed.subarray(0, offset), this.#carried)
      this.#carried += offset
      // a chunk is known not to be the last only once more bytes follow it
      if (offset === sealed.length) return opened
      opened.push(this.#openMiddle(this.#carry))
      this.#carried = 0
    }
    while (sealed.length - offset > sealedChunkSize) {
      opened.push(this.#openMiddle(sealed.subarray(offset, offset + sealedChunkSize)))
      offset += sealedChunkSize
    }
    this.#carry.set(sealed.subarray(offset), 0)
    this.#carried = sealed.length - offset
    return opened
  }

  /** A full chunk followed by more bytes, which therefore cannot be the last one. */
  #openMiddle(chunk: Uint8Array): Buffer {
    const plaintext = open(this.#key, this.#counter, false, chunk)
    if (plaintext === undefined) {
      throw open(this.#key, this.#counter, true, chunk) === undefined
        ? fail("Tampered", `chunk ${this.#counter} failed authentication: the backup was tampered with or corrupted`)
        : fail("TrailingData", "data after the final chunk: the backup was tampered with")
    }
    this.#counter++
    return plaintext
  }

  /** The plaintext of the final chunk; throws if the payload ended early. */
  finish(): Buffer {
    if (this.#done) return Buffer.alloc(0)
    const chunk = this.#carry.subarray(0, this.#carried)
    this.#carried = 0
    if (chunk.length < tagSize) {
      throw fail("Truncated", `the backup is truncated: it ends inside chunk ${this.#counter}, before the final chunk`)
    }
    if (chunk.length === tagSize && this.#counter > 0) {
      throw fail("Malformed", "the final chunk is empty, which the age format forbids")
    }
    const plaintext = open(this.#key, this.#counter, true, chunk)
    if (plaintext === undefined) {
      throw fail(
        "Truncated",
        `chunk ${this.#counter} is not a valid final chunk: the backup was truncated, tampered with or corrupted`
      )
    }
    this.#done = true
    return plaintext
  }
}
