/**
 * ubackup as a library: the pipeline stages as Effect services with their
 * live layers, and the functions the CLI is made of. An Effect app can back
 * up any byte stream it produces (a database snapshot, an export) with
 * `backupOne`, and restore with `decrypt` + `decompress`.
 *
 * Unstable until 1.0: names may still move.
 */
export { Compression, CompressionError, type CompressionOptions, makeCompression } from "./compression/Compression.ts"
export { decompress, DecompressionError } from "./compression/decompress.ts"
export { ConfigError } from "./config/errors.ts"
export { compressionLayer, encryptionLayer, pipelineLayer, storageLayer } from "./config/layers.ts"
export { type ConfigSource, findConfig, type LoadedConfig, loadConfig, parseConfig } from "./config/load.ts"
export { Config, type ConfigJson } from "./config/schema.ts"
export { decrypt } from "./encryption/decrypt.ts"
export { Encryption, makeEncryption } from "./encryption/Encryption.ts"
export { DecryptError, KeyError } from "./encryption/errors.ts"
export { type DecryptionKeys, generateDecryptionKey, parseDecryptionKeys, parseRecipient } from "./encryption/keys.ts"
export { backupOne, type BackupRequest, EmptySnapshot, Hostname, InvalidBackupName } from "./pipeline/backup.ts"
export { backupId, isBackupId } from "./domain/names.ts"
export { layerLocal, makeLocalStorage } from "./storage/local.ts"
export { Storage, StorageError } from "./storage/Storage.ts"
export type { BackupResult, Outcome, StoredBackup } from "./domain/Outcome.ts"
