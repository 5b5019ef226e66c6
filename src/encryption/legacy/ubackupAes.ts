/**
 * µbackup's `.gz.aes` format (function61/gokit pkencryptedstream), read-only:
 *
 *   uint16 little-endian    length of the envelope
 *   envelope                RSA-OAEP (SHA-256, empty label) of a random AES-256 key
 *   16 bytes                IV
 *   rest                    AES-256-CTR of the gzip stream
 *
 * The ciphertext is not authenticated (a flipped bit goes unnoticed until the
 * gzip CRC, if at all): new backups use age instead.
 */
import * as crypto from "node:crypto"
import { DecryptError } from "../errors.ts"

const ivSize = 16

/** The first two bytes of a µbackup file for an RSA key of `modulusBytes`. */
export const looksLegacy = (firstBytes: Uint8Array, modulusBytes: number): boolean =>
  firstBytes.length >= 2 && firstBytes[0]! + firstBytes[1]! * 256 === modulusBytes

/** Envelope lengths of RSA keys from 2048 to 8192 bits. */
export const plausibleEnvelopeLength = (firstBytes: Uint8Array): boolean => {
  if (firstBytes.length < 2) return false
  const length = firstBytes[0]! + firstBytes[1]! * 256
  return length >= 256 && length <= 1024 && length % 128 === 0
}

export class LegacyDecryptor {
  readonly #privateKey: crypto.KeyObject
  readonly #onOpened: () => void
  #buffered: Buffer = Buffer.alloc(0)
  #decipher: crypto.Decipheriv | undefined

  /** `onOpened`: called once the key has opened the envelope. */
  constructor(privateKey: crypto.KeyObject, onOpened: () => void = () => undefined) {
    this.#privateKey = privateKey
    this.#onOpened = onOpened
  }

  push(input: Uint8Array): Array<Buffer> {
    if (this.#decipher !== undefined) return [this.#decipher.update(input)]
    this.#buffered = Buffer.concat([this.#buffered, input])
    if (this.#buffered.length < 2) return []
    const envelopeLength = this.#buffered.readUInt16LE(0)
    const headerLength = 2 + envelopeLength + ivSize
    if (this.#buffered.length < headerLength) return []
    let aesKey: Buffer
    try {
      aesKey = crypto.privateDecrypt(
        { key: this.#privateKey, padding: crypto.constants.RSA_PKCS1_OAEP_PADDING, oaepHash: "sha256" },
        this.#buffered.subarray(2, 2 + envelopeLength)
      )
    } catch {
      throw new DecryptError({
        reason: "NoMatchingKey",
        detail: "the RSA key does not open this µbackup (.gz.aes) backup: wrong key, or a damaged file"
      })
    }
    if (aesKey.length !== 32) {
      throw new DecryptError({ reason: "Malformed", detail: "the µbackup envelope does not hold an AES-256 key" })
    }
    this.#decipher = crypto.createDecipheriv("aes-256-ctr", aesKey, this.#buffered.subarray(2 + envelopeLength, headerLength))
    aesKey.fill(0)
    this.#onOpened()
    const rest = this.#buffered.subarray(headerLength)
    this.#buffered = Buffer.alloc(0)
    return [this.#decipher.update(rest)]
  }

  finish(): Array<Buffer> {
    if (this.#decipher === undefined) {
      throw new DecryptError({ reason: "Truncated", detail: "the µbackup backup is truncated: it ends inside its header" })
    }
    return [this.#decipher.final()]
  }
}
