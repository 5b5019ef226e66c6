/**
 * The live `Alerts`: every event goes to every configured sink at once. A
 * sink that fails (after its retries) is logged and does not hold up the
 * others; for `targetFailed` it counts as "not delivered", which skips the
 * dead man's switch check-in (µbackup's rule). `runFinished` fails only
 * when lambda-alertmanager's check-in fails, as µbackup's run did; the
 * other sinks' end-of-run pings are only logged.
 */
import { Effect, Layer } from "effect"
import { HttpClient } from "effect/http"
import type { AlertsConfig } from "./config.ts"
import type { Outcome, RunReport } from "../domain/Outcome.ts"
import type { Warning } from "../domain/Warning.ts"
import { type AlertError, Alerts } from "./Alerts.ts"
import { makeHealthchecks } from "./healthchecks.ts"
import { makeLambdaAlertmanager } from "./lambdaAlertmanager.ts"
import { makeNtfy } from "./ntfy.ts"
import { makePrometheusAlertmanager } from "./prometheusAlertmanager.ts"
import type { AlertSink } from "./sink.ts"
import { makeUptimeKuma } from "./uptimeKuma.ts"
import { makeWebhook } from "./webhook.ts"

/** Alerts that go nowhere: no sink is configured. Every alert counts as delivered (there is no one to tell). */
export const none = Alerts.of({
  runStarted: () => Effect.void,
  targetFailed: () => Effect.succeed(true),
  targetStored: () => Effect.void,
  warning: () => Effect.succeed(true),
  runFinished: () => Effect.void
})

/** No alert sink: for runs (and tests) that tell no one. */
export const layerNone: Layer.Layer<Alerts> = Layer.succeed(Alerts, none)

/** The sinks `config` asks for, in a fixed order (the order of their log lines). */
export const sinksFromConfig = (config: AlertsConfig, hostname: string): ReadonlyArray<AlertSink> => {
  const sinks: Array<AlertSink> = []
  const alerts = config.alerts
  if (config.alertmanager !== undefined) {
    sinks.push(makeLambdaAlertmanager({ baseurl: config.alertmanager.baseurl, hostname, ttl: config.alertmanager.deadmansswitchTtl }))
  }
  if (alerts?.prometheusAlertmanager !== undefined) {
    sinks.push(makePrometheusAlertmanager({ url: alerts.prometheusAlertmanager.url, hostname, labels: alerts.prometheusAlertmanager.labels }))
  }
  if (alerts?.healthchecks !== undefined) sinks.push(makeHealthchecks({ url: alerts.healthchecks.url }))
  if (alerts?.ntfy !== undefined) sinks.push(makeNtfy({ url: alerts.ntfy.url, hostname, token: alerts.ntfy.token }))
  if (alerts?.uptimeKuma !== undefined) sinks.push(makeUptimeKuma({ pushUrl: alerts.uptimeKuma.pushUrl }))
  for (const [index, webhook] of (alerts?.webhooks ?? []).entries()) {
    sinks.push(makeWebhook({ url: webhook.url, headers: webhook.headers, hostname, index }))
  }
  return sinks
}

/** The error's message names the sink and what was sent; its detail never carries a secret (http.ts). */
const logged = (level: "Warn" | "Error") => (error: AlertError) =>
  level === "Error" ? Effect.logError(error.message) : Effect.logWarning(error.message)

/** Fans every event out to `sinks`, all at once, their requests through the HttpClient in context. */
export const makeAlerts = (sinks: ReadonlyArray<AlertSink>): Effect.Effect<Alerts["Service"], never, HttpClient.HttpClient> =>
  Effect.map(HttpClient.HttpClient, (client) => fanOut(sinks, client))

const fanOut = (sinks: ReadonlyArray<AlertSink>, client: HttpClient.HttpClient): Alerts["Service"] => {
  if (sinks.length === 0) return none
  const withClient = <A, E>(effect: Effect.Effect<A, E, HttpClient.HttpClient>) =>
    Effect.provideService(effect, HttpClient.HttpClient, client)

  /** Runs `f` on every sink concurrently; each sink's failure is logged; true when all succeeded. */
  const everySink = (level: "Warn" | "Error", f: (sink: AlertSink) => Effect.Effect<void, AlertError, HttpClient.HttpClient>) =>
    Effect.forEach(
      sinks,
      (sink) => withClient(f(sink)).pipe(Effect.as(true), Effect.catch((error) => logged(level)(error).pipe(Effect.as(false)))),
      { concurrency: "unbounded" }
    ).pipe(Effect.map((delivered) => delivered.every(Boolean)))

  const runStarted = (startedAt: Date, whole: boolean) =>
    everySink("Warn", (sink) => sink.runStarted(startedAt, whole)).pipe(Effect.asVoid)

  // an alert that did not get through is an error: someone may not learn of a failed backup
  const targetFailed = (outcome: Outcome) => everySink("Error", (sink) => sink.targetFailed(outcome))

  const targetStored = (outcome: Outcome) => everySink("Warn", (sink) => sink.targetStored(outcome)).pipe(Effect.asVoid)

  const warning = (warning: Warning) => everySink("Warn", (sink) => sink.warning(warning))

  const runFinished = (report: RunReport, allAlertsDelivered: boolean) =>
    Effect.gen(function*() {
      // every sink finishes its ping before the run's outcome is decided
      const results = yield* Effect.forEach(
        sinks,
        (sink) => withClient(sink.runFinished(report, allAlertsDelivered)).pipe(Effect.result, Effect.map((result) => ({ sink, result }))),
        { concurrency: "unbounded" }
      )
      let fatal: AlertError | undefined
      for (const { sink, result } of results) {
        if (result._tag === "Success") continue
        if (sink.runFinishedFailsRun) fatal ??= result.failure
        else yield* logged("Warn")(result.failure)
      }
      if (fatal !== undefined) return yield* fatal
    })

  return Alerts.of({ runStarted, targetFailed, targetStored, warning, runFinished })
}

/**
 * `Alerts` for the sinks `config` lists (`alertmanager`, `alerts.*`), their
 * requests through the HttpClient in context; a no-op without any.
 */
export const layerConfig = (config: AlertsConfig, hostname: string): Layer.Layer<Alerts, never, HttpClient.HttpClient> =>
  // Layer.effect: sinks keep per-layer state (Healthchecks' run IDs), made fresh with each layer
  Layer.effect(Alerts, Effect.suspend(() => makeAlerts(sinksFromConfig(config, hostname))))

