/**
 * A run as `now` and the scheduler do it: every due target through
 * `runAll`, each outcome reported at once to the alert sinks and the
 * metrics, and the run's end reported last (the dead man's switch).
 */
import { Clock, Effect } from "effect"
import { type AlertError, Alerts } from "../alert/Alerts.ts"
import type { Discovered } from "../domain/Target.ts"
import { Metrics } from "../metrics/Metrics.ts"
import { Storage } from "../storage/Storage.ts"
import { printable } from "../text/printable.ts"
import { Hostname } from "./backup.ts"
import { runAll, type RunOptions } from "./run.ts"
import type { Outcome } from "../domain/Outcome.ts"

export interface ReportedRun {
  readonly outcomes: ReadonlyArray<Outcome>
  /** The dead man's switch check-in failed: the run counts as failed, even when every backup was stored (µbackup's rule). */
  readonly checkInError: AlertError | undefined
}

export interface ReportedRunOptions extends Pick<RunOptions, "concurrency"> {
  /**
   * False for a run of only targets with schedules of their own: each target
   * is reported, but no run-level ping or dead man's switch check-in is sent
   * (see `Alerts`). Default true.
   */
  readonly whole?: boolean
  /**
   * Before the run, what backups of this host that were killed left behind
   * (temporary files, open multipart uploads) with no activity for this long
   * is removed (`abort_incomplete_uploads_after`). Undefined: nothing is.
   */
  readonly abandonedAfterMs?: number | undefined
}

/**
 * Removes the leftovers of this host's killed backups. A failure is logged,
 * not fatal: it never stops the backups themselves.
 */
export const cleanupAbandoned = (olderThanMs: number) =>
  Effect.gen(function*() {
    const storage = yield* Storage
    const hostname = yield* Hostname
    const result = yield* Effect.result(storage.cleanup({ olderThanMs, hostname }))
    if (result._tag === "Failure") {
      return yield* Effect.logWarning(`could not clean up after stopped backups: ${result.failure.message}`)
    }
    const removed = result.success.removed
    if (removed.length > 0) {
      yield* Effect.logWarning(
        `removed what ${removed.length} stopped backup(s) left behind (incomplete uploads or temporary files): ` +
          removed.map(printable).join(", ")
      )
    }
  })

export const runReported = (discovered: Discovered, options: ReportedRunOptions) =>
  Effect.gen(function*() {
    const alerts = yield* Alerts
    const metrics = yield* Metrics
    const hostname = yield* Hostname
    const now = Effect.map(Clock.currentTimeMillis, (ms) => new Date(ms))
    const startedAt = yield* now
    const whole = options.whole ?? true
    if (options.abandonedAfterMs !== undefined) yield* cleanupAbandoned(options.abandonedAfterMs)
    yield* alerts.runStarted(startedAt, whole)
    let allAlertsDelivered = true
    const outcomes = yield* runAll(discovered, {
      concurrency: options.concurrency,
      onOutcome: (outcome) =>
        Effect.gen(function*() {
          yield* metrics.recordOutcome(outcome, yield* now)
          if (outcome.result._tag === "Stored") return yield* alerts.targetStored(outcome)
          if (!(yield* alerts.targetFailed(outcome))) allAlertsDelivered = false
        })
    })
    const report = { hostname, startedAt, finishedAt: yield* now, outcomes }
    yield* metrics.recordRun(report, whole)
    if (!whole) return { outcomes, checkInError: undefined } satisfies ReportedRun
    const checkIn = yield* Effect.result(alerts.runFinished(report, allAlertsDelivered))
    return { outcomes, checkInError: checkIn._tag === "Failure" ? checkIn.failure : undefined } satisfies ReportedRun
  })
