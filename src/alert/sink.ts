/**
 * One alert destination. Unlike `Alerts`, a sink reports its failures as
 * `AlertError`s: the fan-out (layer.ts) decides which of them only get
 * logged and which fail the run. Its requests go through the `HttpClient`
 * in context (http.ts).
 */
import { Effect } from "effect"
import type { HttpClient } from "effect/http"
import type { Outcome, RunReport } from "../domain/Outcome.ts"
import type { Warning } from "../domain/Warning.ts"
import type { AlertError } from "./Alerts.ts"

export interface AlertSink {
  /** For logs: `lambda-alertmanager`, `webhook 1 (https://example.com)`. */
  readonly name: string
  /** `whole`: see `Alerts`; `runFinished` follows only whole runs. */
  readonly runStarted: (startedAt: Date, whole: boolean) => Effect.Effect<void, AlertError, HttpClient.HttpClient>
  readonly targetFailed: (outcome: Outcome) => Effect.Effect<void, AlertError, HttpClient.HttpClient>
  readonly targetStored: (outcome: Outcome) => Effect.Effect<void, AlertError, HttpClient.HttpClient>
  readonly warning: (warning: Warning) => Effect.Effect<void, AlertError, HttpClient.HttpClient>
  readonly runFinished: (report: RunReport, allAlertsDelivered: boolean) => Effect.Effect<void, AlertError, HttpClient.HttpClient>
  /** When runFinished's failure fails the run (the dead man's switch check-in, µbackup's rule) rather than being logged. */
  readonly runFinishedFailsRun: boolean
}

/** A sink from the events it handles; the others do nothing. */
export const makeSink = (
  sink: Pick<AlertSink, "name"> & Partial<Omit<AlertSink, "name">>
): AlertSink => ({
  runStarted: () => Effect.void,
  targetFailed: () => Effect.void,
  targetStored: () => Effect.void,
  warning: () => Effect.void,
  runFinished: () => Effect.void,
  runFinishedFailsRun: false,
  ...sink
})
