/**
 * A generic JSON webhook (docs/ALERTING.md, Webhooks; no standard exists, so the
 * shape is ours): POST <url> with the configured headers and
 *
 *   {"event":"backup_failed"|"backup_stored"|"backup_warning"|"run_finished","host","service",
 *    "title","message","timestamp", …event's own fields}
 *
 * `title` and `message` are what chat bridges (shoutrrr's `template=json`)
 * show; the other fields are for programs. The URL (often a token in the
 * path) and the header values (Authorization…) are secrets.
 */
import { Clock, Effect, Redacted } from "effect"
import { errorOf, failedOutcomes, type Outcome, type RunReport } from "../domain/Outcome.ts"
import { displayUrl, send } from "./http.ts"
import { type AlertSink, makeSink } from "./sink.ts"
import { severityOf, type Warning } from "../domain/Warning.ts"
import { hostSubject, runReportText, targetSubject, warningSubject } from "./text.ts"

export interface WebhookOptions {
  readonly url: Redacted.Redacted<string>
  readonly headers?: Readonly<Record<string, Redacted.Redacted<string>>> | undefined
  readonly hostname: string
  /** Its place in the config's list, to tell webhooks apart in logs. */
  readonly index: number
}

/** The fields every event has besides event, host and timestamp (service: the target events only). */
interface Common {
  readonly service?: string
  readonly title: string
  readonly message: string
}

export type WebhookEvent = "backup_failed" | "backup_stored" | "backup_warning" | "run_finished"

export const makeWebhook = (options: WebhookOptions): AlertSink => {
  const name = `webhook ${options.index + 1} (${displayUrl(Redacted.value(options.url))})`
  const headerEntries = Object.entries(options.headers ?? {}).map(([header, value]) => [header, Redacted.value(value)] as const)
  const hasContentType = headerEntries.some(([header]) => header.toLowerCase() === "content-type")
  const headers = Object.fromEntries([...(hasContentType ? [] : [["Content-Type", "application/json"] as const]), ...headerEntries])
  const secrets = headerEntries.map(([, value]) => value)

  const post = (event: WebhookEvent, what: string, common: Common, fields: Readonly<Record<string, unknown>>) =>
    Effect.gen(function*() {
      const timestamp = new Date(yield* Clock.currentTimeMillis).toISOString()
      yield* send({
        sink: name,
        what,
        method: "POST",
        url: Redacted.value(options.url),
        headers,
        // the common fields first, in the documented order, for people reading the payload
        body: JSON.stringify({ event, host: options.hostname, ...common, timestamp, ...fields }),
        secrets
      })
    })

  const targetFields = (outcome: Outcome) => ({ service: outcome.service, title: targetSubject(options.hostname, outcome.service) })

  const targetFailed = Effect.fn("webhook.targetFailed")(function*(outcome: Outcome) {
    yield* post("backup_failed", `backup_failed event for ${outcome.service}`, { ...targetFields(outcome), message: errorOf(outcome) }, {
      source: outcome.source,
      task_id: outcome.taskId,
      duration_ms: Math.round(outcome.durationMs)
    })
  })

  const targetStored = Effect.fn("webhook.targetStored")(function*(outcome: Outcome) {
    if (outcome.result._tag !== "Stored") return
    const backup = outcome.result.backup
    const message = `stored ${backup.id} (${backup.size} bytes)`
    yield* post("backup_stored", `backup_stored event for ${outcome.service}`, { ...targetFields(outcome), message }, {
      source: outcome.source,
      task_id: outcome.taskId,
      duration_ms: Math.round(outcome.durationMs),
      backup_id: backup.id,
      size_bytes: backup.size
    })
  })

  const warning = Effect.fn("webhook.warning")(function*(warning: Warning) {
    yield* post(
      "backup_warning",
      `backup_warning event for ${warning.service}`,
      { service: warning.service, title: warningSubject(options.hostname, warning), message: warning.message },
      { kind: warning.kind, severity: severityOf(warning), backup_id: warning.backupId ?? null, ...warning.figures }
    )
  })

  const runFinished = Effect.fn("webhook.runFinished")(function*(report: RunReport) {
    const failed = failedOutcomes(report.outcomes)
    const common = { title: hostSubject(options.hostname), message: runReportText(report).trimEnd() }
    yield* post("run_finished", "run_finished event", common, {
      success: failed.length === 0,
      targets: report.outcomes.length,
      stored: report.outcomes.length - failed.length,
      failed: failed.length,
      failed_services: [...new Set(failed.map((outcome) => outcome.service))],
      started_at: report.startedAt.toISOString(),
      finished_at: report.finishedAt.toISOString(),
      duration_ms: Math.max(0, report.finishedAt.getTime() - report.startedAt.getTime())
    })
  })

  return makeSink({ name, targetFailed, targetStored, warning, runFinished })
}
