/**
 * ubackup for plain TypeScript and JavaScript: Promises and Node streams over
 * the same code as the Effect API (src/api/Ubackup.ts).
 *
 *   import { openUbackup } from "ubackup/promise"
 *
 *   const ub = await openUbackup({ storage: { local: { path: "/var/backups" } }, encryption_recipients: ["age1…"] })
 *   const { id } = await ub.backup("app", "1", fs.createReadStream("dump.sql"), { fileExtension: ".sql" })
 *   ub.restore(id, fs.readFileSync("key.txt", "utf8")).pipe(process.stdout)
 *   await ub.close()
 *
 * Failures are ubackup's tagged errors, thrown (or emitted as the stream's
 * "error") as they are: `error._tag` says which (`ConfigError`,
 * `StorageError`, `DecryptError`, …) and their fields say why.
 */
import { Cause, Effect, Exit, ManagedRuntime, Stream } from "effect"
import { Readable } from "node:stream"
import type { BackupResult, StoredBackup } from "../domain/Outcome.ts"
import { generateDecryptionKey, type KeyType, parseDecryptionKeys } from "../encryption/keys.ts"
import { type ConfigOptions, layerConfig, SourceError, Ubackup } from "./Ubackup.ts"

export interface BackupOptions {
  /** What the stream holds, e.g. `.sql`, `.tar`; none by default. */
  readonly fileExtension?: string | undefined
  /** Fail, storing nothing, once the stream has produced more bytes than this. */
  readonly maxBytes?: number | undefined
}

export interface UbackupClient extends AsyncDisposable {
  /** Where backups go, for logs: `local /var/backups`, `s3://bucket`. No secrets. */
  readonly location: string
  /** Compresses, encrypts and stores what `source` produces; published only if it ends without an error. */
  backup(
    service: string,
    taskId: string,
    source: Readable | AsyncIterable<Uint8Array>,
    options?: BackupOptions
  ): Promise<BackupResult>
  /** A service's backups, oldest first. */
  list(service: string): Promise<Array<StoredBackup>>
  /** Every service that has backups, sorted. */
  listServices(): Promise<Array<string>>
  /** The stored (still encrypted) bytes. */
  get(id: string): Readable
  /** The plaintext, decrypted with the identity (the text of a key file) and decompressed. */
  restore(id: string, identity: string): Readable
  /** Releases what the client holds (connections); in-flight calls are interrupted. */
  close(): Promise<void>
}

/** Opens ubackup over a config value (the JSON object the CLI reads); rejects with a `ConfigError` or `KeyError`. */
export const openUbackup = async (config: unknown, options: ConfigOptions = {}): Promise<UbackupClient> => {
  const runtime = ManagedRuntime.make(layerConfig(config, options))
  const run = async <A, E>(effect: Effect.Effect<A, E, Ubackup>): Promise<A> => {
    const exit = await runtime.runPromiseExit(effect)
    if (Exit.isSuccess(exit)) return exit.value
    throw Cause.squash(exit.cause)
  }
  let ubackup: Ubackup["Service"]
  try {
    ubackup = await run(Effect.gen(function*() {
      return yield* Ubackup
    }))
  } catch (error) {
    await runtime.dispose()
    throw error
  }
  const toReadable = (stream: Stream.Stream<Uint8Array, unknown>) =>
    Readable.from(Stream.toAsyncIterable(stream), { objectMode: false, highWaterMark: 1024 * 1024 })
  const close = () => runtime.dispose()
  return {
    location: ubackup.location,
    backup: (service, taskId, source, backupOptions = {}) =>
      run(ubackup.backupStream({
        service,
        taskId,
        fileExtension: backupOptions.fileExtension,
        maxBytes: backupOptions.maxBytes,
        sourceName: "the source stream",
        stream: Stream.fromAsyncIterable(source, (cause) =>
          new SourceError({ source: "the source stream", detail: cause instanceof Error ? cause.message : String(cause) })
        )
      })),
    list: (service) => run(Effect.map(ubackup.list(service), (backups) => [...backups])),
    listServices: () => run(Effect.map(ubackup.listServices, (services) => [...services])),
    get: (id) => toReadable(ubackup.get(id)),
    restore: (id, identity) => toReadable(ubackup.restore(id, identity)),
    close,
    [Symbol.asyncDispose]: close
  }
}

/**
 * A new key pair: `identity` is the decryption key file's text (keep it off
 * the backup host), `recipient` goes into the config's `encryption_recipients`.
 */
export const generateKeyPair = (type: KeyType = "x25519"): Promise<{ readonly identity: string; readonly recipient: string }> =>
  Effect.runPromise(Effect.gen(function*() {
    const identity = yield* generateDecryptionKey(type)
    const { encryptionKeys } = yield* parseDecryptionKeys(identity, "the new key")
    return { identity, recipient: encryptionKeys[0]! }
  }))
