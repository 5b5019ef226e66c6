/** `storage prune`: the retention policy of the flags, or else of the config, applied; thin over src/retention/ (its flags: ./commands.ts). */
import { Effect, Option } from "effect"
import { formatBytes } from "../domain/size.ts"
import { layerStorageFrom } from "../config/layers.ts"
import { loadConfig } from "../config/load.ts"
import { policyForService } from "../retention/config.ts"
import { parseCalendarSpan, type RetentionPolicy } from "../retention/policy.ts"
import { type PlannedBackup, prune, type PruneResult, RetentionError } from "../retention/prune.ts"
import { printable } from "../text/printable.ts"
import { InvalidFlagError, printLine, table } from "./io.ts"
import type { Input, pruneFlags } from "./commands.ts"

/** A count flag's value: a whole number, or all/unlimited (restic's -1). */
const parseCount = (flag: string, value: Option.Option<string>): Effect.Effect<number | undefined, InvalidFlagError> => {
  if (Option.isNone(value)) return Effect.succeed(undefined)
  const text = value.value.trim()
  if (text === "all" || text === "unlimited" || text === "-1") return Effect.succeed(-1)
  return /^\d{1,7}$/.test(text)
    ? Effect.succeed(Number(text))
    : Effect.fail(new InvalidFlagError({ flag: `--${flag}`, detail: `${JSON.stringify(text)} is not a count: give a whole number, or all` }))
}

const jsonOf = (result: PruneResult) => {
  const backup = (planned: PlannedBackup) => ({ id: planned.id, size_bytes: planned.size, series: planned.series, reasons: planned.reasons })
  return {
    dry_run: result.dryRun,
    services: result.services.map((plan) => ({
      service: plan.service,
      policy: plan.policy,
      keep: plan.keep.map(backup),
      remove: plan.remove.map((planned) => ({ id: planned.id, size_bytes: planned.size, series: planned.series })),
      ignored: plan.ignored
    })),
    removed: result.removed,
    failed: result.failed
  }
}

const printPlan = (result: PruneResult) =>
  Effect.gen(function*() {
    for (const plan of result.services) {
      const series = new Set([...plan.keep, ...plan.remove].map((backup) => backup.series)).size
      yield* printLine(`${printable(plan.service)}: ${plan.policy} (${series} series)`)
      const rows = [...plan.keep.map((backup) => ["keep", printable(backup.id), backup.reasons.join(", ")]), ...plan.remove.map((backup) => [
        result.dryRun ? "would remove" : "remove",
        printable(backup.id),
        ""
      ])].sort((a, b) => (a[1]! < b[1]! ? -1 : a[1]! > b[1]! ? 1 : 0))
      if (rows.length > 0) yield* printLine(table(rows.map((row) => ["  " + row[0]!, row[1]!, row[2]!])))
      for (const id of plan.ignored) yield* printLine(`  ignored ${printable(id)} (not a backup ID)`)
    }
  })

export const pruneVerb = (flags: Input<typeof pruneFlags>) =>
  loadConfig(flags.config).pipe(Effect.flatMap((loaded) =>
    Effect.gen(function*() {
      const counts = {
        keepLast: yield* parseCount("keep-last", flags.keepLast),
        keepHourly: yield* parseCount("keep-hourly", flags.keepHourly),
        keepDaily: yield* parseCount("keep-daily", flags.keepDaily),
        keepWeekly: yield* parseCount("keep-weekly", flags.keepWeekly),
        keepMonthly: yield* parseCount("keep-monthly", flags.keepMonthly),
        keepYearly: yield* parseCount("keep-yearly", flags.keepYearly)
      }
      let keepWithin = undefined
      if (Option.isSome(flags.keepWithin)) {
        keepWithin = parseCalendarSpan(flags.keepWithin.value)
        if (keepWithin === undefined) {
          return yield* new InvalidFlagError({
            flag: "--keep-within",
            detail: `${JSON.stringify(flags.keepWithin.value)} is not a span such as 30d, 6m or 1y2m (y years, m months, d days, h hours)`
          })
        }
      }
      const fromFlags: RetentionPolicy = { ...counts, keepWithin }
      const anyFlag = keepWithin !== undefined || Object.values(counts).some((count) => count !== undefined)
      if (!anyFlag && loaded.config.retention === undefined) {
        return yield* new RetentionError({
          service: "",
          detail: "no keep rule: give --keep-last, --keep-daily, … or --keep-within, or a retention section in the config"
        })
      }
      const policyFor = anyFlag ? () => fromFlags : policyForService(loaded.config.retention)
      const result = yield* prune({ services: flags.services, policyFor, dryRun: flags.dryRun })
      if (flags.json) {
        yield* printLine(JSON.stringify(jsonOf(result), null, 2))
      } else {
        yield* printPlan(result)
        const doomed = result.services.flatMap((plan) => plan.remove)
        const kept = result.services.reduce((sum, plan) => sum + plan.keep.length, 0)
        const bytes = doomed.reduce((sum, backup) => sum + backup.size, 0)
        yield* printLine(
          result.dryRun
            ? `dry run: would remove ${doomed.length} backup(s) (${formatBytes(bytes)}), keep ${kept}`
            : `removed ${result.removed.length} backup(s), kept ${kept}${result.failed.length > 0 ? `; ${result.failed.length} not removed (see below)` : ""}`
        )
      }
      // a backup under an Object Lock retention is skipped, as the lock means; anything else is an error
      const locked = result.failed.filter((failure) => failure.reason === "Locked")
      const failed = result.failed.filter((failure) => failure.reason !== "Locked")
      for (const failure of locked) yield* Effect.logWarning(`kept ${printable(failure.id)}: ${failure.detail}`)
      for (const failure of failed) yield* Effect.logError(`could not remove ${printable(failure.id)}: ${failure.detail}`)
      if (failed.length > 0) {
        return yield* new RetentionError({ service: "", detail: `${failed.length} backup(s) could not be removed (see above); the rest were` })
      }
    }).pipe(Effect.provide(layerStorageFrom(loaded, Option.getOrUndefined(flags.from))))
  ))