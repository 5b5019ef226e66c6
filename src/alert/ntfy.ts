/**
 * ntfy (docs/ALERTING.md, ntfy): one push per failed target, in ntfy's simple
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
import { targetSubject, truncateUtf8 } from "./text.ts"

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
  const targetFailed = Effect.fn("ntfy.targetFailed")(function*(outcome: Outcome) {
    const headers: Record<string, string> = {
      "Content-Type": "text/plain; charset=utf-8",
      Title: headerText(targetSubject(options.hostname, outcome.service)),
      Priority: "high",
      Tags: "warning"
    }
    const secrets: Array<string> = []
    if (options.token !== undefined) {
      headers["Authorization"] = `Bearer ${Redacted.value(options.token)}`
      secrets.push(Redacted.value(options.token))
    }
    yield* send({
      sink: sinkName,
      what: `notification for ${outcome.service}`,
      method: "POST",
      url: options.url,
      headers,
      body: truncateUtf8(errorOf(outcome) || "backup failed", maxMessageBytes),
      secrets
    })
  })

  return makeSink({ name: sinkName, targetFailed })
}
