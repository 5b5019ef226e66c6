/**
 * A run as `now` and the scheduler do it: every due target through
 * `runAll`, each outcome reported at once to the alert sinks and the
 * metrics, and the run's end reported last (the dead man's switch).
 */
import { Clock, Effect, type Option, Schema } from "effect"
import { type AlertError, Alerts } from "../alert/Alerts.ts"
import type { Discovered } from "../domain/Target.ts"
import { Metrics } from "../metrics/Metrics.ts"
import { MoreDestinations, Storage } from "../storage/Storage.ts"
import { printable } from "../text/printable.ts"
import { Hostname } from "./backup.ts"
import { runAll, type RunOptions } from "./run.ts"
import { failedOutcomes, type Outcome } from "../domain/Outcome.ts"
import { BackupHistory } from "../history/BackupHistory.ts"
import { defaultSizeDrop, sizeDrop, type SizeDropOptions } from "../history/sizeDrop.ts"

/** Some targets of a run failed (each was reported on its own). */
export class RunFailed extends Schema.TaggedError<RunFailed>()("RunFailed", {
  failed: Schema.Number,
  total: Schema.Number
}) {
  override get message() {
    return `${this.failed} of ${this.total} target(s) failed`
  }
}

export interface ReportedRun {
  readonly outcomes: ReadonlyArray<Outcome>
  /** The dead man's switch check-in failed: the run counts as failed, even when every backup was stored (µbackup's rule). */
  readonly checkInError: AlertError | undefined
  /** What fails the run, if anything: failed targets, else a failed check-in. `now` fails with it; the scheduler logs it and goes on. */
  readonly verdict: RunFailed | AlertError | undefined
}

const verdictOf = (outcomes: ReadonlyArray<Outcome>, checkInError: AlertError | undefined) => {
  const failed = failedOutcomes(outcomes).length
  return failed > 0 ? new RunFailed({ failed, total: outcomes.length }) : checkInError
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
  /** The size-drop check against the BackupHistory in context (none: no check); default ratio 0.5 of the last 7. */
  readonly sizeDrop?: SizeDropOptions | undefined
}

/**
 * Removes the leftovers of this host's killed backups. A failure is logged,
 * not fatal: it never stops the backups themselves.
 */
export const cleanupAbandoned = (olderThanMs: number) =>
  Effect.gen(function*() {
    const storage = yield* Storage
    const hostname = yield* Hostname
    const { primary, more } = yield* MoreDestinations
    // every destination of a storage list: a killed backup left something on each
    for (const destination of [{ name: primary, storage }, ...more]) {
      const where = more.length === 0 ? "" : ` on ${destination.name}`
      const result = yield* Effect.result(destination.storage.cleanup({ olderThanMs, hostname }))
      if (result._tag === "Failure") {
        yield* Effect.logWarning(`could not clean up after stopped backups${where}: ${result.failure.message}`)
        continue
      }
      const removed = result.success.removed
      if (removed.length > 0) {
        yield* Effect.logWarning(
          `removed what ${removed.length} stopped backup(s) left behind${where} (incomplete uploads or temporary files): ` +
            removed.map(printable).join(", ")
        )
      }
    }
  })

/**
 * Records a stored backup in the history, if there is one, and warns (log
 * and alert sinks) when it is much smaller than the service's recent ones.
 */
const checkSize = (
  outcome: Outcome,
  options: SizeDropOptions,
  alerts: Alerts["Service"],
  history: Option.Option<BackupHistory["Service"]>
) =>
  Effect.gen(function*() {
    if (outcome.result._tag !== "Stored" || history._tag === "None") return
    const backup = outcome.result.backup
    const at = yield* Clock.currentTimeMillis
    const earlier = yield* history.value.record(outcome.service, { id: backup.id, at, bytes: backup.size, durationMs: outcome.durationMs })
    if (!(options.ratio > 0)) return
    const warning = sizeDrop({ service: outcome.service, backupId: backup.id, bytes: backup.size }, earlier.map((entry) => entry.bytes), options)
    if (warning === undefined) return
    yield* Effect.logWarning(`${printable(outcome.service)}: ${printable(warning.message)}`)
    yield* alerts.warning(warning)
  })

export const runReported = (discovered: Discovered, options: ReportedRunOptions) =>
  Effect.gen(function*() {
    const alerts = yield* Alerts
    const metrics = yield* Metrics
    /** Optional: a run without one (an app's, a test's) makes no size-drop check. */
    const history = yield* Effect.serviceOption(BackupHistory)
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
          if (outcome.result._tag === "Stored") {
            yield* alerts.targetStored(outcome)
            return yield* checkSize(outcome, options.sizeDrop ?? defaultSizeDrop, alerts, history)
          }
          if (!(yield* alerts.targetFailed(outcome))) allAlertsDelivered = false
        })
    })
    const report = { hostname, startedAt, finishedAt: yield* now, outcomes }
    yield* metrics.recordRun(report, whole)
    if (!whole) return { outcomes, checkInError: undefined, verdict: verdictOf(outcomes, undefined) } satisfies ReportedRun
    const checkIn = yield* Effect.result(alerts.runFinished(report, allAlertsDelivered))
    const checkInError = checkIn._tag === "Failure" ? checkIn.failure : undefined
    return { outcomes, checkInError, verdict: verdictOf(outcomes, checkInError) } satisfies ReportedRun
  })
