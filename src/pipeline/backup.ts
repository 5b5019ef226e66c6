/**
 * One backup, the unit `manual-backup`, `now` and the scheduler share:
 *
 *   snapshot ─▶ compress ─▶ encrypt ─▶ Storage.put(id)
 *
 * Every arrow is a pull-based Stream, so memory stays bounded whatever the
 * size. The object is published only after the snapshot ended cleanly (for
 * a command: exited 0); any failure or interruption aborts it.
 */
import { Clock, Context, Effect, Schema, Stream } from "effect"
import * as os from "node:os"
import { Compression } from "../compression/Compression.ts"
import { paceBytes, UploadLimit } from "../stream/pace.ts"
import { Encryption } from "../encryption/Encryption.ts"
import { type Destination, MoreDestinations, Storage } from "../storage/Storage.ts"
import type { BackupResult } from "../domain/Outcome.ts"
import { countBytes, limitBytes } from "../stream/bytes.ts"
import { reclaimEvery } from "../stream/memory.ts"
import { printableLine } from "../text/printable.ts"
import { backupId, fileExtensionProblem, nameProblem } from "../domain/names.ts"

/**
 * The host name that goes into backup IDs; os.hostname() unless provided.
 * Letters, digits, `.` and `-` only: `_` separates the ID's parts.
 */
export const Hostname = Context.Reference<string>("ubackup/Hostname", {
  defaultValue: () => os.hostname().replace(/[^A-Za-z0-9.-]/g, "-").replace(/^[.-]+/, "") || "host"
})

const isHostname = (name: string) => /^[A-Za-z0-9][A-Za-z0-9.-]{0,199}$/.test(name) && !name.includes("..")

export class InvalidBackupName extends Schema.TaggedError<InvalidBackupName>()("InvalidBackupName", {
  detail: Schema.String
}) {
  override get message() {
    return this.detail
  }
}

/** A snapshot that produced no bytes is a failed backup, not an empty one. */
export class EmptySnapshot extends Schema.TaggedError<EmptySnapshot>()("EmptySnapshot", {
  service: Schema.String,
  source: Schema.String
}) {
  override get message() {
    return `${this.source} produced no data: nothing was stored for ${this.service}`
  }
}

/**
 * A backup stored on some of the config's destinations and not on others:
 * the target failed (it is not where it was asked to be), and the message
 * says where it is and why the rest failed.
 */
export class DestinationsFailed extends Schema.TaggedError<DestinationsFailed>()("DestinationsFailed", {
  service: Schema.String,
  stored: Schema.Array(Schema.Struct({ destination: Schema.String, id: Schema.String })),
  failed: Schema.Array(Schema.Struct({ destination: Schema.String, error: Schema.String }))
}) {
  override get message() {
    const stored = this.stored.map((copy) => `${copy.destination} (${copy.id})`).join(", ")
    const failed = this.failed.map((failure) => `${failure.destination}: ${failure.error}`).join("; ")
    return `${this.service}: stored on ${stored}, but not on ${failed}`
  }
}

/** A snapshot that grew past its limit (config `max_backup_bytes`, label `ubackup.max_backup_bytes`): nothing is stored. */
export class BackupTooLarge extends Schema.TaggedError<BackupTooLarge>()("BackupTooLarge", {
  service: Schema.String,
  source: Schema.String,
  maxBytes: Schema.Number
}) {
  override get message() {
    return `${this.source} produced more than ${this.maxBytes} bytes (max_backup_bytes): stopped, nothing was stored for ${this.service}`
  }
}

export interface BackupRequest<E> {
  readonly service: string
  readonly taskId: string
  /** What the stream holds, e.g. `.sql`; empty for none. */
  readonly fileExtension: string
  /** Where the bytes come from, for messages: `stdin`, `docker exec db1 pg_dump …`. */
  readonly sourceName: string
  readonly snapshot: Stream.Stream<Uint8Array, E>
  /** Fail the backup, storing nothing, once the snapshot has produced more bytes than this. */
  readonly maxBytes?: number | undefined
}

/**
 * The same bytes into every destination as they stream: one broadcast, a
 * few chunks of lag at most (the slowest destination holds the others
 * back), no temporary file. A destination that fails drops out and the
 * others go on and publish. All stored: their results, in order. None:
 * the first one's failure (the snapshot's own error, when the source
 * failed, as every destination saw it). Some: DestinationsFailed.
 */
const putEverywhere = <E>(service: string, id: string, body: Stream.Stream<Uint8Array, E>, destinations: ReadonlyArray<Destination>) =>
  Effect.scoped(Effect.gen(function*() {
    const streams = (yield* body.pipe(Stream.broadcastN({ n: destinations.length, capacity: 4 }))) as unknown as ReadonlyArray<Stream.Stream<Uint8Array, E>>
    const results = yield* Effect.forEach(destinations, (destination, index) =>
      Effect.result(destination.storage.put(id, streams[index]!)).pipe(Effect.map((result) => ({ name: destination.name, result }))), { concurrency: "unbounded" })
    const stored = results.flatMap(({ name, result }) => (result._tag === "Success" ? [{ name, stored: result.success }] : []))
    const failed = results.flatMap(({ name, result }) => (result._tag === "Failure" ? [{ name, failure: result.failure }] : []))
    if (failed.length === 0) return stored
    if (stored.length === 0) return yield* Effect.fail(failed[0]!.failure)
    return yield* new DestinationsFailed({
      service,
      stored: stored.map(({ name, stored }) => ({ destination: name, id: stored.id })),
      failed: failed.map(({ name, failure }) => ({ destination: name, error: failure instanceof Error ? failure.message : String(failure) }))
    })
  }))

export const backupOne = <E>(request: BackupRequest<E>) =>
  Effect.gen(function*() {
    const problem = nameProblem("service name", request.service) ??
      nameProblem("task ID", request.taskId) ??
      fileExtensionProblem(request.fileExtension)
    if (problem !== undefined) return yield* new InvalidBackupName({ detail: problem })
    const compression = yield* Compression
    const encryption = yield* Encryption
    const storage = yield* Storage
    const hostname = yield* Hostname
    if (!isHostname(hostname)) {
      return yield* new InvalidBackupName({ detail: `host name ${JSON.stringify(printableLine(hostname))} is not allowed: use letters, digits, . and -` })
    }
    const started = yield* Clock.currentTimeMillis
    const id = backupId({
      service: request.service,
      taskId: request.taskId,
      hostname,
      time: new Date(started),
      fileExtension: request.fileExtension,
      compressionExtension: compression.extension,
      encryptionExtension: encryption.extension
    })
    let bytesIn = 0
    const reclaim = reclaimEvery()
    const { maxBytes } = request
    const snapshot = request.snapshot.pipe(
      countBytes((bytes) => {
        bytesIn += bytes
        reclaim(bytes)
      }),
      // checked as the bytes arrive, before they go on to be stored
      (stream) => maxBytes === undefined ? stream : stream.pipe(limitBytes(maxBytes, () =>
        new BackupTooLarge({ service: request.service, source: request.sourceName, maxBytes })
      )),
      // checked before the stages downstream may finish their output
      Stream.concat(Stream.fromEffectDrain(Effect.suspend(() =>
        bytesIn === 0 ? Effect.fail(new EmptySnapshot({ service: request.service, source: request.sourceName })) : Effect.void
      )))
    )
    const limit = yield* UploadLimit
    const encrypted = snapshot.pipe(compression.compress, encryption.encrypt)
    const body = limit === undefined ? encrypted : encrypted.pipe(paceBytes(limit))
    const { primary, more } = yield* MoreDestinations
    if (more.length === 0) {
      const stored = yield* storage.put(id, body)
      const result: BackupResult = { ...stored, bytesIn, durationMs: (yield* Clock.currentTimeMillis) - started }
      return result
    }
    const copies = yield* putEverywhere(request.service, id, body, [{ name: primary, storage }, ...more])
    const result: BackupResult = {
      ...copies[0]!.stored,
      bytesIn,
      durationMs: (yield* Clock.currentTimeMillis) - started,
      copies: copies.map(({ name, stored }) => ({ destination: name, id: stored.id, size: stored.size }))
    }
    return result
  }).pipe(Effect.withSpan("backupOne", { attributes: { service: request.service } }))
