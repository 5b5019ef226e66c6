/** The `storage` section of the config: one local folder or one S3 bucket. */
import { Schema } from "effect"
import { DurationText } from "../domain/duration.ts"

const NonEmpty = Schema.String.check(Schema.isNonEmpty())

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
  partSizeMb: Schema.optionalKey(Schema.Int.check(Schema.isBetween({ minimum: 5, maximum: 5120 }))),
  /** Parts uploaded at once (default 2); memory held is about (parts_in_flight + 2) × part_size_mb. */
  partsInFlight: Schema.optionalKey(Schema.Int.check(Schema.isBetween({ minimum: 1, maximum: 16 }))),
  /** A canned ACL on every upload; `bucket-owner-full-control` lets the bucket's owner read what a put-only user wrote. */
  acl: Schema.optionalKey(Schema.Literals([
    "private",
    "bucket-owner-full-control",
    "bucket-owner-read",
    "authenticated-read",
    "public-read",
    "public-read-write",
    "aws-exec-read"
  ])),
  /** A request with no traffic for this long (a stalled connection) is given up and retried; default 60s. */
  requestTimeout: Schema.optionalKey(DurationText),
  /** The storage class of every upload: STANDARD_IA, GLACIER_IR, … or a store's own; the bucket's default when absent. */
  storageClass: Schema.optionalKey(
    Schema.String.check(Schema.makeFilter((name: string) => /^[A-Z][A-Z0-9_]{0,63}$/.test(name) || "Expected a storage class name such as STANDARD_IA or GLACIER_IR"))
  ),
  /** An Object Lock retention on every upload (the bucket must have Object Lock enabled). */
  objectLock: Schema.optionalKey(Schema.Struct({
    mode: Schema.Literals(["governance", "compliance"]),
    days: Schema.Int.check(Schema.isBetween({ minimum: 1, maximum: 36_500 }))
  }))
}).pipe(Schema.encodeKeys({
  bucketRegion: "bucket_region",
  accessKeyId: "access_key_id",
  accessKeySecret: "access_key_secret",
  forcePathStyle: "force_path_style",
  partSizeMb: "part_size_mb",
  partsInFlight: "parts_in_flight",
  requestTimeout: "request_timeout",
  storageClass: "storage_class",
  objectLock: "object_lock"
}))

const storageKinds = {
  local: Schema.optionalKey(LocalStorageConfig),
  s3: Schema.optionalKey(S3StorageConfig)
}

/** One destination: a local folder or an S3 bucket (exactly one of them: src/config/load.ts checks). */
export const DestinationConfig = Schema.Struct(storageKinds)

/** A destination of a list, named for `--from`, logs, alerts and metrics. */
export const NamedDestinationConfig = Schema.Struct({
  name: Schema.String.check(
    Schema.makeFilter((name: string) => /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/.test(name) || "Expected a name of letters, digits, ., _ and -, such as nas or offsite")
  ),
  ...storageKinds
})

/**
 * `storage`: one destination, or a list of named ones (3-2-1: every backup
 * is written to each, as it streams).
 */
export const StorageConfig = Schema.Union([DestinationConfig, Schema.NonEmptyArray(NamedDestinationConfig)])

export type S3StorageConfig = typeof S3StorageConfig.Type
export type DestinationConfig = typeof DestinationConfig.Type
export type StorageConfig = typeof StorageConfig.Type

/** The name a single (unnamed) destination goes by. */
export const defaultDestinationName = "default"

export interface ConfiguredDestination {
  readonly name: string
  readonly storage: DestinationConfig
  /** Where it sits in the config, for messages: `storage`, `storage[1]`. */
  readonly path: string
}

/** The destinations of a `storage` section, in order; the first is where `storage ls/get/prune` look by default. */
export const destinationsOf = (storage: StorageConfig): ReadonlyArray<ConfiguredDestination> =>
  Array.isArray(storage)
    ? storage.map(({ name, ...kinds }, index) => ({ name, storage: kinds, path: `storage[${index}]` }))
    : [{ name: defaultDestinationName, storage: storage as DestinationConfig, path: "storage" }]
