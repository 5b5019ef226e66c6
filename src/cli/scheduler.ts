/** scheduler run, scheduler install-systemd-service-file */
import { Effect } from "effect"
import { Command, Flag } from "effect/cli"
import * as fs from "node:fs/promises"
import * as path from "node:path"
import { parseDuration } from "../domain/duration.ts"
import { configWarnings } from "../config/warnings.ts"
import { serveMetrics } from "../metrics/publish.ts"
import { policyForService } from "../retention/config.ts"
import { runScheduler } from "../scheduler/scheduler.ts"
import { systemdUnit } from "../scheduler/systemd.ts"
import { InputFileError, printLine } from "./io.ts"
import { stopIsSuccess } from "./exit.ts"
import { layerRun } from "../api/run.ts"
import { configFlag, limitUploadFlag, loadConfigWithLimit, lowerPriority } from "./shared.ts"

/** bin/ubackup says where it is; run any other way, the launcher sits beside the bundle. */
const launcherPath = () =>
  process.env.UBACKUP_LAUNCHER ?? path.resolve(path.dirname(process.argv[1] ?? "."), "../bin/ubackup")

const run = Command.make(
  "run",
  {
    runNow: Flag.Boolean("run-now").pipe(Flag.withDescription("Also back up every target once at start"), Flag.withDefault(false)),
    limitUpload: limitUploadFlag,
    config: configFlag
  },
  ({ runNow, limitUpload, config }) =>
    Effect.gen(function*() {
      // SIGTERM/SIGINT is how a service manager stops the scheduler: a clean exit (0)
      yield* stopIsSuccess
      yield* lowerPriority
      const loaded = yield* loadConfigWithLimit(config, limitUpload)
      const { config: c } = loaded
      for (const warning of configWarnings(c)) yield* Effect.logWarning(`${loaded.source.name}: ${warning.path}: ${warning.message}`)
      yield* Effect.gen(function*() {
        if (c.metricsListen !== undefined) yield* serveMetrics(c.metricsListen)
        return yield* runScheduler({
          schedule: c.schedule,
          timeZone: c.scheduleTimezone,
          concurrency: c.concurrency,
          abandonedAfterMs: parseDuration(c.abortIncompleteUploadsAfter),
          sizeDrop: c.sizeDrop,
          runNow,
          pruneAfterRun: c.retention?.pruneAfterRun === true ? policyForService(c.retention) : undefined
        })
      }).pipe(Effect.scoped, Effect.provide(layerRun(loaded)))
    })
).pipe(Command.withDescription("Back up on the config's schedule (default daily at 01:00 UTC) until stopped"))

const install = Command.make(
  "install-systemd-service-file",
  {
    unitDir: Flag.String("unit-dir").pipe(Flag.withDescription("Where to write ubackup.service"), Flag.withDefault("/etc/systemd/system")),
    config: configFlag
  },
  ({ unitDir, config }) =>
    Effect.gen(function*() {
      const file = path.join(unitDir, "ubackup.service")
      // the launcher this CLI runs from, resolved through the npm bin link
      const launcher = yield* Effect.tryPromise({
        try: () => fs.realpath(launcherPath()),
        catch: (cause) =>
          new InputFileError({ path: launcherPath(), detail: `cannot find the ubackup launcher: ${(cause as Error).message}` })
      })
      const unit = systemdUnit({
        launcher,
        workingDirectory: process.cwd(),
        config: config._tag === "Some" ? path.resolve(config.value) : undefined,
        nodeDirectory: path.dirname(process.execPath)
      })
      yield* Effect.tryPromise({
        try: () => fs.writeFile(file, unit, { mode: 0o644 }),
        catch: (cause) => new InputFileError({ path: file, detail: `cannot write: ${(cause as Error).message}` })
      })
      yield* printLine(
        [
          `Wrote unit file to ${file}`,
          "Run to enable on boot & to start now:",
          "\t$ systemctl enable ubackup",
          "\t$ systemctl start ubackup",
          "\t$ systemctl status ubackup"
        ].join("\n")
      )
    })
).pipe(Command.withDescription("Write a systemd unit that runs `ubackup scheduler run` (default /etc/systemd/system/ubackup.service)"))

export const schedulerCommand = Command.make("scheduler").pipe(
  Command.withDescription("Run backups on a schedule, as a service"),
  Command.withSubcommands([run, install])
)

