/** drill: prove that each service's newest backup restores (its flags: ./commands.ts) */
import { Effect, Layer, Schedule, Schema } from "effect"
import { type DrillResult, drill, formatAge, reportDrill } from "../api/drill.ts"
import { layerAlertsOf } from "../api/run.ts"
import { loadConfig } from "../config/load.ts"
import { isCron } from "../domain/cron.ts"
import { formatDuration, parseDuration } from "../domain/duration.ts"
import { formatBytes } from "../domain/size.ts"
import { splitShellWords } from "../discovery/shellWords.ts"
import { stopIsSuccess } from "./exit.ts"
import { InvalidFlagError, printLine, table } from "./io.ts"
import type { drillFlags, Input } from "./commands.ts"
import { layerStorageWithProgress, readKeys } from "./shared.ts"

/** Some services failed the drill (each is in the table and was alerted). */
export class DrillFailed extends Schema.TaggedError<DrillFailed>()("DrillFailed", {
  failed: Schema.Number,
  total: Schema.Number
}) {
  override get message() {
    return `${this.failed} of ${this.total} service(s) failed the restore drill`
  }
}

const drillTable = (results: ReadonlyArray<DrillResult>) =>
  table([
    ["SERVICE", "RESULT", "AGE", "PLAINTEXT", "TIME", "BACKUP"],
    ...results.map((result) => [
      result.service,
      result.ok ? "ok" : result.stale && result.verification !== undefined ? "STALE" : "FAILED",
      result.ageMs === undefined ? "-" : formatAge(result.ageMs),
      result.verification === undefined ? "-" : formatBytes(result.verification.plaintextBytes),
      result.verification === undefined ? "-" : formatDuration(result.verification.durationMs),
      `${result.backupId ?? "-"}${result.check === undefined ? "" : ` | ${result.check.join(" ")}`}${
        result.problem === undefined ? "" : `: ${result.problem}`
      }`
    ])
  ])

const asJson = (results: ReadonlyArray<DrillResult>) =>
  JSON.stringify(
    results.map((result) => ({
      service: result.service,
      ok: result.ok,
      stale: result.stale,
      backup_id: result.backupId ?? null,
      backup_time: result.backupTime?.toISOString() ?? null,
      age_seconds: result.ageMs === undefined ? null : Math.round(result.ageMs / 1000),
      plaintext_bytes: result.verification?.plaintextBytes ?? null,
      stored_bytes: result.verification?.storedBytes ?? null,
      sha256: result.verification?.sha256 ?? null,
      duration_ms: result.verification?.durationMs ?? null,
      check: result.check ?? null,
      problem: result.problem ?? null
    })),
    null,
    2
  )

export const drillVerb = ({ key, services, checkCommand, staleAfter, json, schedule, quiet, config }: Input<typeof drillFlags>) =>
  Effect.gen(function*() {
    const keys = yield* readKeys(key)
    const loaded = yield* loadConfig(config)
    const staleText = staleAfter._tag === "Some" ? staleAfter.value : loaded.config.drill?.staleAfter ?? "26h"
    const staleAfterMs = parseDuration(staleText)
    if (staleAfterMs === undefined || !(staleAfterMs > 0)) {
      return yield* Effect.fail(new InvalidFlagError({ flag: "--stale-after", detail: `not a duration: ${JSON.stringify(staleText)} (e.g. 26h, 2d)` }))
    }
    let check: ReadonlyArray<string> | undefined
    if (checkCommand._tag === "Some") {
      check = yield* Effect.try({
        try: () => splitShellWords(checkCommand.value),
        catch: (error) => new InvalidFlagError({ flag: "--check-command", detail: (error as Error).message })
      })
      if (check.length === 0) return yield* Effect.fail(new InvalidFlagError({ flag: "--check-command", detail: "empty command" }))
    }
    if (schedule._tag === "Some" && !isCron(schedule.value)) {
      return yield* Effect.fail(new InvalidFlagError({ flag: "--schedule", detail: "expected a 5-field cron expression such as '0 6 * * *'" }))
    }
    const once = Effect.gen(function*() {
      const results = yield* drill(keys, {
        services: services.length > 0 ? services : undefined,
        checks: loaded.config.drill?.checks,
        checkCommand: check,
        staleAfterMs
      })
      yield* printLine(json ? asJson(results) : results.length === 0 ? "no services in storage" : drillTable(results))
      yield* reportDrill(results)
      const failed = results.filter((result) => !result.ok).length
      // nothing to drill is not a proof that all is well
      if (results.length === 0) return yield* Effect.fail(new DrillFailed({ failed: 0, total: 0 }))
      if (failed > 0) return yield* Effect.fail(new DrillFailed({ failed, total: results.length }))
    })
    const layer = Layer.mergeAll(layerStorageWithProgress(loaded, quiet), layerAlertsOf(loaded))
    if (schedule._tag === "None") return yield* Effect.provide(once, layer)
    yield* stopIsSuccess
    yield* Effect.logInfo(`restore drills on "${schedule.value}" (${loaded.config.scheduleTimezone})`)
    // one drill's failure is in its table and its alerts; the next one still runs
    const logged = once.pipe(Effect.catch((error) => Effect.logError(`restore drill: ${error.message}`)))
    return yield* logged.pipe(Effect.schedule(Schedule.cron(schedule.value, loaded.config.scheduleTimezone)), Effect.provide(layer))
  })