/**
 * A whole age v1 file: header, payload nonce, payload. Incremental and
 * synchronous, like the payload classes it wraps.
 */
import * as crypto from "node:crypto"
import { DecryptError } from "../errors.ts"
import { encodeHeader, fileKeySize, parseHeader, verifyHeaderMac } from "./header.ts"
import { PayloadDecryptor, PayloadEncryptor, payloadNonceSize } from "./payload.ts"
import type { Identity, Recipient } from "./recipient.ts"

export const magic = Buffer.from("age-encryption.org/")

export class AgeEncryptor {
  /** The header and the payload nonce: the first bytes of the file. */
  readonly prelude: Buffer
  readonly #payload: PayloadEncryptor

  constructor(recipients: ReadonlyArray<Recipient>) {
    if (recipients.length === 0) throw new Error("AgeEncryptor: no recipients")
    const fileKey = crypto.randomBytes(fileKeySize)
    const nonce = crypto.randomBytes(payloadNonceSize)
    const header = encodeHeader(recipients.flatMap((r) => r.wrap(fileKey)), fileKey)
    this.#payload = new PayloadEncryptor(fileKey, nonce)
    // the file key is per backup: once the payload key is derived it is not needed again
    fileKey.fill(0)
    this.prelude = Buffer.concat([header, nonce])
  }

  push(plaintext: Uint8Array): Array<Buffer> {
    return this.#payload.push(plaintext)
  }

  finish(): Array<Buffer> {
    return this.#payload.finish()
  }
}

export class AgeDecryptor {
  readonly #identities: ReadonlyArray<Identity>
  #buffered: Buffer = Buffer.alloc(0)
  #payload: PayloadDecryptor | undefined

  constructor(identities: ReadonlyArray<Identity>) {
    this.#identities = identities
  }

  push(input: Uint8Array): Array<Buffer> {
    if (this.#payload !== undefined) return this.#payload.push(input)
    this.#buffered = Buffer.concat([this.#buffered, input])
    const parsed = parseHeader(this.#buffered)
    if (parsed === undefined || this.#buffered.length < parsed.length + payloadNonceSize) return []
    const fileKey = this.#unwrap(parsed.header.stanzas)
    if (!verifyHeaderMac(parsed.header, fileKey)) {
      throw new DecryptError({ reason: "Tampered", detail: "the header MAC does not verify: the backup was tampered with" })
    }
    const nonce = this.#buffered.subarray(parsed.length, parsed.length + payloadNonceSize)
    this.#payload = new PayloadDecryptor(fileKey, nonce)
    fileKey.fill(0)
    const rest = this.#buffered.subarray(parsed.length + payloadNonceSize)
    this.#buffered = Buffer.alloc(0)
    return this.#payload.push(rest)
  }

  finish(): Array<Buffer> {
    if (this.#payload === undefined) {
      throw new DecryptError({
        reason: "Truncated",
        detail: "the backup is truncated: it ends inside the age header"
      })
    }
    return [this.#payload.finish()]
  }

  #unwrap(stanzas: Parameters<Identity["unwrap"]>[0]): Uint8Array {
    for (const identity of this.#identities) {
      const fileKey = identity.unwrap(stanzas)
      if (fileKey !== undefined) return fileKey
    }
    const recipients = stanzas.map((s) => [s.type, ...s.args.slice(0, s.type === "X25519" ? 0 : 1)].join(" "))
    throw new DecryptError({
      reason: "NoMatchingKey",
      detail: `no key opens this backup: it is encrypted to ${recipients.join(", ")}; the key file holds ${
        this.#identities.map((i) => i.label).join(", ")
      }`
    })
  }
}
