/** What every restore path reads: stored bytes, decrypted, then decompressed. */
import type { Stream } from "effect"
import { decompress } from "../compression/decompress.ts"
import { decrypt } from "../encryption/decrypt.ts"
import type { DecryptionKeys } from "../encryption/keys.ts"

/** The plaintext of a stored backup's bytes, decrypted with `keys` and decompressed. */
export const plaintext = (keys: DecryptionKeys) => <E, R>(stored: Stream.Stream<Uint8Array, E, R>) =>
  decompress(stored.pipe(decrypt(keys)))
