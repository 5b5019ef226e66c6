/**
 * The storage stage: where finished backups live. `put` publishes an object
 * only after its stream ended cleanly; a failed or interrupted stream leaves
 * nothing behind (no file, no object, no open multipart upload).
 */
import { Context, type Effect, Schema, type Stream } from "effect"

/** One stored backup, as `storage ls --long` shows it. */
export interface StoredBackup {
  readonly id: string
  readonly size: number
  readonly modified: Date
}

export const StorageFailure = Schema.Literals([
  "NotFound", //       no such backup
  "InvalidId", //      not `<service>/<file>`
  "AccessDenied", //   credentials or permissions
  "Unavailable", //    cannot reach or use the storage
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
    return `storage ${this.operation} ${this.subject}: ${this.detail}`
  }
}

export class Storage extends Context.Service<Storage, {
  /** Where backups go, for logs: `local /var/backups`, `s3://bucket`. No secrets. */
  readonly location: string
  /** Streams `body` into the object `id`; publishes it only if `body` ends cleanly. */
  readonly put: <E>(id: string, body: Stream.Stream<Uint8Array, E>) => Effect.Effect<StoredBackup, E | StorageError>
  readonly get: (id: string) => Stream.Stream<Uint8Array, StorageError>
  /** The backups of one service, oldest first. */
  readonly list: (service: string) => Effect.Effect<ReadonlyArray<StoredBackup>, StorageError>
  /** Every service that has backups, sorted. */
  readonly listServices: Effect.Effect<ReadonlyArray<string>, StorageError>
}>()("ubackup/Storage") {}
