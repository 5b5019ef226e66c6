/**
 * An Uptime Kuma push monitor (docs/ALERTING.md, Uptime Kuma): after each run,
 * GET <push_url>?status=up|down&msg=<summary>&ping=<run duration in ms>.
 * Down when any target failed. A push monitor goes down by itself when no
 * push arrives in its heartbeat interval, so it is also a dead man's switch.
 *
 * GET because Uptime Kuma 1.23 routes only GET for pushes. The query
 * parameters replace those the UI puts in the URL it shows
 * (`?status=up&msg=OK&ping=`). The push token is in the path: the URL is a
 * secret.
 */
import { Effect, Redacted } from "effect"
import { failedOutcomes, type RunReport } from "../domain/Outcome.ts"
import { extendUrl, send } from "./http.ts"
import { type AlertSink, makeSink } from "./sink.ts"
import { runSummary } from "./text.ts"

export const sinkName = "uptime-kuma"

export interface UptimeKumaOptions {
  readonly pushUrl: Redacted.Redacted<string>
}

export const makeUptimeKuma = (options: UptimeKumaOptions): AlertSink => {
  const runFinished = Effect.fn("uptimeKuma.runFinished")(function*(report: RunReport) {
    const down = failedOutcomes(report.outcomes).length > 0
    // Uptime Kuma accepts a ping of 0..1e11 ms
    const ping = Math.min(1e11, Math.max(0, Math.round(report.finishedAt.getTime() - report.startedAt.getTime())))
    yield* send({
      sink: sinkName,
      what: `push (${down ? "down" : "up"})`,
      method: "GET",
      url: extendUrl(Redacted.value(options.pushUrl), "", { status: down ? "down" : "up", msg: runSummary(report), ping: String(ping) })
    })
  })

  return makeSink({ name: sinkName, runFinished })
}
