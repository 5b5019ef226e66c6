/**
 * lambda-alertmanager (function61/lambda-alertmanager v1.0.0), spoken to
 * exactly as µbackup did (docs/ALERTING.md, lambda-alertmanager):
 *
 *   a failed target   POST {baseurl}/alerts/ingest
 *                     {"alert_key":"","subject":"µbackup <host>: <service>","details":"<error>","timestamp":"<RFC 3339>"}
 *   after the run     POST {baseurl}/deadmansswitch/checkin {"subject":"µbackup <host>","ttl":"+25h"}
 *                     only when every alert of the run was delivered
 *
 * The bodies are byte for byte what Go's json.Marshal wrote. Differences,
 * on purpose: a timeout and retries (µbackup had neither), and a trailing
 * `/` in baseurl is tolerated (µbackup's `//alerts/ingest` got a 301, a GET
 * and a 404). `baseurl` is the secret (the API Gateway ID): it is shown as
 * scheme://host only.
 */
import { Clock, Effect, Redacted } from "effect"
import { errorOf, type Outcome, type RunReport } from "../domain/Outcome.ts"
import { send } from "./http.ts"
import { type AlertSink, makeSink } from "./sink.ts"
import type { Warning } from "../domain/Warning.ts"
import { hostSubject, targetSubject, warningSubject } from "./text.ts"

export const sinkName = "lambda-alertmanager"

/** µbackup's deadline: it ran daily at 01:00, so 25 h leave an hour of grace. */
export const defaultTtl = "+25h"

const loneSurrogates = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g

/**
 * JSON as Go's json.Marshal writes it: no whitespace, keys in the given
 * order, `<` `>` `&` U+2028 U+2029 escaped, invalid UTF-16 (Go: invalid
 * UTF-8) as U+FFFD. The characters only occur inside strings, so replacing
 * them in the output is safe.
 */
export const goJson = (value: unknown): string =>
  JSON.stringify(value, (_key, v: unknown) => (typeof v === "string" ? v.replace(loneSurrogates, "\uFFFD") : v))
    .replaceAll("<", "\\u003c")
    .replaceAll(">", "\\u003e")
    .replaceAll("&", "\\u0026")
    .replaceAll("\u2028", "\\u2028")
    .replaceAll("\u2029", "\\u2029")

const pad = (n: number, width = 2) => String(n).padStart(width, "0")

/**
 * Go's time.Time in JSON (RFC3339Nano) in the local zone: fraction with
 * trailing zeros trimmed, `Z` for a zero offset, else `+03:00`.
 */
export const goTimestamp = (ms: number): string => {
  const date = new Date(ms)
  const offset = -date.getTimezoneOffset()
  const fraction = pad(date.getMilliseconds(), 3).replace(/0+$/, "")
  const zone = offset === 0 ? "Z" : `${offset > 0 ? "+" : "-"}${pad(Math.floor(Math.abs(offset) / 60))}:${pad(Math.abs(offset) % 60)}`
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}T${pad(date.getHours())}:${pad(date.getMinutes())}:${
    pad(date.getSeconds())
  }${fraction === "" ? "" : `.${fraction}`}${zone}`
}

export interface LambdaAlertmanagerOptions {
  readonly baseurl: Redacted.Redacted<string>
  readonly hostname: string
  /** lambda-alertmanager's ttl grammar: `+25h`, `+1d@02:00` or an RFC 3339 time. */
  readonly ttl?: string | undefined
}

export const makeLambdaAlertmanager = (options: LambdaAlertmanagerOptions): AlertSink => {
  // trailing slashes off, so that the paths join without `//`
  const endpoint = (path: string) => Redacted.value(options.baseurl).replace(/\/+$/, "") + path
  const ttl = options.ttl ?? defaultTtl

  const ingest = (what: string, subject: string, details: string) =>
    Effect.gen(function*() {
      const now = yield* Clock.currentTimeMillis
      yield* send({
        hideHost: true,
        sink: sinkName,
        what,
        method: "POST",
        url: endpoint("/alerts/ingest"),
        headers: { "Content-Type": "application/json" },
        // field order is alertmanagerclient's struct order; alert_key is always "" (the server assigns one)
        body: goJson({ alert_key: "", subject, details, timestamp: goTimestamp(now) })
      })
    })

  const targetFailed = Effect.fn("lambdaAlertmanager.targetFailed")(function*(outcome: Outcome) {
    yield* ingest(`alert for ${outcome.service}`, targetSubject(options.hostname, outcome.service), errorOf(outcome))
  })

  // lambda-alertmanager has no severities: a warning is an alert, its subject marked
  const warning = Effect.fn("lambdaAlertmanager.warning")(function*(warning: Warning) {
    yield* ingest(`warning for ${warning.service}`, warningSubject(options.hostname, warning), warning.message)
  })

  const runFinished = Effect.fn("lambdaAlertmanager.runFinished")(function*(_report: RunReport, allAlertsDelivered: boolean) {
    if (!allAlertsDelivered) {
      // µbackup's rule: a missing check-in makes the switch fire, which is
      // the only way left to tell someone that alerts are not getting through
      yield* Effect.logWarning(`${sinkName}: dead man's switch check-in skipped: not every alert of this run was delivered`)
      return
    }
    yield* send({
      hideHost: true,
      sink: sinkName,
      what: "dead man's switch check-in",
      method: "POST",
      url: endpoint("/deadmansswitch/checkin"),
      headers: { "Content-Type": "application/json" },
      body: goJson({ subject: hostSubject(options.hostname), ttl })
    })
  })

  return makeSink({ name: sinkName, targetFailed, warning, runFinished, runFinishedFailsRun: true })
}

