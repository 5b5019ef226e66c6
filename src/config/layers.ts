/**
 * The live pipeline layers a config describes: compression, encryption and
 * storage (its first destination as `Storage`, the others as
 * `MoreDestinations`). The AWS SDK is loaded only when the config names S3, which keeps
 * every other verb's start-up fast.
 */
import { Effect, Layer, Schema, type Scope } from "effect"
import * as path from "node:path"
import { parseDuration } from "../domain/duration.ts"
import { parseRate } from "../domain/size.ts"
import { UploadLimit } from "../stream/pace.ts"
import { Compression, makeCompression } from "../compression/Compression.ts"
import { Encryption, makeEncryption } from "../encryption/Encryption.ts"
import type { KeyError } from "../encryption/errors.ts"
import { parseRecipient } from "../encryption/keys.ts"
import { type ConfiguredDestination, destinationsOf } from "../storage/config.ts"
import { makeLocalStorage } from "../storage/local.ts"
import { MoreDestinations, Storage } from "../storage/Storage.ts"
import type { LoadedConfig } from "./load.ts"

export const layerEncryption = ({ config, source: { name } }: LoadedConfig): Layer.Layer<Encryption, KeyError> =>
  Layer.effect(
    Encryption,
    Effect.gen(function*() {
      // named as config errors are: which config (file or UBACKUP_CONF), then the field
      const sources: Array<readonly [string, string]> = []
      if (config.encryptionPublicKey?.trim()) sources.push([`${name}: encryption_publickey`, config.encryptionPublicKey])
      config.encryptionRecipients?.forEach((text, i) => sources.push([`${name}: encryption_recipients[${i}]`, text]))
      const recipients = yield* Effect.forEach(sources, ([source, text]) => parseRecipient(text, source))
      return makeEncryption(recipients)
    })
  )

export const layerCompression = ({ config }: LoadedConfig): Layer.Layer<Compression> =>
  Layer.succeed(Compression, makeCompression({ algorithm: config.compression }))

/** `--from NAME` named no destination of the config's `storage`. */
export class UnknownDestination extends Schema.TaggedError<UnknownDestination>()("UnknownDestination", {
  name: Schema.String,
  known: Schema.Array(Schema.String)
}) {
  override get message() {
    return `--from: the config's storage has no destination "${this.name}" (it has: ${this.known.join(", ")})`
  }
}

/** The destination named `from`, or the first. */
const pick = (loaded: LoadedConfig, from: string | undefined): Effect.Effect<ConfiguredDestination, UnknownDestination> => {
  const destinations = destinationsOf(loaded.config.storage)
  const found = from === undefined ? destinations[0] : destinations.find((destination) => destination.name === from)
  return found === undefined
    ? Effect.fail(new UnknownDestination({ name: from ?? "", known: destinations.map((destination) => destination.name) }))
    : Effect.succeed(found)
}

/** One destination's Storage; an S3 client lives as long as the scope. */
const storageOf = (loaded: LoadedConfig, destination: ConfiguredDestination): Effect.Effect<Storage["Service"], never, Scope.Scope> => {
  const { local, s3 } = destination.storage
  if (s3 === undefined) {
    // the config check guarantees one kind; a relative path is relative to the config file
    return Effect.succeed(makeLocalStorage(path.resolve(loaded.source.baseDirectory, local!.path)))
  }
  return Effect.gen(function*() {
    const { scopedS3Storage } = yield* Effect.promise(() => import("../storage/s3.ts"))
    return yield* scopedS3Storage({
      bucket: s3.bucket,
      region: s3.bucketRegion,
      accessKeyId: s3.accessKeyId,
      secretAccessKey: s3.accessKeySecret,
      endpoint: s3.endpoint,
      forcePathStyle: s3.forcePathStyle,
      partSize: s3.partSizeMb === undefined ? undefined : s3.partSizeMb * 1024 * 1024,
      partsInFlight: s3.partsInFlight,
      acl: s3.acl,
      requestTimeoutMs: s3.requestTimeout === undefined ? undefined : parseDuration(s3.requestTimeout),
      storageClass: s3.storageClass,
      objectLock: s3.objectLock === undefined
        ? undefined
        : { mode: s3.objectLock.mode === "governance" ? "GOVERNANCE" : "COMPLIANCE", days: s3.objectLock.days }
    })
  })
}

/** The storage of the first destination (the only one, for a single `storage`). */
export const layerStorage = (loaded: LoadedConfig): Layer.Layer<Storage> =>
  Layer.effect(Storage, storageOf(loaded, destinationsOf(loaded.config.storage)[0]!))

/** The storage of the destination `from` names (`--from`), else of the first. */
export const layerStorageFrom = (loaded: LoadedConfig, from: string | undefined): Layer.Layer<Storage, UnknownDestination> =>
  Layer.effect(Storage, Effect.flatMap(pick(loaded, from), (destination) => storageOf(loaded, destination)))

/** Every destination after the first, where `backupOne` writes each backup too. */
export const layerMoreDestinations = (loaded: LoadedConfig): Layer.Layer<never> => {
  const [first, ...rest] = destinationsOf(loaded.config.storage)
  if (rest.length === 0) return Layer.empty
  return Layer.effect(
    MoreDestinations,
    Effect.map(
      Effect.forEach(rest, (destination) => Effect.map(storageOf(loaded, destination), (storage) => ({ name: destination.name, storage }))),
      (more) => ({ primary: first!.name, more })
    )
  )
}

/** The config's bandwidth_limit for `backupOne` (none: unlimited). */
export const layerUploadLimit = ({ config }: LoadedConfig): Layer.Layer<never> =>
  config.bandwidthLimit === undefined ? Layer.empty : Layer.succeed(UploadLimit, parseRate(config.bandwidthLimit))

/** Everything `backupOne` needs, from the config. */
export const layerPipeline = (loaded: LoadedConfig) =>
  Layer.mergeAll(layerCompression(loaded), layerEncryption(loaded), layerStorage(loaded), layerMoreDestinations(loaded), layerUploadLimit(loaded))
