/**
 * The config file: µbackup's keys, all snake_case, plus ubackup's own. The
 * decoded value uses camelCase and holds secrets as `Redacted`.
 */
import { Effect, Schema } from "effect"
import { CompressionAlgorithm } from "../compression/Compression.ts"
import { isFileExtension, isSafeName } from "../pipeline/names.ts"
import { parseDuration } from "./duration.ts"
import { parseSize } from "./size.ts"
import { isTtlSpec } from "../alert/ttl.ts"
import { isCron, isTimeZone } from "../scheduler/cron.ts"

const NonEmpty = Schema.String.check(Schema.isNonEmpty())

const ServiceName = Schema.String.check(
  Schema.makeFilter((name: string) => isSafeName(name) || "Expected a name without /, .., control characters or spaces at the ends")
)

const FileExtension = Schema.String.check(
  Schema.makeFilter((ext: string) => isFileExtension(ext) || "Expected an extension such as .sql")
)

const Duration = Schema.String.check(
  Schema.makeFilter((text: string) => parseDuration(text) !== undefined || "Expected a duration such as 90s, 5m or 1h30m")
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
  partSizeMb: Schema.optionalKey(Schema.Int.check(Schema.isBetween({ minimum: 5, maximum: 5120 }))),
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
  requestTimeout: Schema.optionalKey(Duration)
}).pipe(Schema.encodeKeys({
  bucketRegion: "bucket_region",
  accessKeyId: "access_key_id",
  accessKeySecret: "access_key_secret",
  forcePathStyle: "force_path_style",
  partSizeMb: "part_size_mb",
  requestTimeout: "request_timeout"
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

/** Bytes, or a size such as `500MB` or `10GiB`. */
export const Size = Schema.Union([Schema.Number, Schema.String]).check(
  Schema.makeFilter((value: number | string) => parseSize(value) !== undefined || "Expected a number of bytes or a size such as 500MB or 10GiB")
)

/** Which containers may declare backups; a container that does not match is not backed up (nor reported as failed). */
export const ContainerFilter = Schema.Struct({
  /** Labels the container must carry, each with exactly this value. */
  labels: Schema.optionalKey(Schema.Record(Schema.String, Schema.String)),
  /** Container-name patterns (`*` any characters, `?` one); the name must match one of them. */
  names: Schema.optionalKey(Schema.NonEmptyArray(NonEmpty))
})

const HttpUrl = Schema.String.check(Schema.makeFilter((url: string) => /^https?:\/\/\S+$/.test(url) || "Expected an http:// or https:// URL"))

/** A URL that carries a secret (a token, a check's UUID, an API Gateway ID): never printed. */
const SecretUrl = Schema.RedactedFromValue(HttpUrl)

/** lambda-alertmanager, as µbackup spoke to it. `baseurl` is itself the secret, so it is redacted. */
export const AlertmanagerConfig = Schema.Struct({
  baseurl: SecretUrl,
  /** The dead man's switch deadline, in lambda-alertmanager's grammar (`+25h`, `+1d@02:00`, RFC 3339). */
  deadmansswitchTtl: Schema.optionalKey(Schema.String.check(
    Schema.makeFilter((spec: string) => isTtlSpec(spec) || "Expected a ttl such as +25h, +1d@02:00 or an RFC 3339 time")
  ))
}).pipe(Schema.encodeKeys({ deadmansswitchTtl: "deadmansswitch_ttl" }))

export const AlertSinksConfig = Schema.Struct({
  /** Prometheus Alertmanager v2: a failed target fires an alert, its next success resolves it. */
  prometheusAlertmanager: Schema.optionalKey(Schema.Struct({
    url: HttpUrl,
    /** Extra labels on every alert, e.g. `{"team": "ops"}`. */
    labels: Schema.optionalKey(Schema.Record(Schema.String, Schema.String).check(Schema.makeFilter((labels: Record<string, string>) => {
      // Alertmanager refuses other label names with a 400, at the first failure
      const bad = Object.keys(labels).find((name) => !/^[a-zA-Z_][a-zA-Z0-9_]*$/.test(name))
      return bad === undefined || `"${bad}" is not a Prometheus label name ([a-zA-Z_][a-zA-Z0-9_]*)`
    })))
  })),
  /** A Healthchecks check's ping URL: start, then success or fail with a log tail. */
  healthchecks: Schema.optionalKey(Schema.Struct({ url: SecretUrl })),
  /** An ntfy topic URL (`https://ntfy.sh/mytopic`); a message per failed target. */
  ntfy: Schema.optionalKey(Schema.Struct({
    url: HttpUrl,
    token: Schema.optionalKey(Schema.RedactedFromValue(Schema.String.check(Schema.isNonEmpty())))
  })),
  /** An Uptime Kuma push monitor URL (`https://kuma/api/push/<token>`): up or down after each run. */
  uptimeKuma: Schema.optionalKey(Schema.Struct({ pushUrl: SecretUrl }).pipe(Schema.encodeKeys({ pushUrl: "push_url" }))),
  /** JSON webhooks: backup_failed, backup_stored and run_finished events. */
  webhooks: Schema.optionalKey(Schema.Array(Schema.Struct({
    url: SecretUrl,
    headers: Schema.optionalKey(Schema.Record(Schema.String, Schema.RedactedFromValue(Schema.String)))
  })))
}).pipe(Schema.encodeKeys({ prometheusAlertmanager: "prometheus_alertmanager", uptimeKuma: "uptime_kuma" }))

const Listen = Schema.String.check(
  Schema.makeFilter((text: string) =>
    (/^(\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]*):\d{1,5}$/.test(text) && Number(text.slice(text.lastIndexOf(":") + 1)) <= 65535) ||
    "Expected host:port, e.g. 127.0.0.1:9876"
  )
)

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
  /** Ends a target that runs longer (label `ubackup.timeout` can only shorten it); none by default. */
  targetTimeout: Schema.optionalKey(Duration),
  /** Fails a target whose stream grows past this, storing nothing (label `ubackup.max_backup_bytes` can only lower it); none by default. */
  maxBackupBytes: Schema.optionalKey(Size),
  /** Limits which containers may declare backups (see ContainerFilter). */
  containerFilter: Schema.optionalKey(ContainerFilter),
  /** What killed backups left (temporary files, open multipart uploads) is removed once quiet this long; default 24h. */
  abortIncompleteUploadsAfter: Duration.pipe(Schema.withDecodingDefaultTypeKey(Effect.succeed("24h"))),
  alertmanager: Schema.optionalKey(AlertmanagerConfig),
  alerts: Schema.optionalKey(AlertSinksConfig),
  /** When the scheduler runs: 5-field cron, default daily at 01:00 (label `ubackup.schedule` per container). */
  schedule: Schema.String.check(Schema.makeFilter((text: string) => isCron(text) || "Expected a 5-field cron expression such as 0 1 * * *")).pipe(
    Schema.withDecodingDefaultTypeKey(Effect.succeed("0 1 * * *"))
  ),
  /** The time zone `schedule` is in (IANA name); default UTC. */
  scheduleTimezone: Schema.String.check(Schema.makeFilter((zone: string) => isTimeZone(zone) || "Expected an IANA time zone such as Europe/Helsinki")).pipe(
    Schema.withDecodingDefaultTypeKey(Effect.succeed("UTC"))
  ),
  /** Scheduler mode: serve Prometheus metrics on host:port. */
  metricsListen: Schema.optionalKey(Listen),
  /** `now`: also write the metrics, atomically, to this node_exporter textfile (`…/ubackup.prom`). */
  metricsTextfile: Schema.optionalKey(Schema.String.check(Schema.makeFilter((file: string) => file.endsWith(".prom") || "Expected a path ending in .prom")))
}).pipe(Schema.encodeKeys({
  encryptionPublicKey: "encryption_publickey",
  encryptionRecipients: "encryption_recipients",
  dockerEndpoint: "docker_endpoint",
  staticTargets: "static_targets",
  targetTimeout: "target_timeout",
  maxBackupBytes: "max_backup_bytes",
  containerFilter: "container_filter",
  abortIncompleteUploadsAfter: "abort_incomplete_uploads_after",
  scheduleTimezone: "schedule_timezone",
  metricsListen: "metrics_listen",
  metricsTextfile: "metrics_textfile"
}))

export type Config = typeof Config.Type
export type ConfigJson = typeof Config.Encoded
export type StaticTarget = typeof StaticTarget.Type
export type S3StorageConfig = typeof S3StorageConfig.Type
