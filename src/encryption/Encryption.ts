/**
 * The encryption stage: a byte stream in, an age v1 file for the configured
 * recipients out. The file key is random per backup and dropped as soon as
 * the payload key is derived: the machine that takes a backup cannot read it.
 */
import { Context, Layer, type Stream } from "effect"
import { transformBytes } from "../stream/bytes.ts"
import { AgeEncryptor } from "./age/file.ts"
import type { Recipient } from "./age/recipient.ts"

export class Encryption extends Context.Service<Encryption, {
  /** Who can decrypt, for logs: key types and fingerprints. */
  readonly recipients: ReadonlyArray<string>
  /** The file-name suffix: `.age`. */
  readonly extension: string
  readonly encrypt: <E, R>(input: Stream.Stream<Uint8Array, E, R>) => Stream.Stream<Uint8Array, E, R>
}>()("ubackup/Encryption") {
  static readonly layer = (recipients: ReadonlyArray<Recipient>) => Layer.succeed(Encryption, makeEncryption(recipients))
}

export const makeEncryption = (recipients: ReadonlyArray<Recipient>): Encryption["Service"] => ({
  recipients: recipients.map((r) => r.label),
  extension: ".age",
  encrypt: transformBytes(() => {
    const age = new AgeEncryptor(recipients)
    let started = false
    // the header goes out with the first output, also for an empty input
    const withPrelude = (chunks: ReadonlyArray<Uint8Array>): ReadonlyArray<Uint8Array> => {
      if (started || chunks.length === 0) return chunks
      started = true
      return [age.prelude, ...chunks]
    }
    return {
      push: (chunk) => withPrelude(age.push(chunk)),
      // sealed only after the input ended cleanly: a failed input never gets a final chunk
      finish: () => withPrelude(age.finish())
    }
  })
})
