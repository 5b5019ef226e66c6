/**
 * A whole age v1 file: header, payload nonce, payload. Incremental and
 * synchronous, like the payload classes it wraps.
 */
import * as crypto from "node:crypto"
import { DecryptError } from "../errors.ts"
import { encodeHeader, fileKeySize, type Header, HeaderReader, verifyHeaderMac } from "./header.ts"
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
  readonly #reader = new HeaderReader()
  #header: Header | undefined
  /** After the header: the start of the payload nonce. */
  #nonce: Buffer = Buffer.alloc(0)
  #payload: PayloadDecryptor | undefined

  constructor(identities: ReadonlyArray<Identity>) {
    this.#identities = identities
  }

  push(input: Uint8Array): Array<Buffer> {
    if (this.#payload !== undefined) return this.#payload.push(input)
    let bytes: Buffer
    if (this.#header === undefined) {
      const parsed = this.#reader.push(input)
      if (parsed === undefined) return []
      this.#header = parsed.header
      bytes = parsed.rest
    } else {
      bytes = Buffer.concat([this.#nonce, input])
    }
    if (bytes.length < payloadNonceSize) {
      this.#nonce = bytes
      return []
    }
    const fileKey = this.#unwrap(this.#header.stanzas)
    if (!verifyHeaderMac(this.#header, fileKey)) {
      throw new DecryptError({ reason: "Tampered", detail: "the header MAC does not verify: the backup was tampered with" })
    }
    this.#payload = new PayloadDecryptor(fileKey, bytes.subarray(0, payloadNonceSize))
    fileKey.fill(0)
    return this.#payload.push(bytes.subarray(payloadNonceSize))
  }

  finish(): Array<Buffer> {
    if (this.#payload === undefined) {
      throw new DecryptError({
        reason: "Truncated",
        detail: this.#header === undefined ? "the backup is truncated: it ends inside the age header" : "the backup is truncated: it ends before the payload"
      })
    }
    return [this.#payload.finish()]
  }

  #unwrap(stanzas: Parameters<Identity["unwrap"]>[0]): Uint8Array {
    for (const identity of this.#identities) {
      const fileKey = identity.unwrap(stanzas)
      if (fileKey !== undefined) return fileKey
    }
    throw new DecryptError({
      reason: "NoMatchingKey",
      detail: "no key opens this backup",
      stanzaTypes: stanzas.map((s) => (s.type === "ssh-rsa" ? `ssh-rsa ${s.args[0] ?? ""}`.trim() : s.type)),
      identities: this.#identities.map((i) => i.label)
    })
  }
}
