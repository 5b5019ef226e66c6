/** scheduler run, scheduler install-systemd-service-file (their flags: ./commands.ts) */
import { Effect } from "effect"
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
import type { Input, installFlags, schedulerRunFlags } from "./commands.ts"
import { loadConfigWithLimit, lowerPriority } from "./shared.ts"

/** bin/ubackup says where it is; run any other way, the launcher sits beside the bundle. */
const launcherPath = () =>
  process.env.UBACKUP_LAUNCHER ?? path.resolve(path.dirname(process.argv[1] ?? "."), "../bin/ubackup")

export const schedulerRun = ({ runNow, limitUpload, config }: Input<typeof schedulerRunFlags>) =>
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

export const installSystemdUnit = ({ unitDir, config }: Input<typeof installFlags>) =>
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

