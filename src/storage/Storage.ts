/**
 * The storage stage: where finished backups live. `put` publishes an object
 * only after its stream ended cleanly; a failed or interrupted stream leaves
 * nothing behind (no file, no object, no open multipart upload). It never
 * replaces an object: when the ID is taken, the backup is published under
 * the first free numbered variant of it (`withSequence` in
 * src/domain/names.ts), and `put` returns the ID it used.
 */
import { Context, type Effect, Schema, type Stream } from "effect"
import type { StoredBackup } from "../domain/Outcome.ts"

export const StorageFailure = Schema.Literals([
  "NotFound", //       no such backup
  "InvalidId", //      not `<service>/<file>`
  "AccessDenied", //   credentials or permissions
  "Unavailable", //    cannot reach or use the storage
  "Conflict", //       another writer took the ID while the backup was being written
  "Locked", //         protected by S3 Object Lock (a retention date or a legal hold): not deleted
  "Failed" //          anything else
])
export type StorageFailure = typeof StorageFailure.Type

export class StorageError extends Schema.TaggedError<StorageError>()("StorageError", {
  reason: StorageFailure,
  operation: Schema.String,
  /** The backup ID, service or location the operation was about. */
  subject: Schema.String,
  detail: Schema.String
}) {
  override get message() {
    return `storage ${this.operation}${this.subject === "" ? "" : ` ${this.subject}`}: ${this.detail}`
  }
}

export interface CleanupOptions {
  /** What is left of a backup that stopped (a temporary file, an open multipart upload) with no activity for this long. */
  readonly olderThanMs: number
  /** Only the leftovers of backups with this host name in their ID; every host's when undefined. */
  readonly hostname?: string | undefined
}

export interface CleanupResult {
  /** What was removed: the backup IDs the leftovers were for. */
  readonly removed: ReadonlyArray<string>
  /** Leftovers not removed: still active (younger than olderThanMs) or another host's. */
  readonly kept: number
}

export interface RemoveFailure {
  readonly id: string
  readonly reason: StorageFailure
  /** Why, for people: "locked by S3 Object Lock until …", "access denied". */
  readonly detail: string
}

export interface RemoveResult {
  /** Removed, or already gone. */
  readonly removed: ReadonlyArray<string>
  /** Left in place, each with why (a bad ID, no permission, an Object Lock retention). */
  readonly failed: ReadonlyArray<RemoveFailure>
}

export class Storage extends Context.Service<Storage, {
  /** Where backups go, for logs: `local /var/backups`, `s3://bucket`. No secrets. */
  readonly location: string
  /**
   * Streams `body` into the object `id` (or, when taken, its first free
   * numbered variant); publishes it only if `body` ends cleanly.
   */
  readonly put: <E>(id: string, body: Stream.Stream<Uint8Array, E>) => Effect.Effect<StoredBackup, E | StorageError>
  readonly get: (id: string) => Stream.Stream<Uint8Array, StorageError>
  /** The backups of one service, oldest first. */
  readonly list: (service: string) => Effect.Effect<ReadonlyArray<StoredBackup>, StorageError>
  /** Every service that has backups, sorted. */
  readonly listServices: Effect.Effect<ReadonlyArray<string>, StorageError>
  /**
   * Removes what backups that were killed (SIGKILL, a crash, a power cut)
   * left behind, and only that: ubackup's own temporary files or multipart
   * uploads, recognised by their backup ID, inactive for `olderThanMs`.
   */
  readonly cleanup: (options: CleanupOptions) => Effect.Effect<CleanupResult, StorageError>
  /**
   * Deletes these backups, in batches where the store has them (S3:
   * DeleteObjects, 1000 keys a call). A backup that is already gone counts
   * as removed; one that cannot be removed is reported in `failed` and the
   * others still go. Fails only when the storage itself cannot be used.
   * Retention (src/retention/) is its one caller: nothing else deletes.
   */
  readonly remove: (ids: ReadonlyArray<string>) => Effect.Effect<RemoveResult, StorageError>
}>()("ubackup/Storage") {}

/** A named destination of the config's storage list. */
export interface Destination {
  readonly name: string
  readonly storage: Storage["Service"]
}

/**
 * Where each backup goes besides `Storage` (a config whose `storage` is a
 * list: `primary` names `Storage`'s destination): `backupOne` writes the
 * same bytes to all of them as they stream. None by default.
 */
export const MoreDestinations = Context.Reference<{ readonly primary: string; readonly more: ReadonlyArray<Destination> }>(
  "ubackup/MoreDestinations",
  { defaultValue: () => ({ primary: "default", more: [] }) }
)
