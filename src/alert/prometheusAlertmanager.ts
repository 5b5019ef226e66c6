/**
 * Prometheus Alertmanager, API v2 (docs/ALERTING.md, Prometheus
 * Alertmanager): a failed target fires `UbackupBackupFailed{host, service}`,
 * the next stored backup of the service resolves it.
 *
 * ubackup runs once a day and does not re-send firing alerts, so a firing
 * alert carries endsAt = now + 25 h: it stays active until the next run
 * (plus an hour of grace), instead of Alertmanager's resolve_timeout (5 m).
 * A resolve is the same label set with endsAt = now. It is sent for every
 * stored target, not only for ones that failed earlier: that costs one
 * small request, and it also resolves alerts fired before a restart of
 * ubackup. It is not sent for a service another target of which (a Swarm
 * replica) failed in the same run: the alert is the service's, and one
 * stored replica does not make the service's backup good.
 */
import { Clock, Effect } from "effect"
import { errorOf, type Outcome } from "../domain/Outcome.ts"
import { send } from "./http.ts"
import { type AlertSink, makeSink } from "./sink.ts"
import { severityOf, type Warning } from "../domain/Warning.ts"
import { targetSubject, warningSubject } from "./text.ts"

export const sinkName = "prometheus-alertmanager"
export const alertName = "UbackupBackupFailed"
/** The alert of each kind of warning; they expire like a failure's, and no stored backup resolves them. */
export const warningAlertNames: Readonly<Record<Warning["kind"], string>> = {
  SizeDrop: "UbackupBackupSuspicious",
  Stale: "UbackupBackupStale",
  DrillFailed: "UbackupDrillFailed"
}

/** How long a fired alert stays active without a re-send: one daily run and an hour of grace. */
const firingFor = 25 * 3600 * 1000

export interface PrometheusAlertmanagerOptions {
  /** The Alertmanager's base URL, e.g. `http://127.0.0.1:9093` (a path prefix such as `/alertmanager` is kept). */
  readonly url: string
  readonly hostname: string
  /** Extra labels on every alert (`team: ops`). */
  readonly labels?: Readonly<Record<string, string>> | undefined
}

export const makePrometheusAlertmanager = (options: PrometheusAlertmanagerOptions): AlertSink => {
  const endpoint = options.url.replace(/\/+$/, "") + "/api/v2/alerts"
  /** Services with a failed target in the current run. */
  const failedThisRun = new Set<string>()

  /**
   * The alert's identity (Alertmanager fingerprints the label set). The
   * configured labels may rename alertname, but host and service are always
   * the target's: fire and resolve must build the same set.
   */
  const labelsOf = (service: string) => ({ alertname: alertName, ...options.labels, host: options.hostname, service })

  const post = (outcome: Outcome, what: string, alert: Record<string, unknown>) =>
    send({
      sink: sinkName,
      what,
      method: "POST",
      url: endpoint,
      headers: { "Content-Type": "application/json" },
      // the API takes an array of postableAlert
      body: JSON.stringify([{ labels: labelsOf(outcome.service), ...alert }])
    })

  const runStarted = () => Effect.sync(() => failedThisRun.clear())

  const targetFailed = Effect.fn("prometheusAlertmanager.targetFailed")(function*(outcome: Outcome) {
    failedThisRun.add(outcome.service)
    const now = yield* Clock.currentTimeMillis
    yield* post(outcome, `alert for ${outcome.service}`, {
      annotations: { summary: targetSubject(options.hostname, outcome.service), description: errorOf(outcome) },
      startsAt: new Date(now).toISOString(),
      endsAt: new Date(now + firingFor).toISOString()
    })
  })

  const targetStored = Effect.fn("prometheusAlertmanager.targetStored")(function*(outcome: Outcome) {
    if (failedThisRun.has(outcome.service)) return
    const now = new Date(yield* Clock.currentTimeMillis).toISOString()
    const stored = outcome.result._tag === "Stored" ? `stored ${outcome.result.backup.id}` : "stored"
    // startsAt = endsAt passes validation (endsAt not before startsAt); Alertmanager keeps the earlier startsAt of a firing alert
    yield* post(outcome, `resolve for ${outcome.service}`, {
      annotations: { summary: targetSubject(options.hostname, outcome.service), description: stored },
      startsAt: now,
      endsAt: now
    })
  })

  const warning = Effect.fn("prometheusAlertmanager.warning")(function*(warning: Warning) {
    const now = yield* Clock.currentTimeMillis
    yield* send({
      sink: sinkName,
      what: `warning for ${warning.service}`,
      method: "POST",
      url: endpoint,
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify([{
        labels: {
          alertname: warningAlertNames[warning.kind],
          severity: severityOf(warning),
          ...options.labels,
          host: options.hostname,
          service: warning.service
        },
        annotations: {
          summary: warningSubject(options.hostname, warning),
          description: warning.message,
          ...(warning.backupId === undefined ? {} : { backup_id: warning.backupId })
        },
        startsAt: new Date(now).toISOString(),
        endsAt: new Date(now + firingFor).toISOString()
      }])
    })
  })

  return makeSink({ name: sinkName, runStarted, targetFailed, targetStored, warning })
}
