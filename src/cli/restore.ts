/** decrypt, verify, storage ls / ls-services / get / cleanup (and prune, from ./prune.ts) */
import { Effect, Option, Schema } from "effect"
import { Argument, Command, Flag } from "effect/cli"
import { parseDuration } from "../domain/duration.ts"
import { layerStorageFrom } from "../config/layers.ts"
import { loadConfig } from "../config/load.ts"
import { stdin } from "../snapshot/stdin.ts"
import { Hostname } from "../pipeline/backup.ts"
import { Storage } from "../storage/Storage.ts"
import { printable } from "../text/printable.ts"
import { InvalidFlagError, OutputError, printLine, toStdout, writeStdout } from "./io.ts"
import { type FileWriteError, writeFileAtomically, writeFileAtomicallyWith } from "../stream/atomicFile.ts"
import { withProgress, stdinSize } from "./progress.ts"
import { configFlag, fromFlag, keyFlag, layerStorageWithProgress, quietFlag, readKeys, withStorage } from "./shared.ts"
import { consumePlaintext, plaintext } from "../api/plaintext.ts"
import { latestBackup, verifyBackup, type Verification } from "../api/verify.ts"
import { restoreIntoContainer, restoreToHostCommand } from "../api/restoreTo.ts"
import { dockerEndpoint } from "../discovery/layer.ts"
import { pruneCommand } from "./prune.ts"
import { DockerEngine } from "../docker/DockerEngine.ts"


/** `decrypt`, and `decrypt-and-decompress` (µbackup's later name for it) */
const decryptAs = (name: string) => Command.make(
  name,
  {
    keyFile: Argument.String("keyfile").pipe(Argument.withDescription("Decryption key: PEM RSA private key or age identity file")),
    raw: Flag.Boolean("raw").pipe(Flag.withDescription("Do not decompress: write the zstd/gzip stream"), Flag.withDefault(false)),
    quiet: quietFlag
  },
  ({ keyFile, raw, quiet }) =>
    Effect.gen(function*() {
      const keys = yield* readKeys(keyFile)
      const input = stdin().pipe(withProgress({ label: "standard input", totalBytes: stdinSize(), quiet }))
      yield* consumePlaintext(input, keys, writeStdout, {
        raw,
        onConsumerError: (cause) => new OutputError({ cause }),
        onFormat: (format) => {
          if (format === "ubackup-aes") {
            process.stderr.write(
              "ubackup: warning: this is a µbackup .gz.aes backup: its encryption (AES-CTR) is not authenticated, so damage or tampering " +
                "cannot be detected (only gzip's checksum may notice). Back up again with ubackup for authenticated backups.\n"
            )
          }
        }
      })
    })
)

export const decryptCommand = decryptAs("decrypt").pipe(Command.withDescription(
  "Decrypt a backup from stdin to stdout, decompressed (ubackup's age files and µbackup's .gz.aes files)"
))

export const decryptAndDecompressCommand = decryptAs("decrypt-and-decompress").pipe(
  Command.withDescription("The same as decrypt (µbackup's later name for it)")
)

/** Several backups were verified and some failed (each printed on its own line). */
class VerifyFailed extends Schema.TaggedError<VerifyFailed>()("VerifyFailed", { failed: Schema.Number, total: Schema.Number }) {
  override get message() {
    return `${this.failed} of ${this.total} backup(s) failed verification`
  }
}

const verifiedLine = (v: Verification) =>
  `ok\t${v.id}\t${v.plaintextBytes} bytes\tsha256 ${v.sha256}\t${(v.durationMs / 1000).toFixed(1)} s`

export const verifyCommand = Command.make(
  "verify",
  {
    id: Argument.String("id").pipe(Argument.withDescription("Backup ID, as storage ls prints it"), Argument.optional),
    key: keyFlag,
    latest: Flag.String("latest").pipe(Flag.withDescription("Verify the service's newest backup instead of an ID"), Flag.optional),
    all: Flag.Boolean("all").pipe(Flag.withDescription("Verify every service's newest backup"), Flag.withDefault(false)),
    json: Flag.Boolean("json").pipe(Flag.withDescription("Print a JSON array, one object per backup"), Flag.withDefault(false)),
    quiet: quietFlag,
    config: configFlag
  },
  ({ id, key, latest, all, json, quiet, config }) =>
    Effect.gen(function*() {
      const chosen = [id._tag === "Some", latest._tag === "Some", all].filter(Boolean).length
      if (chosen !== 1) {
        return yield* Effect.fail(new InvalidFlagError({ flag: "--latest", detail: "give exactly one of: a backup ID, --latest <service>, --all" }))
      }
      const keys = yield* readKeys(key)
      const storage = yield* Storage
      const ids = id._tag === "Some"
        ? [id.value]
        : latest._tag === "Some"
        ? [(yield* latestBackup(latest.value)).id]
        : yield* Effect.forEach(yield* storage.listServices, (service) => Effect.map(latestBackup(service), (backup) => backup.id))
      // nothing to verify is not a proof that all is well
      if (ids.length === 0) return yield* Effect.fail(new InvalidFlagError({ flag: "--all", detail: `no backups at all in ${storage.location}` }))
      const results = yield* Effect.forEach(ids, (backupId) => Effect.result(verifyBackup(backupId, keys)))
      const failures = results.flatMap((result) => (result._tag === "Failure" ? [result.failure] : []))
      if (json) {
        yield* printLine(JSON.stringify(
          results.map((result, i) =>
            result._tag === "Success"
              ? { ok: true, ...result.success }
              : { ok: false, id: ids[i], error: { _tag: result.failure._tag, reason: "reason" in result.failure ? result.failure.reason : undefined, message: result.failure.message } }
          ),
          null,
          2
        ))
      } else {
        for (const [i, result] of results.entries()) {
          if (result._tag === "Success") yield* printLine(verifiedLine(result.success))
          else if (results.length > 1) yield* printLine(`FAILED\t${printable(ids[i]!)}\t${printable(result.failure.message)}`)
        }
      }
      if (failures.length === 0) return
      // one backup: its own error, whose message says which damage; several: each was printed
      if (results.length === 1) return yield* Effect.fail(failures[0]!)
      return yield* Effect.fail(new VerifyFailed({ failed: failures.length, total: results.length }))
    }).pipe(withStorage(config, quiet))
).pipe(Command.withDescription(
  "Fetch a backup, authenticate every chunk and decompress it to nowhere: prints its plaintext size, SHA-256 and how long it took"
))

export const restoreCommand = Command.make(
  "restore",
  {
    args: Argument.String("id-and-command").pipe(
      Argument.withDescription("The backup ID (unless --latest), then `--` and the command that reads the plaintext on its stdin"),
      Argument.variadic()
    ),
    key: keyFlag,
    latest: Flag.String("latest").pipe(Flag.withDescription("Restore the service's newest backup instead of an ID"), Flag.optional),
    host: Flag.Boolean("host").pipe(Flag.withDescription("Run the command on this host"), Flag.withDefault(false)),
    into: Flag.String("into").pipe(
      Flag.withDescription("Run the command in this container (name or ID) through the Docker exec API, its stdin attached"),
      Flag.optional
    ),
    quiet: quietFlag,
    config: configFlag
  },
  ({ args, key, latest, host, into, quiet, config }) =>
    Effect.gen(function*() {
      const id: string | undefined = latest._tag === "Some" ? undefined : args[0]
      const argv: ReadonlyArray<string> = latest._tag === "Some" ? args : args.slice(1)
      if (latest._tag === "None" && id === undefined) {
        return yield* Effect.fail(new InvalidFlagError({ flag: "<id>", detail: "give a backup ID, or --latest <service>" }))
      }
      if (host === (into._tag === "Some")) {
        return yield* Effect.fail(
          new InvalidFlagError({ flag: "--host", detail: "say where the command runs: --host, or --into <container> (one of them)" })
        )
      }
      if (argv.length === 0) {
        return yield* Effect.fail(new InvalidFlagError({ flag: "--", detail: "give the command to restore into after --, e.g. -- psql app" }))
      }
      const keys = yield* readKeys(key)
      const loaded = yield* loadConfig(config)
      yield* Effect.gen(function*() {
        const backupId = latest._tag === "Some" ? (yield* latestBackup(latest.value)).id : id!
        const where = into._tag === "Some" ? ` in container ${printable(into.value)}` : ""
        yield* Effect.logInfo(`restoring ${printable(backupId)} into ${printable(argv.join(" "))}${where}`)
        const backup = (yield* Storage).get(backupId).pipe(plaintext(keys))
        yield* into._tag === "Some"
          ? restoreIntoContainer(into.value, argv, backup).pipe(
            // the engine is opened only for --into: a host restore needs no Docker
            Effect.provide(DockerEngine.layer(dockerEndpoint(loaded.config)))
          )
          : restoreToHostCommand(argv, backup)
        yield* Effect.logInfo(`restored ${printable(backupId)}`)
      }).pipe(Effect.provide(layerStorageWithProgress(loaded, quiet)))
    })
).pipe(
  Command.withDescription(
    "Stream a backup's plaintext into a command's stdin, on this host (--host -- psql app) or in a container (--into db -- psql app): exit non-zero if the backup or the command fails"
  )
)

const ls = Command.make(
  "ls",
  {
    service: Argument.String("service"),
    long: Flag.Boolean("long").pipe(Flag.withAlias("l"), Flag.withDescription("Add size (bytes) and time, tab-separated"), Flag.withDefault(false)),
    json: Flag.Boolean("json").pipe(Flag.withDescription("Print a JSON array: id, size_bytes, modified"), Flag.withDefault(false)),
    from: fromFlag,
    config: configFlag
  },
  ({ service, long, json, from, config }) =>
    Effect.gen(function*() {
      const backups = yield* (yield* Storage).list(service)
      if (json) {
        return yield* printLine(JSON.stringify(
          backups.map((backup) => ({ id: backup.id, size_bytes: backup.size, modified: backup.modified.toISOString() })),
          null,
          2
        ))
      }
      for (const backup of backups) {
        yield* printLine(long ? `${backup.id}\t${backup.size}\t${backup.modified.toISOString()}` : backup.id)
      }
    }).pipe(withStorage(config, true, from))
).pipe(Command.withDescription("List a service's backup IDs, oldest first"))

const lsServices = Command.make(
  "ls-services",
  { from: fromFlag, config: configFlag },
  ({ from, config }) =>
    Effect.gen(function*() {
      for (const service of yield* (yield* Storage).listServices) yield* printLine(service)
    }).pipe(withStorage(config, true, from))
).pipe(Command.withDescription("List the services that have backups"))

const get = Command.make(
  "get",
  {
    id: Argument.String("id").pipe(Argument.withDescription("Backup ID, as storage ls prints it")),
    decryptKey: Flag.String("decrypt").pipe(
      Flag.withDescription("Decrypt and decompress with this key file (PEM RSA private key or age identity file): the plaintext comes out"),
      Flag.optional
    ),
    output: Flag.String("output").pipe(
      Flag.withAlias("o"),
      Flag.withDescription("Write to this file instead of stdout, atomically: it appears only once complete"),
      Flag.optional
    ),
    quiet: quietFlag,
    from: fromFlag,
    config: configFlag
  },
  ({ id, decryptKey, output, quiet, from, config }) =>
    Effect.gen(function*() {
      const stored = (yield* Storage).get(id)
      if (decryptKey._tag === "None") {
        return yield* output._tag === "Some" ? writeFileAtomically(output.value, stored, 0o600) : toStdout(stored)
      }
      const keys = yield* readKeys(decryptKey.value)
      if (output._tag === "None") {
        return yield* consumePlaintext(stored, keys, writeStdout, { onConsumerError: (cause) => new OutputError({ cause }) })
      }
      yield* writeFileAtomicallyWith(output.value, 0o600, (write) =>
        consumePlaintext(stored, keys, write, { onConsumerError: (cause) => cause as FileWriteError }))
    }).pipe(withStorage(config, quiet, from))
).pipe(Command.withDescription("Write a stored backup to stdout or a file: as stored (encrypted), or with --decrypt the plaintext"))

const cleanup = Command.make(
  "cleanup",
  {
    olderThan: Flag.String("older-than").pipe(
      Flag.withDescription("Only leftovers with no activity for this long (default: the config's abort_incomplete_uploads_after, 24h)"),
      Flag.optional
    ),
    allHosts: Flag.Boolean("all-hosts").pipe(
      Flag.withDescription("Also the leftovers of other hosts' backups (default: only this host's)"),
      Flag.withDefault(false)
    ),
    from: fromFlag,
    config: configFlag
  },
  ({ olderThan, allHosts, from, config }) =>
    loadConfig(config).pipe(Effect.flatMap((loaded) =>
      Effect.gen(function*() {
        const text = olderThan._tag === "Some" ? olderThan.value : loaded.config.abortIncompleteUploadsAfter
        const olderThanMs = parseDuration(text)
        if (olderThanMs === undefined) {
          return yield* Effect.fail(new InvalidFlagError({ flag: "--older-than", detail: `${JSON.stringify(text)} is not a duration such as 90s, 5m or 1h30m` }))
        }
        const storage = yield* Storage
        const hostname = allHosts ? undefined : yield* Hostname
        const { removed, kept } = yield* storage.cleanup({ olderThanMs, hostname })
        for (const id of removed) yield* printLine(`removed leftovers of ${printable(id)}`)
        yield* printLine(`${removed.length} incomplete backup(s) removed; ${kept} left (still active, or another host's)`)
      }).pipe(Effect.provide(layerStorageFrom(loaded, Option.getOrUndefined(from))))
    ))
).pipe(Command.withDescription(
  "Abort incomplete S3 multipart uploads and remove temporary files that killed backups left behind; never a stored backup"
))

export const storageCommand = Command.make("storage").pipe(
  Command.withDescription("Browse and fetch stored backups, clean up after stopped ones, prune by a retention policy"),
  Command.withSubcommands([ls, lsServices, get, cleanup, pruneCommand])
)
