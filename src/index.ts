/**
 * `ubackup`: everything. `Ubackup` (src/api/Ubackup.ts, as a namespace) is
 * the ready composition: `Ubackup.layerConfig(config)` gives an Effect app
 * `backupStream`, `list`, `get` and `restore` in its own runtime. Below it,
 * each stage is a service with its layers and tagged errors, for apps that
 * compose their own pipeline with `backupOne`. Plain Promise callers use
 * `openUbackup` (also `ubackup/promise`).
 *
 * Unstable until 1.0: names may still move.
 */
export * as Ubackup from "./api/Ubackup.ts"
export { type BackupError, type BackupStreamRequest, type RestoreError, SourceError } from "./api/Ubackup.ts"
export { type BackupOptions, generateKeyPair, openUbackup, type UbackupClient } from "./api/promise.ts"
export * from "./compression/index.ts"
export * from "./encryption/index.ts"
export { ConfigError, type ConfigIssue } from "./config/errors.ts"
export { compressionLayer, encryptionLayer, pipelineLayer, storageLayer } from "./config/layers.ts"
export { type ConfigSource, configFromValue, findConfig, type LoadedConfig, loadConfig, parseConfig } from "./config/load.ts"
export { Config, type ConfigJson } from "./config/schema.ts"
export { BackupTooLarge, backupOne, type BackupRequest, EmptySnapshot, Hostname, InvalidBackupName } from "./pipeline/backup.ts"
export { backupId, isBackupId, parseBackupId } from "./domain/names.ts"
export { layerLocal, makeLocalStorage } from "./storage/local.ts"
export { layerMemory, makeMemoryStorage, type MemoryObject } from "./storage/memory.ts"
export { type CleanupOptions, type CleanupResult, Storage, StorageError, StorageFailure } from "./storage/Storage.ts"
export type { BackupResult, Outcome, StoredBackup } from "./domain/Outcome.ts"
