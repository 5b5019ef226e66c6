/** decrypt, storage ls / ls-services / get / cleanup */
import { Effect } from "effect"
import { Argument, Command, Flag } from "effect/cli"
import { parseDuration } from "../domain/duration.ts"
import { layerStorage } from "../config/layers.ts"
import { loadConfig } from "../config/load.ts"
import { decompress } from "../compression/decompress.ts"
import { decrypt } from "../encryption/decrypt.ts"
import { parseDecryptionKeys } from "../encryption/keys.ts"
import { stdin } from "../snapshot/stdin.ts"
import { Hostname } from "../pipeline/backup.ts"
import { Storage } from "../storage/Storage.ts"
import { printable } from "../text/printable.ts"
import { InvalidFlagError, printLine, readTextFile, toStdout } from "./io.ts"
import { configFlag, withStorage } from "./shared.ts"

/** `decrypt`, and `decrypt-and-decompress` (µbackup's later name for it) */
const decryptAs = (name: string) => Command.make(
  name,
  {
    keyFile: Argument.String("keyfile").pipe(Argument.withDescription("Decryption key: PEM RSA private key or age identity file")),
    raw: Flag.Boolean("raw").pipe(Flag.withDescription("Do not decompress: write the zstd/gzip stream"), Flag.withDefault(false))
  },
  ({ keyFile, raw }) =>
    Effect.gen(function*() {
      const keys = yield* readTextFile(keyFile).pipe(Effect.flatMap((text) => parseDecryptionKeys(text, keyFile)))
      const plaintext = stdin().pipe(decrypt(keys, {
        onFormat: (format) => {
          if (format === "ubackup-aes") {
            process.stderr.write(
              "ubackup: warning: this is a µbackup .gz.aes backup: its encryption (AES-CTR) is not authenticated, so damage or tampering " +
                "cannot be detected (only gzip's checksum may notice). Back up again with ubackup for authenticated backups.\n"
            )
          }
        }
      }))
      yield* toStdout(raw ? plaintext : decompress(plaintext))
    })
)

export const decryptCommand = decryptAs("decrypt").pipe(Command.withDescription(
  "Decrypt a backup from stdin to stdout, decompressed (ubackup's age files and µbackup's .gz.aes files)"
))

export const decryptAndDecompressCommand = decryptAs("decrypt-and-decompress").pipe(
  Command.withDescription("The same as decrypt (µbackup's later name for it)")
)

const ls = Command.make(
  "ls",
  {
    service: Argument.String("service"),
    long: Flag.Boolean("long").pipe(Flag.withAlias("l"), Flag.withDescription("Add size (bytes) and time, tab-separated"), Flag.withDefault(false)),
    config: configFlag
  },
  ({ service, long, config }) =>
    Effect.gen(function*() {
      const backups = yield* (yield* Storage).list(service)
      for (const backup of backups) {
        yield* printLine(long ? `${backup.id}\t${backup.size}\t${backup.modified.toISOString()}` : backup.id)
      }
    }).pipe(withStorage(config))
).pipe(Command.withDescription("List a service's backup IDs, oldest first"))

const lsServices = Command.make(
  "ls-services",
  { config: configFlag },
  ({ config }) =>
    Effect.gen(function*() {
      for (const service of yield* (yield* Storage).listServices) yield* printLine(service)
    }).pipe(withStorage(config))
).pipe(Command.withDescription("List the services that have backups"))

const get = Command.make(
  "get",
  { id: Argument.String("id").pipe(Argument.withDescription("Backup ID, as storage ls prints it")), config: configFlag },
  ({ id, config }) => Effect.flatMap(Storage, (storage) => toStdout(storage.get(id))).pipe(withStorage(config))
).pipe(Command.withDescription("Write a stored (still encrypted) backup to stdout"))

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
    config: configFlag
  },
  ({ olderThan, allHosts, config }) =>
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
      }).pipe(Effect.provide(layerStorage(loaded)))
    ))
).pipe(Command.withDescription(
  "Abort incomplete S3 multipart uploads and remove temporary files that killed backups left behind; never a stored backup"
))

export const storageCommand = Command.make("storage").pipe(
  Command.withDescription("Browse and fetch stored backups, and clean up after stopped ones"),
  Command.withSubcommands([ls, lsServices, get, cleanup])
)
