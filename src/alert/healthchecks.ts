/**
 * A Healthchecks check (healthchecks.io or self-hosted; docs/ALERTING.md, Healthchecks):
 *
 *   run started    GET  <url>/start?rid=<uuid>
 *   all stored     POST <url>?rid=<uuid>        the summary
 *   any failed     POST <url>/fail?rid=<uuid>   the summary and each failure's error
 *
 * The run ID pairs start and finish, so Healthchecks shows the run's
 * duration even when runs overlap. Healthchecks itself is the dead man's
 * switch: a missing finish ping after its grace time marks the check down.
 * The ping URL carries the check's UUID (or ping key), so it is a secret.
 */
import { Effect, Redacted } from "effect"
import * as crypto from "node:crypto"
import { failedOutcomes, type RunReport } from "../domain/Outcome.ts"
import { extendUrl, send } from "./http.ts"
import { type AlertSink, makeSink } from "./sink.ts"
import { runReportText, truncateUtf8 } from "./text.ts"

export const sinkName = "healthchecks"

/** The self-hosted default PING_BODY_LIMIT: a longer body is cut by the server (hosted allows 100 kB). */
export const maxBodyBytes = 10_000

export interface HealthchecksOptions {
  readonly url: Redacted.Redacted<string>
}

export const makeHealthchecks = (options: HealthchecksOptions): AlertSink => {
  // run ID per run, keyed by its start time: runs may overlap (per-container schedules)
  const runIds = new Map<number, string>()
  // a smaller Ping-Body-Limit announced by the server wins over ours
  let bodyLimit = maxBodyBytes

  const ping = (signal: "" | "/start" | "/fail", rid: string | undefined) =>
    extendUrl(Redacted.value(options.url), signal, rid === undefined ? {} : { rid })

  const learnLimit = (headers: Readonly<Record<string, string>>) => {
    const announced = Number(headers["ping-body-limit"])
    if (Number.isSafeInteger(announced) && announced > 0) bodyLimit = Math.min(maxBodyBytes, announced)
  }

  const runStarted = Effect.fn("healthchecks.runStarted")(function*(startedAt: Date, whole: boolean) {
    // the check's start/success/fail pings describe whole runs only
    if (!whole) return
    const rid = crypto.randomUUID()
    runIds.set(startedAt.getTime(), rid)
    const reply = yield* send({ sink: sinkName, what: "start ping", method: "GET", url: ping("/start", rid) })
    learnLimit(reply.headers)
  })

  const runFinished = Effect.fn("healthchecks.runFinished")(function*(report: RunReport) {
    const key = report.startedAt.getTime()
    const rid = runIds.get(key)
    runIds.delete(key)
    const failed = failedOutcomes(report.outcomes).length > 0
    const reply = yield* send({
      sink: sinkName,
      what: failed ? "fail ping" : "success ping",
      method: "POST",
      // without a start ping (it failed) there is no run ID to pair with: plain success/fail
      url: ping(failed ? "/fail" : "", rid),
      headers: { "Content-Type": "text/plain; charset=utf-8" },
      body: truncateUtf8(runReportText(report), bodyLimit)
    })
    learnLimit(reply.headers)
  })

  return makeSink({ name: sinkName, runStarted, runFinished })
}
