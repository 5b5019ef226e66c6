import { Schema } from "effect"
import { printableLine } from "../text/printable.ts"

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
  detail: Schema.String,
  /** NoMatchingKey: the stanzas the backup has (`ssh-rsa <tag>`, `X25519`…), as age's NoIdentityMatchError keeps them. */
  stanzaTypes: Schema.optional(Schema.Array(Schema.String)),
  /** NoMatchingKey: the identities that were tried. */
  identities: Schema.optional(Schema.Array(Schema.String))
}) {
  override get message() {
    if (this.stanzaTypes === undefined) return this.detail
    // short, whatever a hostile header holds: the first few of each list and a count
    const few = (items: ReadonlyArray<string>) => items.length <= 3 ? items.join(", ") : `${items.slice(0, 3).join(", ")} and ${items.length - 3} more`
    const types = this.stanzaTypes.map((type) => printableLine(type.slice(0, 60)))
    return `${this.detail}: it is encrypted to ${few(types)}; the key file holds ${few(this.identities ?? [])}`
  }
}
