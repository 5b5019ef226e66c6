/**
 * `ubackup`: everything. `Ubackup` (src/api/Ubackup.ts, as a namespace) is
 * the ready composition: `Ubackup.layerConfig(config)` gives an Effect app
 * `backupStream`, `list`, `get` and `restore` in its own runtime. Below it,
 * each stage is a service with its layers and tagged errors, for apps that
 * compose their own pipeline with `backupOne`, or run backups as `now` does
 * with `layerRun(loaded)` under `runReported`. Plain Promise callers use
 * `openUbackup` (also `ubackup/promise`).
 *
 * Layers follow Effect's naming: `make…` builds a service's value, `layer…`
 * a Layer; inside a stage's module its layer is `layer`, exported here under
 * the service's name (`layerTargets`, `layerSnapshotter`, `layerMetrics`).
 *
 * Unstable until 1.0: names may still move.
 */
export * as Ubackup from "./api/Ubackup.ts"
export { type BackupError, type BackupStreamRequest, type RestoreError, SourceError } from "./api/Ubackup.ts"
export { latestBackup, NoBackups, type Verification, verifyBackup } from "./api/verify.ts"
export { type HostCommandOptions, RestoreCommandFailed, restoreIntoContainer, restoreToHostCommand } from "./api/restoreTo.ts"
export { defaultStaleAfterMs, drill, type DrillOptions, type DrillResult, drillWarning, formatAge, reportDrill } from "./api/drill.ts"
export { type BackupOptions, generateKeyPair, openUbackup, type UbackupClient } from "./api/promise.ts"
export * from "./compression/index.ts"
export * from "./encryption/index.ts"
export { ConfigError, type ConfigIssue } from "./config/errors.ts"
export {
  layerCompression,
  layerEncryption,
  layerMoreDestinations,
  layerPipeline,
  layerStorage,
  layerStorageFrom,
  UnknownDestination
} from "./config/layers.ts"
export { type ConfigSource, configFromValue, findConfig, type LoadedConfig, loadConfig, parseConfig } from "./config/load.ts"
export { Config, type ConfigJson } from "./config/schema.ts"
export { BackupTooLarge, backupOne, type BackupRequest, DestinationsFailed, EmptySnapshot, Hostname, InvalidBackupName } from "./pipeline/backup.ts"
export { backupId, compareBackupIds, isBackupId, isSafeName, parseBackupId, withSequence } from "./domain/names.ts"
export { layerLocal, makeLocalStorage } from "./storage/local.ts"
export { layerMemory, makeMemoryStorage, type MemoryObject } from "./storage/memory.ts"
export {
  type CleanupOptions,
  type CleanupResult,
  type Destination,
  MoreDestinations,
  type RemoveFailure,
  type RemoveResult,
  Storage,
  StorageError,
  StorageFailure
} from "./storage/Storage.ts"
export {
  applyPolicy,
  type CalendarSpan,
  describePolicy,
  formatCalendarSpan,
  type Kept,
  type KeepRule,
  parseCalendarSpan,
  policyProblem,
  type PolicyResult,
  type RetentionPolicy
} from "./retention/policy.ts"
export {
  type PlannedBackup,
  planService,
  prune,
  type PruneOptions,
  type PruneResult,
  RetentionError,
  type ServicePlan
} from "./retention/prune.ts"
export { policyForService, RetentionConfig } from "./retention/config.ts"
export type { BackupResult, Outcome, StoredBackup } from "./domain/Outcome.ts"
export { severityOf, type Warning, warningLabel } from "./domain/Warning.ts"
export { BackupHistory, type HistoryEntry } from "./history/BackupHistory.ts"
export { defaultSizeDrop, sizeDrop, type SizeDropOptions } from "./history/sizeDrop.ts"
export { historyPath, layerRun } from "./api/run.ts"
export { type BackupFailure, backupTarget, runAll, type RunOptions, TargetTimeout } from "./pipeline/run.ts"
export { cleanupAbandoned, type ReportedRun, type ReportedRunOptions, RunFailed, runReported } from "./pipeline/reported.ts"
export { runScheduler, type SchedulerOptions } from "./scheduler/scheduler.ts"
export { DiscoveryError, Targets } from "./discovery/Targets.ts"
export { layer as layerTargets } from "./discovery/layer.ts"
export { SnapshotError, Snapshotter } from "./snapshot/Snapshotter.ts"
export { layer as layerSnapshotter } from "./snapshot/layer.ts"
export { AlertError, Alerts } from "./alert/Alerts.ts"
export { layerConfig as layerAlerts, layerNone as layerAlertsNone } from "./alert/layer.ts"
export { AlertHttpPolicy, type HttpPolicy, layerHttpClient } from "./alert/http.ts"
export { type FakeHttpClient, type FakeReply, layerFakeHttpClient, makeFakeHttpClient, type RecordedRequest, unreachable } from "./alert/fakeHttp.ts"
export { Metrics } from "./metrics/Metrics.ts"
export { layer as layerMetrics } from "./metrics/layer.ts"
export * from "./docker/index.ts"
export type { InvalidTargetFailure, RunReport, TargetFailure } from "./domain/Outcome.ts"
export type { Discovered, DockerTarget, InvalidTarget, StaticTarget, Target } from "./domain/Target.ts"
