/**
 * The config file: µbackup's keys, all snake_case, plus ubackup's own. The
 * decoded value uses camelCase and holds secrets as `Redacted`. Each stage
 * owns the schema of its own section (storage/config.ts, alert/config.ts,
 * discovery/config.ts); this file composes them.
 */
import { Effect, Schema } from "effect"
import { AlertmanagerConfig, AlertSinksConfig } from "../alert/config.ts"
import { CompressionAlgorithm } from "../compression/Compression.ts"
import { ContainerFilterConfig, StaticTargetConfig } from "../discovery/config.ts"
import { isCron, isTimeZone } from "../domain/cron.ts"
import { DurationText } from "../domain/duration.ts"
import { RateText, SizeText } from "../domain/size.ts"
import { RetentionConfig } from "../retention/config.ts"
import { StorageConfig } from "../storage/config.ts"

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
  staticTargets: Schema.Array(StaticTargetConfig).pipe(Schema.withDecodingDefaultTypeKey(Effect.succeed([]))),
  /** Targets backed up at once by `now` and the scheduler. */
  concurrency: Schema.Int.check(Schema.isBetween({ minimum: 1, maximum: 64 })).pipe(
    Schema.withDecodingDefaultTypeKey(Effect.succeed(1))
  ),
  /** Ends a target that runs longer (label `ubackup.timeout` can only shorten it); none by default. */
  targetTimeout: Schema.optionalKey(DurationText),
  /** Fails a target whose stream grows past this, storing nothing (label `ubackup.max_backup_bytes` can only lower it); none by default. */
  maxBackupBytes: Schema.optionalKey(SizeText),
  /** Uploads (the stream into storage) go at most this fast: `20MiB/s`; unlimited by default (`--limit-upload` overrides it). */
  bandwidthLimit: Schema.optionalKey(RateText),
  /** Limits which containers may declare backups (see ContainerFilterConfig). */
  containerFilter: Schema.optionalKey(ContainerFilterConfig),
  /** What killed backups left (temporary files, open multipart uploads) is removed once quiet this long; default 24h. */
  abortIncompleteUploadsAfter: DurationText.pipe(Schema.withDecodingDefaultTypeKey(Effect.succeed("24h"))),
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
  /**
   * The local state file of what this host stored (history/BackupHistory.ts); relative to the config
   * file. Default: `history.json` in $UBACKUP_STATE_DIR (the image's /var/lib/ubackup), else beside the config.
   */
  historyFile: Schema.optionalKey(Schema.NonEmptyString),
  /** Warn when a backup is below `ratio` of the median of the service's last `window` ones; ratio 0 turns it off. */
  sizeDrop: Schema.optionalKey(Schema.Struct({
    ratio: Schema.Number.check(Schema.isBetween({ minimum: 0, maximum: 1 })).pipe(Schema.withDecodingDefaultTypeKey(Effect.succeed(0.5))),
    window: Schema.Int.check(Schema.isBetween({ minimum: 1, maximum: 30 })).pipe(Schema.withDecodingDefaultTypeKey(Effect.succeed(7)))
  })),
  /** `ubackup drill`: check commands per service (those services are drilled even with no backups left), the stale threshold. */
  drill: Schema.optionalKey(Schema.Struct({
    checks: Schema.optionalKey(Schema.Record(Schema.String, Schema.NonEmptyArray(Schema.NonEmptyString))),
    staleAfter: DurationText.pipe(Schema.withDecodingDefaultTypeKey(Effect.succeed("26h")))
  }).pipe(Schema.encodeKeys({ staleAfter: "stale_after" }))),
  /** Which backups `storage prune` (and, with prune_after_run, the scheduler) keeps; nothing is deleted without it. */
  retention: Schema.optionalKey(RetentionConfig),
  /** `now`: also write the metrics, atomically, to this node_exporter textfile (`…/ubackup.prom`). */
  metricsTextfile: Schema.optionalKey(Schema.String.check(Schema.makeFilter((file: string) => file.endsWith(".prom") || "Expected a path ending in .prom")))
}).pipe(Schema.encodeKeys({
  encryptionPublicKey: "encryption_publickey",
  encryptionRecipients: "encryption_recipients",
  dockerEndpoint: "docker_endpoint",
  staticTargets: "static_targets",
  targetTimeout: "target_timeout",
  maxBackupBytes: "max_backup_bytes",
  bandwidthLimit: "bandwidth_limit",
  containerFilter: "container_filter",
  abortIncompleteUploadsAfter: "abort_incomplete_uploads_after",
  scheduleTimezone: "schedule_timezone",
  metricsListen: "metrics_listen",
  metricsTextfile: "metrics_textfile",
  historyFile: "history_file",
  sizeDrop: "size_drop"
}))

export type Config = typeof Config.Type
export type ConfigJson = typeof Config.Encoded
