/**
 * The config file: µbackup's keys, all snake_case, plus ubackup's own. The
 * decoded value uses camelCase and holds secrets as `Redacted`.
 */
import { Effect, Schema } from "effect"
import { CompressionAlgorithm } from "../compression/Compression.ts"
import { isFileExtension, isSafeName } from "../pipeline/names.ts"
import { parseDuration } from "./duration.ts"

const NonEmpty = Schema.String.check(Schema.isNonEmpty())

const ServiceName = Schema.String.check(
  Schema.makeFilter((name: string) => isSafeName(name) || "Expected a name without /, .., control characters or spaces at the ends")
)

const FileExtension = Schema.String.check(
  Schema.makeFilter((ext: string) => isFileExtension(ext) || "Expected an extension such as .sql")
)

export const LocalStorageConfig = Schema.Struct({ path: NonEmpty })

export const S3StorageConfig = Schema.Struct({
  bucket: NonEmpty,
  bucketRegion: Schema.optionalKey(NonEmpty),
  accessKeyId: Schema.optionalKey(NonEmpty),
  accessKeySecret: Schema.optionalKey(Schema.RedactedFromValue(NonEmpty)),
  endpoint: Schema.optionalKey(
    Schema.String.check(Schema.makeFilter((url: string) => /^https?:\/\/[^\s/]+/.test(url) || "Expected an http:// or https:// URL"))
  ),
  forcePathStyle: Schema.optionalKey(Schema.Boolean),
  /** Multipart part size: S3 allows 10,000 parts, so the default 8 MiB caps one backup at ~78 GiB. */
  partSizeMb: Schema.optionalKey(Schema.Int.check(Schema.isBetween({ minimum: 5, maximum: 5120 })))
}).pipe(Schema.encodeKeys({
  bucketRegion: "bucket_region",
  accessKeyId: "access_key_id",
  accessKeySecret: "access_key_secret",
  forcePathStyle: "force_path_style",
  partSizeMb: "part_size_mb"
}))

export const StorageConfig = Schema.Struct({
  local: Schema.optionalKey(LocalStorageConfig),
  s3: Schema.optionalKey(S3StorageConfig)
})

export const StaticTarget = Schema.Struct({
  serviceName: ServiceName,
  backupCommand: Schema.NonEmptyArray(Schema.String),
  fileExtension: Schema.optionalKey(FileExtension)
}).pipe(Schema.encodeKeys({
  serviceName: "service_name",
  backupCommand: "backup_command",
  fileExtension: "file_extension"
}))

const Duration = Schema.String.check(
  Schema.makeFilter((text: string) => parseDuration(text) !== undefined || "Expected a duration such as 90s, 5m or 1h30m")
)

export const AlertmanagerConfig = Schema.Struct({
  baseurl: Schema.String.check(Schema.makeFilter((url: string) => /^https?:\/\/\S+$/.test(url) || "Expected an http:// or https:// URL"))
})

export const Config = Schema.Struct({
  encryptionPublicKey: Schema.optionalKey(Schema.String),
  encryptionRecipients: Schema.optionalKey(Schema.Array(Schema.String)),
  compression: CompressionAlgorithm.pipe(Schema.withDecodingDefaultTypeKey(Effect.succeed("zstd" as const))),
  storage: StorageConfig,
  dockerEndpoint: Schema.optionalKey(
    Schema.String.check(Schema.makeFilter((url: string) => /^(unix|tcp|http|https|npipe):\/\/.+/.test(url) || "Expected unix:///path/to/docker.sock or tcp://host:port"))
  ),
  staticTargets: Schema.Array(StaticTarget).pipe(Schema.withDecodingDefaultTypeKey(Effect.succeed([]))),
  /** Targets backed up at once by `now` and the scheduler. */
  concurrency: Schema.Int.check(Schema.isBetween({ minimum: 1, maximum: 64 })).pipe(
    Schema.withDecodingDefaultTypeKey(Effect.succeed(1))
  ),
  /** Ends a target that runs longer (label `ubackup.timeout` overrides it); none by default. */
  targetTimeout: Schema.optionalKey(Duration),
  alertmanager: Schema.optionalKey(AlertmanagerConfig)
}).pipe(Schema.encodeKeys({
  encryptionPublicKey: "encryption_publickey",
  encryptionRecipients: "encryption_recipients",
  dockerEndpoint: "docker_endpoint",
  staticTargets: "static_targets",
  targetTimeout: "target_timeout"
}))

export type Config = typeof Config.Type
export type ConfigJson = typeof Config.Encoded
export type StaticTarget = typeof StaticTarget.Type
export type S3StorageConfig = typeof S3StorageConfig.Type
