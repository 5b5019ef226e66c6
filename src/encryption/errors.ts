import { Schema } from "effect"

/**
 * A key (recipient, identity or key file) that cannot be used. `source` names
 * where it came from (a file path, a config field), never the key itself.
 */
export class KeyError extends Schema.TaggedError<KeyError>()("KeyError", {
  source: Schema.String,
  reason: Schema.String
}) {
  override get message() {
    return `${this.source}: ${this.reason}`
  }
}

/**
 * Why a backup could not be decrypted. Every reason means no plaintext from
 * the offending part was written.
 */
export const DecryptFailure = Schema.Literals([
  "NotABackup", //  neither an age file nor a µbackup .gz.aes file
  "Malformed", //   a header that breaks the format
  "NoMatchingKey", // none of the identities opens a recipient stanza
  "Tampered", //    a MAC or an authentication tag did not verify
  "Truncated", //   the input ended before the final chunk
  "TrailingData", // bytes after the final chunk
  "Empty" //        no input at all
])
export type DecryptFailure = typeof DecryptFailure.Type

export class DecryptError extends Schema.TaggedError<DecryptError>()("DecryptError", {
  reason: DecryptFailure,
  detail: Schema.String
}) {
  override get message() {
    return this.detail
  }
}
