/** decrypt, verify, restore, storage ls / ls-services / get / cleanup (their flags: ./commands.ts; prune: ./prune.ts) */
import { Effect, Option, Schema } from "effect"
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
import type { cleanupFlags, decryptFlags, getFlags, Input, lsFlags, lsServicesFlags, restoreFlags, verifyFlags } from "./commands.ts"
import { layerStorageWithProgress, readKeys, withStorage } from "./shared.ts"
import { consumePlaintext, plaintext } from "../api/plaintext.ts"
import { latestBackup, verifyBackup, type Verification } from "../api/verify.ts"
import { restoreIntoContainer, restoreToHostCommand } from "../api/restoreTo.ts"
import { dockerEndpoint } from "../discovery/layer.ts"
import { DockerEngine } from "../docker/DockerEngine.ts"


/** `decrypt`, and `decrypt-and-decompress` (µbackup's later name for it) */
export const decrypt = ({ keyFile, raw, quiet }: Input<typeof decryptFlags>) =>
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

/** Several backups were verified and some failed (each printed on its own line). */
class VerifyFailed extends Schema.TaggedError<VerifyFailed>()("VerifyFailed", { failed: Schema.Number, total: Schema.Number }) {
  override get message() {
    return `${this.failed} of ${this.total} backup(s) failed verification`
  }
}

const verifiedLine = (v: Verification) =>
  `ok\t${v.id}\t${v.plaintextBytes} bytes\tsha256 ${v.sha256}\t${(v.durationMs / 1000).toFixed(1)} s`

export const verify = ({ id, key, latest, all, json, quiet, config }: Input<typeof verifyFlags>) =>
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

export const restore = ({ args, key, latest, host, into, quiet, config }: Input<typeof restoreFlags>) =>
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

export const ls = ({ service, long, json, from, config }: Input<typeof lsFlags>) =>
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

export const lsServices = ({ from, config }: Input<typeof lsServicesFlags>) =>
  Effect.gen(function*() {
    for (const service of yield* (yield* Storage).listServices) yield* printLine(service)
  }).pipe(withStorage(config, true, from))

export const get = ({ id, decryptKey, output, quiet, from, config }: Input<typeof getFlags>) =>
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

export const cleanup = ({ olderThan, allHosts, from, config }: Input<typeof cleanupFlags>) =>
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
