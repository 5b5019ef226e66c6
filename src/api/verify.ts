/**
 * Verifying a backup: everything a restore does (fetch, authenticate every
 * chunk, decompress) with the plaintext going only into a SHA-256, so a
 * backup is proven readable without a place to restore it to.
 */
import { Clock, Effect, Schema, Stream } from "effect"
import * as crypto from "node:crypto"
import type { DecryptionKeys } from "../encryption/keys.ts"
import { Storage } from "../storage/Storage.ts"
import { consumePlaintext, plaintext } from "./plaintext.ts"
import type { RestoreError } from "./Ubackup.ts"

export interface Verification {
  readonly id: string
  /** Bytes fetched from storage (encrypted). */
  readonly storedBytes: number
  /** Bytes after decryption and decompression: what a restore writes. */
  readonly plaintextBytes: number
  /** SHA-256 of the plaintext, hex: compare with `sha256sum` of a restore. */
  readonly sha256: string
  readonly durationMs: number
}

/** A service with no backups to verify. */
export class NoBackups extends Schema.TaggedError<NoBackups>()("NoBackups", { service: Schema.String }) {
  override get message() {
    return `no backups of service ${JSON.stringify(this.service)}`
  }
}

/**
 * Fetches, decrypts and decompresses backup `id`, and fails with the first
 * damage found. The plaintext goes to nowhere, or into `consume` (a drill's
 * check command), which sees it as it is hashed.
 */
export const verifyBackup = <E = never, R = never>(
  id: string,
  keys: DecryptionKeys,
  consume?: (plaintext: Stream.Stream<Uint8Array, RestoreError>) => Effect.Effect<void, E, R>
) =>
  Effect.gen(function*() {
    const storage = yield* Storage
    const started = yield* Clock.currentTimeMillis
    const hash = crypto.createHash("sha256")
    let storedBytes = 0
    let plaintextBytes = 0
    const stored = storage.get(id).pipe(Stream.map((chunk) => {
      storedBytes += chunk.length
      return chunk
    }))
    const count = (chunk: Uint8Array) => {
      hash.update(chunk)
      plaintextBytes += chunk.length
    }
    yield* consume === undefined
      ? consumePlaintext(stored, keys, count, { onConsumerError: (cause) => cause as never })
      : consume(stored.pipe(plaintext(keys), Stream.map((chunk) => {
        count(chunk)
        return chunk
      })))
    const durationMs = (yield* Clock.currentTimeMillis) - started
    return { id, storedBytes, plaintextBytes, sha256: hash.digest("hex"), durationMs } satisfies Verification
  })

/** The newest backup of `service` (IDs sort by time). */
export const latestBackup = (service: string) =>
  Effect.gen(function*() {
    const backups = yield* (yield* Storage).list(service)
    const newest = backups.at(-1)
    if (newest === undefined) return yield* Effect.fail(new NoBackups({ service }))
    return newest
  })
