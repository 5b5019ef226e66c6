/**
 * The live pipeline layers a config describes: compression, encryption and
 * storage. The AWS SDK is loaded only when the config names S3, which keeps
 * every other verb's start-up fast.
 */
import { Effect, Layer } from "effect"
import * as path from "node:path"
import { parseDuration } from "../domain/duration.ts"
import { parseRate } from "../domain/size.ts"
import { UploadLimit } from "../stream/pace.ts"
import { Compression, makeCompression } from "../compression/Compression.ts"
import { Encryption, makeEncryption } from "../encryption/Encryption.ts"
import type { KeyError } from "../encryption/errors.ts"
import { parseRecipient } from "../encryption/keys.ts"
import { layerLocal } from "../storage/local.ts"
import type { Storage } from "../storage/Storage.ts"
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

export const layerStorage = ({ config, source }: LoadedConfig): Layer.Layer<Storage> => {
  const { local, s3 } = config.storage
  if (s3 !== undefined) {
    return Layer.unwrap(
      Effect.promise(() => import("../storage/s3.ts")).pipe(
        Effect.map(({ layerS3 }) =>
          layerS3({
            bucket: s3.bucket,
            region: s3.bucketRegion,
            accessKeyId: s3.accessKeyId,
            secretAccessKey: s3.accessKeySecret,
            endpoint: s3.endpoint,
            forcePathStyle: s3.forcePathStyle,
            partSize: s3.partSizeMb === undefined ? undefined : s3.partSizeMb * 1024 * 1024,
            acl: s3.acl,
            requestTimeoutMs: s3.requestTimeout === undefined ? undefined : parseDuration(s3.requestTimeout),
            storageClass: s3.storageClass,
            objectLock: s3.objectLock === undefined
              ? undefined
              : { mode: s3.objectLock.mode === "governance" ? "GOVERNANCE" : "COMPLIANCE", days: s3.objectLock.days }
          })
        )
      )
    )
  }
  // the config check guarantees one kind; a relative path is relative to the config file
  return layerLocal(path.resolve(source.baseDirectory, local!.path))
}

/** The config's bandwidth_limit for `backupOne` (none: unlimited). */
export const layerUploadLimit = ({ config }: LoadedConfig): Layer.Layer<never> =>
  config.bandwidthLimit === undefined ? Layer.empty : Layer.succeed(UploadLimit, parseRate(config.bandwidthLimit))

/** Everything `backupOne` needs, from the config. */
export const layerPipeline = (loaded: LoadedConfig) =>
  Layer.mergeAll(layerCompression(loaded), layerEncryption(loaded), layerStorage(loaded), layerUploadLimit(loaded))
