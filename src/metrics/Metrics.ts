/**
 * What the runs did, per service, as Prometheus text: served by the
 * scheduler (`metrics_listen`) and written as a node_exporter textfile by
 * `now` (`metrics_textfile`).
 */
import { Context, type Effect } from "effect"
import type { Outcome, RunReport } from "../domain/Outcome.ts"

export class Metrics extends Context.Service<Metrics, {
  readonly recordOutcome: (outcome: Outcome, at: Date) => Effect.Effect<void>
  /** Ends a run; `whole` (see `Alerts`) runs also set the `ubackup_last_run_*` gauges. */
  readonly recordRun: (report: RunReport, whole: boolean) => Effect.Effect<void>
  /** The Prometheus text exposition (format 0.0.4), no timestamps. */
  readonly render: Effect.Effect<string>
}>()("ubackup/Metrics") {}
