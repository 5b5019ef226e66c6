/**
 * ntfy (docs/ALERTING.md, ntfy): one push per failed target (and per warning), in ntfy's simple
 * form: POST to the topic URL, the error as the body, the rest as headers.
 *
 * HTTP header values are Latin-1 on the wire (fetch sends `µ` as the single
 * byte B5), so a title that is not ASCII is sent as an RFC 2047 encoded
 * word (`=?UTF-8?B?…?=`), which ntfy decodes. The topic name is all that
 * protects a topic on a public server, so the URL is shown as scheme://host.
 */
import { Effect, Redacted } from "effect"
import { errorOf, type Outcome } from "../domain/Outcome.ts"
import { send } from "./http.ts"
import { type AlertSink, makeSink } from "./sink.ts"
import { severityOf, type Warning } from "../domain/Warning.ts"
import { targetSubject, truncateUtf8, warningSubject } from "./text.ts"

export const sinkName = "ntfy"

/** ntfy turns a longer message into an attachment; an error text should stay readable in the notification. */
export const maxMessageBytes = 4096

/** `text` as a header value: as is when printable ASCII, else an RFC 2047 encoded word. */
export const headerText = (text: string): string =>
  /^[\x20-\x7e]*$/.test(text) ? text : `=?UTF-8?B?${Buffer.from(text, "utf8").toString("base64")}?=`

export interface NtfyOptions {
  /** The topic URL, `https://ntfy.sh/mytopic`. */
  readonly url: string
  readonly hostname: string
  /** An access token (`tk_…`), sent as `Authorization: Bearer`. */
  readonly token?: Redacted.Redacted<string> | undefined
}

export const makeNtfy = (options: NtfyOptions): AlertSink => {
  const push = (what: string, title: string, priority: string, body: string) => {
    const headers: Record<string, string> = {
      "Content-Type": "text/plain; charset=utf-8",
      Title: headerText(title),
      Priority: priority,
      Tags: "warning"
    }
    const secrets: Array<string> = []
    if (options.token !== undefined) {
      headers["Authorization"] = `Bearer ${Redacted.value(options.token)}`
      secrets.push(Redacted.value(options.token))
    }
    return send({ sink: sinkName, what, method: "POST", url: options.url, headers, body: truncateUtf8(body, maxMessageBytes), secrets })
  }

  const targetFailed = Effect.fn("ntfy.targetFailed")(function*(outcome: Outcome) {
    yield* push(
      `notification for ${outcome.service}`,
      targetSubject(options.hostname, outcome.service),
      "high",
      errorOf(outcome) || "backup failed"
    )
  })

  // a size drop: ntfy's default priority, below a failure's; a stale or unrestorable backup is as bad as a failure
  const warning = Effect.fn("ntfy.warning")(function*(warning: Warning) {
    yield* push(
      `warning for ${warning.service}`,
      warningSubject(options.hostname, warning),
      severityOf(warning) === "critical" ? "high" : "default",
      warning.message
    )
  })

  return makeSink({ name: sinkName, targetFailed, warning })
}
