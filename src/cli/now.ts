/** now: back up every target once (its flags: ./commands.ts) */
import { Effect } from "effect"
import { formatDuration, parseDuration } from "../domain/duration.ts"
import { Targets } from "../discovery/Targets.ts"
import { describeTarget } from "../domain/Target.ts"
import { writeTextfile } from "../metrics/publish.ts"
import { runReported } from "../pipeline/reported.ts"
import type { BackupResult, Outcome } from "../domain/Outcome.ts"
import { formatBytes } from "../domain/size.ts"
import { printLine, table } from "./io.ts"
import { layerRun } from "../api/run.ts"
import type { Input, nowFlags } from "./commands.ts"
import { loadConfigWithLimit, lowerPriority } from "./shared.ts"

/** ` on nas, offsite` for a backup stored on several destinations; nothing for one. */
const onDestinations = (backup: BackupResult) => (backup.copies === undefined ? "" : ` on ${backup.copies.map((copy) => copy.destination).join(", ")}`)

export const summaryTable = (outcomes: ReadonlyArray<Outcome>): string =>
  table([
    ["SERVICE", "TASK", "IN", "OUT", "TIME", "RESULT"],
    ...outcomes.map((outcome) => [
      outcome.service,
      outcome.taskId,
      outcome.result._tag === "Stored" ? formatBytes(outcome.result.backup.bytesIn) : "-",
      outcome.result._tag === "Stored" ? formatBytes(outcome.result.backup.size) : "-",
      formatDuration(outcome.durationMs),
      outcome.result._tag === "Stored" ? `ok ${outcome.result.backup.id}${onDestinations(outcome.result.backup)}` : `FAILED ${outcome.result.error.split("\n")[0]}`
    ])
  ])

export const summaryJson = (outcomes: ReadonlyArray<Outcome>): string =>
  JSON.stringify(
    outcomes.map((outcome) => {
      const stored = outcome.result._tag === "Stored" ? outcome.result.backup : undefined
      return {
        service: outcome.service,
        task_id: outcome.taskId,
        source: outcome.source,
        ok: stored !== undefined,
        backup_id: stored?.id ?? null,
        bytes_in: stored?.bytesIn ?? null,
        size_bytes: stored?.size ?? null,
        duration_ms: Math.round(outcome.durationMs),
        ...(stored?.copies === undefined ? {} : { destinations: stored.copies.map((copy) => ({ name: copy.destination, backup_id: copy.id, size_bytes: copy.size })) }),
        error: outcome.result._tag === "Stored" ? null : outcome.result.error
      }
    }),
    null,
    2
  )

export const now = ({ dryRun, json, limitUpload, config }: Input<typeof nowFlags>) =>
  Effect.gen(function*() {
    if (!dryRun) yield* lowerPriority
    const loaded = yield* loadConfigWithLimit(config, limitUpload)
    yield* Effect.gen(function*() {
      const discovered = yield* (yield* Targets).discover
      if (dryRun && json) {
        return yield* printLine(JSON.stringify(
          [
            ...discovered.targets.map((target) => ({ service: target.service, task_id: target.taskId, command: describeTarget(target), invalid: null })),
            ...discovered.invalid.map((target) => ({ service: target.service, task_id: target.taskId, command: null, invalid: target.reason }))
          ],
          null,
          2
        ))
      }
      if (dryRun) {
        yield* printLine(table([
          ["SERVICE", "TASK", "COMMAND"],
          ...discovered.targets.map((target) => [target.service, target.taskId, describeTarget(target)]),
          ...discovered.invalid.map((target) => [target.service, target.taskId, `INVALID ${target.reason}`])
        ]))
        const filtered = discovered.filtered ?? []
        if (filtered.length > 0) {
          yield* printLine(`not backed up (container_filter): ${filtered.join(", ")}`)
        }
        return
      }
      const { outcomes, verdict } = yield* runReported(discovered, {
        concurrency: loaded.config.concurrency,
        abandonedAfterMs: parseDuration(loaded.config.abortIncompleteUploadsAfter),
        sizeDrop: loaded.config.sizeDrop
      })
      yield* printLine(json ? summaryJson(outcomes) : outcomes.length === 0 ? "no targets" : summaryTable(outcomes))
      if (loaded.config.metricsTextfile !== undefined) yield* writeTextfile(loaded.config.metricsTextfile)
      if (verdict !== undefined) return yield* Effect.fail(verdict)
    }).pipe(Effect.provide(layerRun(loaded)))
  })