/**
 * Decryption for restores: recognises, by content, an age v1 file (what
 * ubackup writes) or µbackup's `.gz.aes` format, and streams the plaintext.
 */
import { Effect, Stream } from "effect"
import { AgeDecryptor, magic as ageMagic } from "./age/file.ts"
import { DecryptError } from "./errors.ts"
import type { DecryptionKeys } from "./keys.ts"
import { LegacyDecryptor, looksLegacy, plausibleEnvelopeLength } from "./legacy/ubackupAes.ts"
import { transformBytes } from "../stream/bytes.ts"
import { Blocks } from "../stream/pool.ts"

interface Decryptor {
  push(input: Uint8Array): Array<Buffer>
  finish(): Array<Buffer>
}

const armorMagic = Buffer.from("-----BEGIN AGE ENCRYPTED FILE-----")

/** Picks the format from the first bytes, then hands everything to its decryptor. */
class SniffingDecryptor implements Decryptor {
  readonly #keys: DecryptionKeys
  readonly #options: DecryptOptions
  #head: Buffer = Buffer.alloc(0)
  #inner: Decryptor | undefined

  constructor(keys: DecryptionKeys, options: DecryptOptions) {
    this.#keys = keys
    this.#options = options
  }

  push(input: Uint8Array): Array<Buffer> {
    if (this.#inner !== undefined) return this.#inner.push(input)
    this.#head = Buffer.concat([this.#head, input])
    if (this.#head.length < ageMagic.length) return []
    this.#inner = this.#choose(this.#head)
    const head = this.#head
    this.#head = Buffer.alloc(0)
    return this.#inner.push(head)
  }

  finish(): Array<Buffer> {
    if (this.#inner === undefined) {
      if (this.#head.length === 0) throw new DecryptError({ reason: "Empty", detail: "no input: the backup is empty" })
      this.#inner = this.#choose(this.#head)
      this.#inner.push(this.#head)
    }
    return this.#inner.finish()
  }

  #choose(head: Buffer): Decryptor {
    if (head.subarray(0, ageMagic.length).equals(ageMagic)) {
      this.#options.onFormat?.("age")
      return new AgeDecryptor(this.#keys.identities)
    }
    const rsa = this.#keys.rsaPrivateKeys.find((key) => looksLegacy(head, Math.ceil((key.asymmetricKeyDetails?.modulusLength ?? 0) / 8)))
    // told once the key opened the envelope: a wrong key gets its error alone
    if (rsa !== undefined) return new LegacyDecryptor(rsa, () => this.#options.onFormat?.("ubackup-aes"))
    if (head.subarray(0, armorMagic.length).equals(armorMagic.subarray(0, head.length))) {
      throw new DecryptError({
        reason: "NotABackup",
        detail: "this is an ASCII-armored age file; decode it first: `age -d` reads it, or strip the armor"
      })
    }
    if (plausibleEnvelopeLength(head)) {
      throw new DecryptError({
        reason: "NoMatchingKey",
        detail: this.#keys.rsaPrivateKeys.length === 0
          ? "this looks like a µbackup (.gz.aes) backup, which needs the RSA private key it was made for"
          : "this looks like a µbackup (.gz.aes) backup for an RSA key of another size than the one given"
      })
    }
    throw new DecryptError({
      reason: "NotABackup",
      detail: "the input is not a backup: neither an age file (ubackup) nor a µbackup .gz.aes file"
    })
  }
}

export interface DecryptOptions {
  /**
   * Told which format the input is: `age` once its first bytes are in, or
   * µbackup's `ubackup-aes` once the key opened it. That one's AES-CTR is not
   * authenticated (a changed byte is not detected: say so to whoever restores).
   */
  readonly onFormat?: (format: "age" | "ubackup-aes") => void
}

/**
 * Decrypts an age or µbackup byte stream with the given keys. The decryptors
 * copy what they keep of a chunk, so an input chunk that is a pool block
 * (standard input's, src/stream/pool.ts) goes back to the pool once pushed:
 * otherwise a restore would leave a 3 MiB block of garbage behind per read.
 */
export const decrypt = (keys: DecryptionKeys, options: DecryptOptions = {}) =>
<E, R>(input: Stream.Stream<Uint8Array, E, R>): Stream.Stream<Uint8Array, E | DecryptError, R> =>
  Stream.unwrap(Effect.map(Blocks, (pool) =>
    transformBytes(
      () => {
        const decryptor = new SniffingDecryptor(keys, options)
        return {
          push: (chunk) => {
            const output = decryptor.push(chunk)
            pool.release(chunk)
            return output
          },
          finish: () => decryptor.finish()
        }
      },
      (cause) =>
        cause instanceof DecryptError
          ? cause
          : new DecryptError({ reason: "Malformed", detail: `decryption failed: ${String(cause)}` })
    )(input)))
