/**
 * Every verb's name, flags and help text, and nothing it does: each handler
 * lives in its own module (./backup.ts, ./restore.ts, …), loaded when its
 * verb runs. The CLI bundle is one file; esbuild turns each `import()` below
 * into a module that is evaluated on first use, so `ubackup --help` or
 * `storage ls` do not evaluate the backup pipeline, the scheduler or the
 * HTTP stack (docs/PERFORMANCE.md, "Start-up"). This module and ./flags.ts
 * import only effect/cli, Effect and types.
 */
import { Effect } from "effect"
import { Argument, Command, Flag } from "effect/cli"
import { configFlag, fromFlag, keyFlag, limitUploadFlag, quietFlag } from "./flags.ts"

/** What a verb's handler receives: the parsed values of its flags. */
export type Input<Flags extends Command.Command.Config> = Command.Command.Config.Infer<Flags>

/** A handler that is loaded (its module evaluated) only when its verb runs. */
const lazy = <M, A, B, E, R>(load: () => Promise<M>, pick: (module: M) => (input: A) => Effect.Effect<B, E, R>) => (input: A) =>
  Effect.promise(load).pipe(Effect.flatMap((module) => pick(module)(input)))

// ---- backing up ----

export const manualBackupFlags = {
  serviceName: Argument.String("serviceName").pipe(Argument.withDescription("Service the backup belongs to (the folder in storage)")),
  taskId: Argument.String("taskId").pipe(Argument.withDescription("Task or instance ID that goes into the file name")),
  fileExtension: Flag.String("file-extension").pipe(
    Flag.withDescription("What the stream holds, e.g. .sql or .tar"),
    Flag.withDefault("")
  ),
  quiet: quietFlag,
  limitUpload: limitUploadFlag,
  config: configFlag
}

const manualBackup = Command.make("manual-backup", manualBackupFlags, lazy(() => import("./backup.ts"), (m) => m.manualBackup)).pipe(
  Command.withDescription("Back up standard input: compress, encrypt, store; prints the backup ID")
)

export const nowFlags = {
  dryRun: Flag.Boolean("dry-run").pipe(Flag.withDescription("List the targets and their commands; back up nothing"), Flag.withDefault(false)),
  json: Flag.Boolean("json").pipe(Flag.withDescription("Print the summary as a JSON array, one object per target"), Flag.withDefault(false)),
  limitUpload: limitUploadFlag,
  config: configFlag
}

const now = Command.make("now", nowFlags, lazy(() => import("./now.ts"), (m) => m.now)).pipe(
  Command.withDescription("Back up every container that declares a backup command, and the static targets, once")
)

export const schedulerRunFlags = {
  runNow: Flag.Boolean("run-now").pipe(Flag.withDescription("Also back up every target once at start"), Flag.withDefault(false)),
  limitUpload: limitUploadFlag,
  config: configFlag
}

export const installFlags = {
  unitDir: Flag.String("unit-dir").pipe(Flag.withDescription("Where to write ubackup.service"), Flag.withDefault("/etc/systemd/system")),
  config: configFlag
}

const scheduler = Command.make("scheduler").pipe(
  Command.withDescription("Run backups on a schedule, as a service"),
  Command.withSubcommands([
    Command.make("run", schedulerRunFlags, lazy(() => import("./scheduler.ts"), (m) => m.schedulerRun)).pipe(
      Command.withDescription("Back up on the config's schedule (default daily at 01:00 UTC) until stopped")
    ),
    Command.make("install-systemd-service-file", installFlags, lazy(() => import("./scheduler.ts"), (m) => m.installSystemdUnit)).pipe(
      Command.withDescription("Write a systemd unit that runs `ubackup scheduler run` (default /etc/systemd/system/ubackup.service)")
    )
  ])
)

// ---- restoring and checking ----

export const decryptFlags = {
  keyFile: Argument.String("keyfile").pipe(Argument.withDescription("Decryption key: PEM RSA private key or age identity file")),
  raw: Flag.Boolean("raw").pipe(Flag.withDescription("Do not decompress: write the zstd/gzip stream"), Flag.withDefault(false)),
  quiet: quietFlag
}

/** `decrypt`, and `decrypt-and-decompress` (µbackup's later name for it) */
const decryptAs = (name: string, description: string) =>
  Command.make(name, decryptFlags, lazy(() => import("./restore.ts"), (m) => m.decrypt)).pipe(Command.withDescription(description))

export const verifyFlags = {
  id: Argument.String("id").pipe(Argument.withDescription("Backup ID, as storage ls prints it"), Argument.optional),
  key: keyFlag,
  latest: Flag.String("latest").pipe(Flag.withDescription("Verify the service's newest backup instead of an ID"), Flag.optional),
  all: Flag.Boolean("all").pipe(Flag.withDescription("Verify every service's newest backup"), Flag.withDefault(false)),
  json: Flag.Boolean("json").pipe(Flag.withDescription("Print a JSON array, one object per backup"), Flag.withDefault(false)),
  quiet: quietFlag,
  config: configFlag
}

const verify = Command.make("verify", verifyFlags, lazy(() => import("./restore.ts"), (m) => m.verify)).pipe(Command.withDescription(
  "Fetch a backup, authenticate every chunk and decompress it to nowhere: prints its plaintext size, SHA-256 and how long it took"
))

export const restoreFlags = {
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
}

const restore = Command.make("restore", restoreFlags, lazy(() => import("./restore.ts"), (m) => m.restore)).pipe(Command.withDescription(
  "Stream a backup's plaintext into a command's stdin, on this host (--host -- psql app) or in a container (--into db -- psql app): exit non-zero if the backup or the command fails"
))

export const drillFlags = {
  key: keyFlag,
  services: Flag.String("service").pipe(
    Flag.withDescription("Drill this service (repeatable); default: every service in storage"),
    Flag.atLeast(0)
  ),
  checkCommand: Flag.String("check-command").pipe(
    Flag.withDescription("Pipe each plaintext into this host command (shell words, no shell), e.g. 'tar -t'; exit 0 = good"),
    Flag.optional
  ),
  staleAfter: Flag.String("stale-after").pipe(
    Flag.withDescription("A newest backup older than this fails as stale (default: the config's drill.stale_after, 26h)"),
    Flag.optional
  ),
  json: Flag.Boolean("json").pipe(Flag.withDescription("Print a JSON array, one object per service"), Flag.withDefault(false)),
  schedule: Flag.String("schedule").pipe(
    Flag.withDescription("Run on this 5-field cron (in schedule_timezone) until stopped, e.g. '0 6 * * *'"),
    Flag.optional
  ),
  quiet: quietFlag,
  config: configFlag
}

const drill = Command.make("drill", drillFlags, lazy(() => import("./drill.ts"), (m) => m.drillVerb)).pipe(Command.withDescription(
  "Verify each service's newest backup (optionally through a check command), fail stale ones, alert the sinks: run it where the private key is"
))

// ---- storage ----

export const lsFlags = {
  service: Argument.String("service"),
  long: Flag.Boolean("long").pipe(Flag.withAlias("l"), Flag.withDescription("Add size (bytes) and time, tab-separated"), Flag.withDefault(false)),
  json: Flag.Boolean("json").pipe(Flag.withDescription("Print a JSON array: id, size_bytes, modified"), Flag.withDefault(false)),
  from: fromFlag,
  config: configFlag
}

export const lsServicesFlags = { from: fromFlag, config: configFlag }

export const getFlags = {
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
}

export const cleanupFlags = {
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
}

const countFlag = (rule: string, what: string) =>
  Flag.String(`keep-${rule}`).pipe(Flag.withDescription(`Keep ${what}; "all" for every one`), Flag.optional)

export const pruneFlags = {
  services: Argument.String("service").pipe(Argument.withDescription("Services to prune (default: every service)"), Argument.variadic()),
  keepLast: countFlag("last", "the N newest backups"),
  keepHourly: countFlag("hourly", "the newest backup of each of the last N hours that have one"),
  keepDaily: countFlag("daily", "the newest backup of each of the last N days that have one"),
  keepWeekly: countFlag("weekly", "the newest backup of each of the last N weeks (ISO, Monday to Sunday) that have one"),
  keepMonthly: countFlag("monthly", "the newest backup of each of the last N months that have one"),
  keepYearly: countFlag("yearly", "the newest backup of each of the last N years that have one"),
  keepWithin: Flag.String("keep-within").pipe(
    Flag.withDescription("Keep every backup within this span of the newest one: 30d, 6m, 1y2m (y, m months, d, h; as restic)"),
    Flag.optional
  ),
  dryRun: Flag.Boolean("dry-run").pipe(Flag.withDescription("Print the plan (keep/remove, and the rule that kept each); delete nothing"), Flag.withDefault(false)),
  json: Flag.Boolean("json").pipe(Flag.withDescription("Print the plan and what was removed as JSON"), Flag.withDefault(false)),
  from: fromFlag,
  config: configFlag
}

const storage = Command.make("storage").pipe(
  Command.withDescription("Browse and fetch stored backups, clean up after stopped ones, prune by a retention policy"),
  Command.withSubcommands([
    Command.make("ls", lsFlags, lazy(() => import("./restore.ts"), (m) => m.ls)).pipe(
      Command.withDescription("List a service's backup IDs, oldest first")
    ),
    Command.make("ls-services", lsServicesFlags, lazy(() => import("./restore.ts"), (m) => m.lsServices)).pipe(
      Command.withDescription("List the services that have backups")
    ),
    Command.make("get", getFlags, lazy(() => import("./restore.ts"), (m) => m.get)).pipe(
      Command.withDescription("Write a stored backup to stdout or a file: as stored (encrypted), or with --decrypt the plaintext")
    ),
    Command.make("cleanup", cleanupFlags, lazy(() => import("./restore.ts"), (m) => m.cleanup)).pipe(Command.withDescription(
      "Abort incomplete S3 multipart uploads and remove temporary files that killed backups left behind; never a stored backup"
    )),
    Command.make("prune", pruneFlags, lazy(() => import("./prune.ts"), (m) => m.pruneVerb)).pipe(Command.withDescription(
      "Delete the backups a retention policy (restic's keep rules) does not keep; --dry-run shows the plan. Needs credentials that may delete"
    ))
  ])
)

// ---- keys and config ----

export const keyGenerateFlags = {
  type: Flag.Literals("type", ["rsa", "x25519"]).pipe(
    Flag.withDescription("rsa: RSA-4096 PEM, as µbackup (default); x25519: an age identity (AGE-SECRET-KEY-1…)"),
    Flag.withDefault("rsa" as const)
  )
}

const decryptionKeyGenerate = Command.make("decryption-key-generate", keyGenerateFlags, lazy(() => import("./keys.ts"), (m) => m.generate)).pipe(
  Command.withDescription("Print a new decryption (private) key. Keep it off the machines that take backups.")
)

const decryptionKeyToEncryptionKey = Command.make(
  "decryption-key-to-encryption-key",
  {},
  lazy(() => import("./keys.ts"), (m) => m.toEncryptionKey)
).pipe(Command.withDescription(
  "Read a decryption key on stdin, print its encryption (public) key: PEM RSA PUBLIC KEY, or the age1… recipient"
))

export const exampleConfigFlags = {
  pubkeyFile: Flag.String("pubkey-file").pipe(
    Flag.withDescription("Public key file to embed (from decryption-key-to-encryption-key)"),
    Flag.optional
  ),
  kitchensink: Flag.Boolean("kitchensink").pipe(
    Flag.withDescription("Show every option, with placeholders to replace"),
    Flag.withDefault(false)
  )
}

/** `print-default-config`, and `config example` (µbackup's later name for it) */
const exampleConfigAs = (name: string, description: string) =>
  Command.make(name, exampleConfigFlags, lazy(() => import("./config.ts"), (m) => m.exampleConfig)).pipe(Command.withDescription(description))

export const validateFlags = {
  file: Argument.String("file").pipe(Argument.withDescription("Config file (default: standard input)"), Argument.optional)
}

const config = Command.make("config").pipe(
  Command.withDescription("Config file tools"),
  Command.withSubcommands([
    Command.make("validate", validateFlags, lazy(() => import("./config.ts"), (m) => m.validate)).pipe(
      Command.withDescription("Check a config; every bad field is named by its path")
    ),
    exampleConfigAs("example", "Print a config to start from (the same as print-default-config)")
  ])
)

export const initFlags = {
  dir: Flag.String("dir").pipe(Flag.withDescription("Folder for the key pair, config and backups"), Flag.withDefault(".")),
  type: Flag.Literals("type", ["rsa", "x25519"]).pipe(
    Flag.withDescription("Key type (rsa: RSA-4096 as µbackup; x25519: age)"),
    Flag.withDefault("rsa" as const)
  )
}

const init = Command.make("init", initFlags, lazy(() => import("./config.ts"), (m) => m.init)).pipe(
  Command.withDescription("Create a key pair and a config with local storage, ready for a first backup")
)

export const ubackup = Command.make("ubackup").pipe(
  Command.withDescription("Encrypted, streaming backups of Docker containers and commands, to S3 or a local folder"),
  Command.withSubcommands([
    init,
    now,
    scheduler,
    manualBackup,
    decryptAs("decrypt", "Decrypt a backup from stdin to stdout, decompressed (ubackup's age files and µbackup's .gz.aes files)"),
    verify,
    restore,
    drill,
    decryptAs("decrypt-and-decompress", "The same as decrypt (µbackup's later name for it)"),
    storage,
    decryptionKeyGenerate,
    decryptionKeyToEncryptionKey,
    exampleConfigAs("print-default-config", "Print a config to start from (local storage; --kitchensink: every option)"),
    config
  ])
)
