/**
 * The Prometheus Alertmanager sink against the real Alertmanager (Debian's
 * prometheus-alertmanager, API v2): a failed target's alert becomes active
 * with our labels and annotations and reaches a webhook receiver; a stored
 * backup of the same service resolves it.
 */
import { Effect } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { Alerts } from "../../src/alert/Alerts.ts"
import { layerConfig as layerAlerts } from "../../src/alert/layer.ts"
import { makePrometheusAlertmanager } from "../../src/alert/prometheusAlertmanager.ts"
import { decodeConfig, failedOutcome, type RecordingServer, runFailure, runOk, sizeWarning, startRecordingServer, storedOutcome } from "../harness/alerts.ts"
import { alertmanagerCommand, type PrometheusAlertmanager, startPrometheusAlertmanager } from "../harness/prometheusAlertmanager.ts"
import { requireCommands, sleep, waitFor } from "../harness/tools.ts"

interface GettableAlert {
  readonly labels: Record<string, string>
  readonly annotations: Record<string, string>
  readonly startsAt: string
  readonly endsAt: string
  readonly status: { readonly state: string }
}

interface WebhookMessage {
  readonly status: "firing" | "resolved"
  readonly alerts: ReadonlyArray<{ readonly status: string; readonly labels: Record<string, string>; readonly annotations: Record<string, string> }>
}

const hostname = "myhost"

describe.runIf(requireCommands("Prometheus Alertmanager tests", alertmanagerCommand))("Prometheus Alertmanager (real, API v2)", () => {
  let alertmanager: PrometheusAlertmanager
  let receiver: RecordingServer

  beforeAll(async () => {
    receiver = await startRecordingServer()
    alertmanager = await startPrometheusAlertmanager({ webhookUrl: `${receiver.url}/am-webhook` })
  })
  afterAll(async () => {
    await alertmanager?.stop()
    await receiver?.close()
  })

  /** The alerts the API lists, with every filter open: active, unprocessed, inhibited and silenced ones. */
  const listAlerts = async (query = "active=true&inhibited=true&silenced=true&unprocessed=true"): Promise<ReadonlyArray<GettableAlert>> => {
    const response = await fetch(`${alertmanager.url}/api/v2/alerts?${query}`)
    expect(response.status).toBe(200)
    return (await response.json()) as Array<GettableAlert>
  }
  const ofService = (alerts: ReadonlyArray<GettableAlert>, service: string) => alerts.filter((alert) => alert.labels["service"] === service)

  const webhookMessages = () => receiver.requests.map((request) => JSON.parse(request.body.toString("utf8")) as WebhookMessage)

  const layer = () =>
    layerAlerts(decodeConfig({ alerts: { prometheus_alertmanager: { url: alertmanager.url, labels: { team: "ops" } } } }), hostname)

  it("a failed target fires UbackupBackupFailed; a stored backup of the service resolves it", async () => {
    const error = "host: pg_dump db: exited with code 1\nstderr: pg_dump: error: connection refused"
    const before = Date.now()
    const { value: delivered } = await runOk(Alerts.use((alerts) => alerts.targetFailed(failedOutcome("db", error))).pipe(Effect.provide(layer())))
    expect(delivered).toBe(true)

    const fired = await waitFor("the alert to be active", async () => {
      const alerts = ofService(await listAlerts(), "db")
      return alerts.length === 1 && alerts[0]!.status.state === "active" ? alerts[0] : undefined
    })
    expect(fired.labels).toEqual({ alertname: "UbackupBackupFailed", host: hostname, service: "db", team: "ops" })
    expect(fired.annotations).toEqual({ summary: "\u00b5backup myhost: db", description: error })
    const endsIn = Date.parse(fired.endsAt) - before
    expect(endsIn).toBeGreaterThan(25 * 3600_000 - 60_000)
    expect(endsIn).toBeLessThan(25 * 3600_000 + 60_000)
    // the narrow filter of the brief sees it too
    expect(ofService(await listAlerts("active=true&inhibited=false&silenced=false&unprocessed=true"), "db")).toHaveLength(1)

    const firing = await waitFor(
      "the firing notification",
      async () => webhookMessages().find((message) => message.status === "firing" && message.alerts.some((alert) => alert.labels["service"] === "db"))
    )
    expect(firing.alerts[0]!.annotations["summary"]).toBe("\u00b5backup myhost: db")

    await runOk(Alerts.use((alerts) => alerts.targetStored(storedOutcome("db"))).pipe(Effect.provide(layer())))
    await waitFor("the alert to be resolved", async () => (ofService(await listAlerts(), "db").length === 0 ? true : undefined))
    const resolved = await waitFor(
      "the resolved notification",
      async () => webhookMessages().find((message) => message.status === "resolved" && message.alerts.some((alert) => alert.labels["service"] === "db"))
    )
    expect(resolved.alerts[0]!.status).toBe("resolved")
  })

  it("a warning fires UbackupBackupSuspicious with severity warning, which a stored backup does not resolve", async () => {
    const { value: delivered } = await runOk(Alerts.use((alerts) => alerts.warning(sizeWarning("wiki"))).pipe(Effect.provide(layer())))
    expect(delivered).toBe(true)
    const fired = await waitFor("the warning to be active", async () => {
      const alerts = ofService(await listAlerts(), "wiki")
      return alerts.length === 1 && alerts[0]!.status.state === "active" ? alerts[0] : undefined
    })
    expect(fired.labels).toEqual({ alertname: "UbackupBackupSuspicious", severity: "warning", host: hostname, service: "wiki", team: "ops" })
    expect(fired.annotations).toEqual({
      summary: "\u00b5backup myhost: wiki (warning)",
      description: sizeWarning("wiki").message,
      backup_id: "wiki/2026-01-02T01-00-00Z.sql.zst.age"
    })
    await runOk(Alerts.use((alerts) => alerts.targetStored(storedOutcome("wiki"))).pipe(Effect.provide(layer())))
    await sleep(500)
    expect(ofService(await listAlerts(), "wiki").map((alert) => alert.labels["alertname"])).toEqual(["UbackupBackupSuspicious"])
  })

  it("a resolve only touches its own service; a resolve of a service that never failed is accepted and changes nothing", async () => {
    await runOk(
      Effect.gen(function*() {
        const alerts = yield* Alerts
        expect(yield* alerts.targetFailed(failedOutcome("a", "boom a"))).toBe(true)
        expect(yield* alerts.targetFailed(failedOutcome("b", "boom b"))).toBe(true)
        // the next run
        yield* alerts.runStarted(new Date(), true)
        yield* alerts.targetStored(storedOutcome("a"))
        yield* alerts.targetStored(storedOutcome("never-failed"))
      }).pipe(Effect.provide(layer()))
    )
    const remaining = await waitFor("only b's alert to remain", async () => {
      const alerts = (await listAlerts()).filter((alert) => ["a", "b", "never-failed"].includes(alert.labels["service"] ?? ""))
      return alerts.length === 1 ? alerts : undefined
    })
    expect(remaining[0]!.labels["service"]).toBe("b")
    expect(remaining[0]!.annotations["description"]).toBe("boom b")
  })

  it("a replica stored in the run in which another replica of the service failed does not resolve the alert", async () => {
    await runOk(
      Effect.gen(function*() {
        const alerts = yield* Alerts
        yield* alerts.runStarted(new Date(), true)
        expect(yield* alerts.targetFailed(failedOutcome("replicated", "replica 1 failed"))).toBe(true)
        yield* alerts.targetStored(storedOutcome("replicated"))
      }).pipe(Effect.provide(layer()))
    )
    await waitFor("the alert to be active", async () => {
      const alerts = ofService(await listAlerts(), "replicated")
      return alerts.length === 1 && alerts[0]!.status.state === "active" ? true : undefined
    })
    // and it stays so: give a wrongly sent resolve time to land
    await sleep(500)
    expect(ofService(await listAlerts(), "replicated")).toHaveLength(1)
  })

  it("a label set Alertmanager rejects is a 400 with its reason, not retried", async () => {
    const sink = makePrometheusAlertmanager({ url: `${alertmanager.url}/`, hostname, labels: { "bad-label": "x" } })
    const { error } = await runFailure(sink.targetFailed(failedOutcome("c", "boom")))
    expect(error.detail).toMatch(/^400 Bad Request; .*invalid/)
    expect(error.detail).not.toMatch(/attempts/)
  })
})
