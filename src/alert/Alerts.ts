/**
 * The alert stage: what a run reports, fanned out to every configured sink
 * (lambda-alertmanager as µbackup spoke to it, Prometheus Alertmanager,
 * Healthchecks, ntfy, Uptime Kuma, webhooks).
 *
 *   runStarted     before the first target
 *   targetFailed   at once, for each failed target (µbackup's order)
 *   targetStored   for each stored target (resolves earlier alerts)
 *   warning        a stored backup that looks wrong (a size drop): sinks
 *                  that carry alerts tell a person; pings do not
 *   runFinished    after the last target of a whole run: the dead man's
 *                  switch check-in
 *
 * A run is whole when it covers the default schedule, i.e. every target
 * without a `ubackup.schedule` of its own. A run of only such labelled
 * targets is partial: it reports each target but sends no run-level ping,
 * so an hourly container cannot check in for, or clear, a failed daily run.
 *
 * A sink that cannot be reached is retried with backoff, then logged; the
 * dead man's switch is checked in only when every failure alert of the run
 * was delivered (as µbackup did), and a check-in that fails fails the run.
 */
import { Context, type Effect, Schema } from "effect"
import type { Outcome, RunReport } from "../domain/Outcome.ts"
import type { Warning } from "../domain/Warning.ts"

export class AlertError extends Schema.TaggedError<AlertError>()("AlertError", {
  /** `lambda-alertmanager`, `healthchecks`… */
  sink: Schema.String,
  /** What was being sent: `alert for db`, `dead man's switch check-in`. */
  what: Schema.String,
  detail: Schema.String
}) {
  override get message() {
    return `${this.sink}: ${this.what} failed: ${this.detail}`
  }
}

export class Alerts extends Context.Service<Alerts, {
  /** `whole`: false for a run of only targets with schedules of their own (no run-level pings). */
  readonly runStarted: (startedAt: Date, whole: boolean) => Effect.Effect<void>
  /** True when every sink took the alert. */
  readonly targetFailed: (outcome: Outcome) => Effect.Effect<boolean>
  readonly targetStored: (outcome: Outcome) => Effect.Effect<void>
  /** True when every sink took it. */
  readonly warning: (warning: Warning) => Effect.Effect<boolean>
  /** Whole runs only. `allAlertsDelivered`: false skips the dead man's switch check-in. Fails only when the check-in fails. */
  readonly runFinished: (report: RunReport, allAlertsDelivered: boolean) => Effect.Effect<void, AlertError>
}>()("ubackup/Alerts") {}
