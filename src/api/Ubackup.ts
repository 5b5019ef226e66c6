/**
 * ubackup as one Effect service, for apps that back up streams they make
 * themselves (a database snapshot taken in-process, an export) and list,
 * fetch and restore backups in their own UI, as Varasto used µbackup:
 *
 *   import { Ubackup } from "ubackup"   // this module, as a namespace (Effect's own style)
 *
 *   const program = Effect.gen(function*() {
 *     const ubackup = yield* Ubackup.Ubackup
 *     const { id } = yield* ubackup.backupStream({ service: "app", taskId: "1", fileExtension: ".json", stream })
 *     return yield* Stream.mkUint8Array(ubackup.restore(id, identityText))
 *   }).pipe(Effect.provide(Ubackup.layerConfig(configJson)))
 *
 * It runs in the caller's own runtime: their logger, tracer and Clock.
 * `layer` builds it from the three stage services (so a test can give it
 * in-memory ones), `layerConfig` from the same JSON config the CLI reads.
 */
import { Context, Effect, Layer, Schema, Stream } from "effect"
import { Compression, type CompressionError } from "../compression/Compression.ts"
import type { DecompressionError } from "../compression/decompress.ts"
import type { ConfigError } from "../config/errors.ts"
import { layerPipeline } from "../config/layers.ts"
import { configFromValue } from "../config/load.ts"
import type { BackupResult, StoredBackup } from "../domain/Outcome.ts"
import { Encryption } from "../encryption/Encryption.ts"
import type { DecryptError, KeyError } from "../encryption/errors.ts"
import { type DecryptionKeys, parseDecryptionKeys } from "../encryption/keys.ts"
import { backupOne, type BackupTooLarge, type DestinationsFailed, type EmptySnapshot, Hostname, type InvalidBackupName } from "../pipeline/backup.ts"
import { Storage, type StorageError } from "../storage/Storage.ts"
import { plaintext } from "./plaintext.ts"

export interface BackupStreamRequest<E> {
  readonly service: string
  readonly taskId: string
  /** What the stream holds, e.g. `.sql`, `.tar`; none by default. */
  readonly fileExtension?: string | undefined
  readonly stream: Stream.Stream<Uint8Array, E>
  /** For messages (`produced no data`); "stream" by default. */
  readonly sourceName?: string | undefined
  /** Fail the backup, storing nothing, once the stream has produced more bytes than this. */
  readonly maxBytes?: number | undefined
}

/** Why a backup failed (besides the stream's own error): nothing was stored. */
export type BackupError = InvalidBackupName | EmptySnapshot | BackupTooLarge | CompressionError | StorageError | DestinationsFailed

/** Why a restore failed; the plaintext emitted before it is authenticated (a prefix of the original). */
export type RestoreError = StorageError | KeyError | DecryptError | DecompressionError

/** A stream handed to the library failed: nothing was stored. */
export class SourceError extends Schema.TaggedError<SourceError>()("SourceError", {
  source: Schema.String,
  detail: Schema.String
}) {
  override get message() {
    return `${this.source} failed: ${this.detail}`
  }
}

export class Ubackup extends Context.Service<Ubackup, {
  /** Where backups go, for logs: `local /var/backups`, `s3://bucket`. No secrets. */
  readonly location: string
  /** Compresses, encrypts and stores the stream; published only if the stream ends cleanly. */
  readonly backupStream: <E>(request: BackupStreamRequest<E>) => Effect.Effect<BackupResult, E | BackupError>
  /** A service's backups, oldest first. */
  readonly list: (service: string) => Effect.Effect<ReadonlyArray<StoredBackup>, StorageError>
  /** Every service that has backups, sorted. */
  readonly listServices: Effect.Effect<ReadonlyArray<string>, StorageError>
  /** The stored bytes: still encrypted, as `storage get` writes them. */
  readonly get: (id: string) => Stream.Stream<Uint8Array, StorageError>
  /** The plaintext: fetched, decrypted with the identity (text of a key file, or parsed keys) and decompressed. */
  readonly restore: (id: string, identity: string | DecryptionKeys) => Stream.Stream<Uint8Array, RestoreError>
}>()("ubackup/Ubackup") {}

/** The service over the stage services in context; the host name in IDs is the `Hostname` reference's. */
export const make: Effect.Effect<Ubackup["Service"], never, Compression | Encryption | Storage> = Effect.gen(function*() {
  const compression = yield* Compression
  const encryption = yield* Encryption
  const storage = yield* Storage
  const hostname = yield* Hostname
  const keysOf = (identity: string | DecryptionKeys) =>
    typeof identity === "string" ? parseDecryptionKeys(identity, "identity") : Effect.succeed(identity)
  return Ubackup.of({
    location: storage.location,
    backupStream: (request) =>
      backupOne({
        service: request.service,
        taskId: request.taskId,
        fileExtension: request.fileExtension ?? "",
        sourceName: request.sourceName ?? "stream",
        snapshot: request.stream,
        maxBytes: request.maxBytes
      }).pipe(
        Effect.provideService(Compression, compression),
        Effect.provideService(Encryption, encryption),
        Effect.provideService(Storage, storage),
        Effect.provideService(Hostname, hostname)
      ),
    list: storage.list,
    listServices: storage.listServices,
    get: storage.get,
    restore: (id, identity) =>
      Stream.unwrap(Effect.map(keysOf(identity), (keys) => storage.get(id).pipe(plaintext(keys))))
  })
})

/** From the stage services: give it in-memory or fake ones in tests. */
export const layer: Layer.Layer<Ubackup, never, Compression | Encryption | Storage> = Layer.effect(Ubackup, make)

export interface ConfigOptions {
  /** Names the config in errors; "config" by default. */
  readonly name?: string | undefined
  /** Where a relative `storage.local.path` resolves; the working directory by default. */
  readonly baseDirectory?: string | undefined
}

/**
 * From a config value: the JSON object the CLI reads from config.json
 * (`storage`, `encryption_recipients`, `compression`, …), checked as the CLI
 * checks it. Fails with a `ConfigError` naming each bad field, or a
 * `KeyError` for a bad recipient. The AWS SDK is loaded only for S3.
 */
export const layerConfig = (config: unknown, options: ConfigOptions = {}): Layer.Layer<Ubackup, ConfigError | KeyError> =>
  Layer.unwrap(Effect.map(configFromValue(config, options), (loaded) => layer.pipe(Layer.provide(layerPipeline(loaded)))))
