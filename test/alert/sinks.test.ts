/**
 * ntfy, Uptime Kuma and webhooks against small local servers that record
 * what they are sent; then the fan-out of layerConfig with every kind
 * of sink at once, one of them down.
 */
import { Effect, Redacted } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { Alerts } from "../../src/alert/Alerts.ts"
import { makeFakeHttpClient, unreachable } from "../../src/alert/fakeHttp.ts"
import { layerConfig as layerAlerts, makeAlerts, none } from "../../src/alert/layer.ts"
import { makeLambdaAlertmanager } from "../../src/alert/lambdaAlertmanager.ts"
import { makeNtfy, maxMessageBytes } from "../../src/alert/ntfy.ts"
import { makeUptimeKuma } from "../../src/alert/uptimeKuma.ts"
import { makeWebhook } from "../../src/alert/webhook.ts"
import { closedPort, decodeConfig, failedOutcome, fastPolicy, type RecordingServer, reportRun, runCaptured, runFailure, runOk, runReport, sizeWarning, startRecordingServer, storedOutcome } from "../harness/alerts.ts"
import { type HealthchecksServer, startHealthchecks } from "../harness/healthchecks.ts"
import { type LambdaAlertmanager, startLambdaAlertmanager } from "../harness/lambdaAlertmanager.ts"

const hostname = "myhost"
const pgError = "host: pg_dump db: exited with code 1\npg_dump: error: connection refused"

/** RFC 2047 `=?UTF-8?B?…?=` back to text. */
const decodeEncodedWord = (value: string) => {
  const match = /^=\?UTF-8\?B\?([A-Za-z0-9+/=]*)\?=$/.exec(value)
  return match === null ? value : Buffer.from(match[1]!, "base64").toString("utf8")
}

let server: RecordingServer
beforeAll(async () => {
  server = await startRecordingServer()
})
afterAll(async () => {
  await server.close()
})
const requestsTo = (prefix: string) => server.requests.filter((request) => request.url.startsWith(prefix))

describe("ntfy", () => {
  it("a failed target: POST to the topic, the error as the message, Title/Priority/Tags and the bearer token as headers", async () => {
    const sink = makeNtfy({ url: `${server.url}/ntfy/backups`, hostname, token: Redacted.make("tk_secret0123456789") })
    await runOk(sink.targetFailed(failedOutcome("db", pgError)))
    const [request] = requestsTo("/ntfy/backups")
    expect(request!.method).toBe("POST")
    expect(request!.url).toBe("/ntfy/backups")
    expect(request!.body.toString("utf8")).toBe(pgError)
    expect(decodeEncodedWord(String(request!.headers["title"]))).toBe("\u00b5backup myhost: db")
    expect(request!.headers["priority"]).toBe("high")
    expect(request!.headers["tags"]).toBe("warning")
    expect(request!.headers["authorization"]).toBe("Bearer tk_secret0123456789")
    expect(request!.headers["content-type"]).toBe("text/plain; charset=utf-8")
  })

  it("a warning (a size drop): its own title, ntfy's default priority, the figures as the message", async () => {
    const sink = makeNtfy({ url: `${server.url}/ntfy/warnings`, hostname })
    await runOk(sink.warning(sizeWarning()))
    const [request] = requestsTo("/ntfy/warnings")
    expect(decodeEncodedWord(String(request!.headers["title"]))).toBe("\u00b5backup myhost: db (warning)")
    expect(request!.headers["priority"]).toBe("default")
    expect(request!.body.toString("utf8")).toBe(sizeWarning().message)
  })

  it("no token, no Authorization; a long error is cut to ntfy's 4096-byte message", async () => {
    const sink = makeNtfy({ url: `${server.url}/ntfy/long`, hostname })
    await runOk(sink.targetFailed(failedOutcome("db", "e".repeat(10_000))))
    const [request] = requestsTo("/ntfy/long")
    expect(request!.headers["authorization"]).toBeUndefined()
    expect(request!.body.length).toBeLessThanOrEqual(maxMessageBytes)
    expect(request!.body.toString()).toMatch(/^e+\n…\[truncated\]\n$/)
  })

  it("a rejected token is an error that does not show it, even when the server echoes it", async () => {
    const rejecting = await startRecordingServer((request) => ({ status: 401, body: `unauthorized: ${String(request.headers["authorization"])}` }))
    try {
      const sink = makeNtfy({ url: `${rejecting.url}/secret-topic-name`, hostname, token: Redacted.make("tk_secret0123456789") })
      const { error } = await runFailure(sink.targetFailed(failedOutcome("db", "boom")))
      expect(error.message).toBe("ntfy: notification for db failed: 401 Unauthorized; unauthorized: Bearer <redacted>")
      expect(error.message).not.toContain("secret-topic-name")
      expect(rejecting.requests).toHaveLength(1) // a 4xx is not retried
    } finally {
      await rejecting.close()
    }
  })
})

describe("Uptime Kuma", () => {
  it("after a run: GET the push URL with status up, the summary and the run's duration as ping", async () => {
    // the URL as Uptime Kuma's UI shows it, with its default query: ours replaces it
    const sink = makeUptimeKuma({ pushUrl: Redacted.make(`${server.url}/api/push/kumaToken1?status=up&msg=OK&ping=`) })
    await runOk(sink.runFinished(runReport([storedOutcome("db"), storedOutcome("web")], hostname, 61_500), true))
    const [request] = requestsTo("/api/push/kumaToken1")
    expect(request!.method).toBe("GET")
    const url = new URL(request!.url, server.url)
    expect([...url.searchParams]).toEqual([["status", "up"], ["msg", "2 targets: 2 stored, 0 failed in 1m2s"], ["ping", "61500"]])
  })

  it("down when any target failed (also when its alerts were delivered)", async () => {
    const sink = makeUptimeKuma({ pushUrl: Redacted.make(`${server.url}/api/push/kumaToken2`) })
    await runOk(sink.runFinished(runReport([storedOutcome("web"), failedOutcome("db", pgError)], hostname, 900), true))
    const url = new URL(requestsTo("/api/push/kumaToken2")[0]!.url, server.url)
    expect(url.searchParams.get("status")).toBe("down")
    expect(url.searchParams.get("msg")).toBe("2 targets: 1 stored, 1 failed (db) in 900ms")
    expect(url.searchParams.get("ping")).toBe("900")
  })

  it("an unknown token (404) is an error without the token", async () => {
    const kuma = await startRecordingServer(() => ({ status: 404, body: `{"ok":false,"msg":"Monitor not found or not active."}` }))
    try {
      const sink = makeUptimeKuma({ pushUrl: Redacted.make(`${kuma.url}/api/push/kumaSecretToken`) })
      const { error } = await runFailure(sink.runFinished(runReport([]), true))
      expect(error.message).toBe(`uptime-kuma: push (up) failed: 404 Not Found; {"ok":false,"msg":"Monitor not found or not active."}`)
    } finally {
      await kuma.close()
    }
  })
})

describe("webhooks", () => {
  const sink = () =>
    makeWebhook({
      url: Redacted.make(`${server.url}/hooks/secret-hook-id`),
      headers: { Authorization: Redacted.make("Bearer hook-secret"), "X-Source": Redacted.make("ubackup") },
      hostname,
      index: 0
    })
  const bodies = () => requestsTo("/hooks/secret-hook-id").map((request) => JSON.parse(request.body.toString("utf8")) as Record<string, unknown>)

  it("backup_failed, backup_stored and run_finished as JSON, with the configured headers", async () => {
    const report = runReport([failedOutcome("db", pgError), storedOutcome("web")], hostname, 61_500)
    const webhook = sink()
    await runOk(webhook.targetFailed(report.outcomes[0]!))
    await runOk(webhook.targetStored(report.outcomes[1]!))
    await runOk(webhook.runFinished(report, true))
    const requests = requestsTo("/hooks/secret-hook-id")
    expect(requests.map((request) => request.method)).toEqual(["POST", "POST", "POST"])
    for (const request of requests) {
      expect(request.headers["content-type"]).toBe("application/json")
      expect(request.headers["authorization"]).toBe("Bearer hook-secret")
      expect(request.headers["x-source"]).toBe("ubackup")
    }
    const [failed, stored, finished] = bodies() as [Record<string, unknown>, Record<string, unknown>, Record<string, unknown>]
    expect(Object.keys(failed).slice(0, 7)).toEqual(["event", "host", "service", "title", "message", "timestamp", "source"])
    expect(failed).toMatchObject({
      event: "backup_failed",
      host: hostname,
      service: "db",
      title: "\u00b5backup myhost: db",
      message: pgError,
      source: "host: pg_dump db",
      task_id: "static",
      duration_ms: 1234
    })
    expect(Date.parse(String(failed["timestamp"]))).toBeGreaterThan(Date.now() - 60_000)
    expect(stored).toMatchObject({
      event: "backup_stored",
      service: "web",
      message: "stored web/2026-01-02T01-00-00Z.sql.zst.age (4096 bytes)",
      backup_id: "web/2026-01-02T01-00-00Z.sql.zst.age",
      size_bytes: 4096
    })
    expect(finished).toMatchObject({
      event: "run_finished",
      host: hostname,
      title: "\u00b5backup myhost",
      success: false,
      targets: 2,
      stored: 1,
      failed: 1,
      failed_services: ["db"],
      duration_ms: 61_500
    })
    expect(finished["service"]).toBeUndefined()
    expect(String(finished["message"])).toBe(`2 targets: 1 stored, 1 failed (db) in 1m2s\n\ndb (host: pg_dump db) failed:\n${pgError}`)
  })

  it("backup_warning: the warning's kind, backup and figures", async () => {
    const before = requestsTo("/hooks/secret-hook-id").length
    await runOk(sink().warning(sizeWarning()))
    const warning = bodies()[before]!
    expect(Object.keys(warning).slice(0, 6)).toEqual(["event", "host", "service", "title", "message", "timestamp"])
    expect(warning).toMatchObject({
      event: "backup_warning",
      host: hostname,
      service: "db",
      title: "\u00b5backup myhost: db (warning)",
      message: sizeWarning().message,
      kind: "SizeDrop",
      severity: "warning",
      backup_id: "db/2026-01-02T01-00-00Z.sql.zst.age",
      size_bytes: 1024,
      median_bytes: 100_000,
      ratio: 0.5,
      window: 7
    })
  })

  it("credentials in the URL become Basic auth (fetch refuses them in the URL); the sender says it is ubackup", async () => {
    const url = new URL(server.url)
    const webhook = makeWebhook({ url: Redacted.make(`http://hook%20user:p%40ss@${url.host}/hooks/basic`), hostname, index: 0 })
    await runOk(webhook.runFinished(runReport([]), true))
    const [request] = requestsTo("/hooks/basic")
    expect(request!.headers["authorization"]).toBe(`Basic ${Buffer.from("hook user:p@ss").toString("base64")}`)
    expect(request!.headers["user-agent"]).toBe("ubackup")
  })

  it("a 5xx is retried, then an error naming the webhook by scheme://host only", async () => {
    const failing = await startRecordingServer(() => ({ status: 503, body: "busy" }))
    try {
      const webhook = makeWebhook({ url: Redacted.make(`${failing.url}/hooks/secret-hook-id`), hostname, index: 2 })
      const { error } = await runFailure(webhook.targetFailed(failedOutcome("db", "boom")))
      expect(error.message).toBe(`webhook 3 (${failing.url}): backup_failed event for db failed: 503 Service Unavailable; busy (3 attempts)`)
      expect(failing.requests).toHaveLength(3)
    } finally {
      await failing.close()
    }
  })
})

describe("the fan-out (layerConfig)", () => {
  let lambda: LambdaAlertmanager
  let healthchecks: HealthchecksServer
  beforeAll(async () => {
    lambda = await startLambdaAlertmanager({ stage: "/prod" })
    healthchecks = await startHealthchecks()
  })
  afterAll(async () => {
    await lambda.close()
    await healthchecks.close()
  })

  it("every sink at once, one webhook down: the others get theirs, targetFailed says not delivered, no check-in, the run does not fail", async () => {
    const downPort = await closedPort()
    const check = healthchecks.createCheck()
    const config = decodeConfig({
      alertmanager: { baseurl: lambda.baseurl },
      alerts: {
        healthchecks: { url: check.pingUrl },
        ntfy: { url: `${server.url}/fan/ntfy`, token: "tk_fan" },
        uptime_kuma: { push_url: `${server.url}/fan/kuma/pushToken` },
        webhooks: [
          { url: `http://127.0.0.1:${downPort}/hooks/down-secret` },
          { url: `${server.url}/fan/hook`, headers: { Authorization: "Bearer fan" } }
        ]
      }
    })
    const report = runReport([failedOutcome("db", pgError), storedOutcome("web")])
    const { value: delivered, logs } = await runOk(
      reportRun(report).pipe(Effect.provide(layerAlerts(config, hostname)))
    )
    expect(delivered).toBe(false)
    // lambda: the alert, but no check-in (an alert elsewhere was not delivered)
    expect(lambda.requests.map((request) => request.url)).toEqual(["/prod/alerts/ingest"])
    expect(lambda.activeAlerts()).toEqual([{ subject: "\u00b5backup myhost: db", details: pgError }])
    expect(healthchecks.checks.get(check.uuid)!.pings.map((ping) => ping.kind)).toEqual(["start", "fail"])
    expect(requestsTo("/fan/ntfy")).toHaveLength(1)
    expect(requestsTo("/fan/kuma/pushToken").map((request) => new URL(request.url, server.url).searchParams.get("status"))).toEqual(["down"])
    expect(requestsTo("/fan/hook").map((request) => (JSON.parse(request.body.toString()) as { event: string }).event)).toEqual([
      "backup_failed",
      "backup_stored",
      "run_finished"
    ])
    const problems = logs.filter((line) => line.level !== "Info").map((line) => `${line.level} ${line.text}`)
    const down = `webhook 1 (http://127.0.0.1:${downPort})`
    expect(problems).toEqual([
      `Error ${down}: backup_failed event for db failed: POST http://127.0.0.1:${downPort}: connect ECONNREFUSED 127.0.0.1:${downPort} (3 attempts)`,
      `Warn ${down}: backup_stored event for web failed: POST http://127.0.0.1:${downPort}: connect ECONNREFUSED 127.0.0.1:${downPort} (3 attempts)`,
      "Warn lambda-alertmanager: dead man's switch check-in skipped: not every alert of this run was delivered",
      `Warn ${down}: run_finished event failed: POST http://127.0.0.1:${downPort}: connect ECONNREFUSED 127.0.0.1:${downPort} (3 attempts)`
    ])
    expect(problems.join("\n")).not.toContain("down-secret")
  })

  it("sinks run in parallel: one that never answers does not delay the others", async () => {
    const hanging = await startRecordingServer(() => "hang")
    try {
      const config = decodeConfig({
        alerts: { ntfy: { url: `${hanging.url}/topic` }, webhooks: [{ url: `${server.url}/parallel/hook` }] }
      })
      const started = Date.now()
      const { exit } = await runCaptured(
        Alerts.use((alerts) => alerts.targetFailed(failedOutcome("db", "boom"))).pipe(Effect.provide(layerAlerts(config, hostname))),
        { timeoutMs: 400, attempts: 2, backoffMs: 50 }
      )
      expect(exit._tag === "Success" && exit.value).toBe(false)
      expect(Date.now() - started).toBeGreaterThanOrEqual(800)
      expect(requestsTo("/parallel/hook")[0]!.at - started).toBeLessThan(300)
      expect(hanging.requests).toHaveLength(2)
    } finally {
      await hanging.close()
    }
  })

  it("only the lambda check-in fails runFinished; other end-of-run failures are logged", async () => {
    const check = healthchecks.createCheck()
    lambda.respondWith = { status: 500, body: "down for maintenance", path: "/deadmansswitch/checkin" }
    try {
      const withLambda = decodeConfig({ alertmanager: { baseurl: lambda.baseurl }, alerts: { healthchecks: { url: check.pingUrl } } })
      const report = runReport([storedOutcome("web")])
      const { error } = await runFailure(
        Alerts.use((alerts) => alerts.runFinished(report, true)).pipe(Effect.provide(layerAlerts(withLambda, hostname)))
      )
      expect(error.message).toBe("lambda-alertmanager: dead man's switch check-in failed: 500 Internal Server Error; down for maintenance (3 attempts)")
      // the healthchecks ping still went out
      expect(healthchecks.checks.get(check.uuid)!.pings.map((ping) => ping.kind)).toEqual(["success"])
    } finally {
      lambda.respondWith = undefined
    }
    const port = await closedPort()
    const withoutLambda = decodeConfig({ alerts: { uptime_kuma: { push_url: `http://127.0.0.1:${port}/api/push/t` } } })
    const { exit, logs } = await runCaptured(
      Alerts.use((alerts) => alerts.runFinished(runReport([]), true)).pipe(Effect.provide(layerAlerts(withoutLambda, hostname)))
    )
    expect(exit._tag).toBe("Success")
    expect(logs.some((line) => line.level === "Warn" && line.text.startsWith("uptime-kuma: push (up) failed: GET http://127.0.0.1:"))).toBe(true)
  })

  it("no sink configured: a no-op whose alerts count as delivered", async () => {
    const { value } = await runOk(
      Effect.gen(function*() {
        const alerts = yield* Alerts
        yield* alerts.runStarted(new Date(), true)
        const delivered = yield* alerts.targetFailed(failedOutcome("db", "boom"))
        yield* alerts.targetStored(storedOutcome("web"))
        yield* alerts.runFinished(runReport([]), delivered)
        return delivered
      }).pipe(Effect.provide(layerAlerts(decodeConfig({}), hostname)))
    )
    expect(value).toBe(true)
    // the shared no-op, whichever client
    expect(await Effect.runPromise(makeAlerts([]).pipe(Effect.provide(makeFakeHttpClient().layer)))).toBe(none)
  })
})

describe("redirects", () => {
  it("a 3xx from a sink is a failed delivery, not followed and not retried: the body never reaches the other host", async () => {
    const elsewhere = await startRecordingServer()
    const redirecting = await startRecordingServer(() => ({ status: 307, headers: { Location: `${elsewhere.url}/stolen` } }))
    try {
      const sink = makeWebhook({ url: Redacted.make(`${redirecting.url}/hook/secret-path`), hostname, index: 0 })
      const { error } = await runFailure(sink.targetFailed(failedOutcome("db", "boom")))
      expect(error.message).toMatch(/307 Temporary Redirect: the sink answered with a redirect, which ubackup does not follow/)
      expect(error.message).not.toContain("secret-path")
      expect(redirecting.requests).toHaveLength(1)
      expect(elsewhere.requests).toHaveLength(0)
    } finally {
      await redirecting.close()
      await elsewhere.close()
    }
  })
})

describe("against the fake HTTP client", () => {
  it("records each request and turns its answers into µbackup's error texts, retrying what may pass", async () => {
    let calls = 0
    const http = makeFakeHttpClient(() => (++calls === 1 ? unreachable : { status: 400, body: "subject or ttl empty\n" }))
    const sink = makeLambdaAlertmanager({ baseurl: Redacted.make("https://secret-api.example/prod"), hostname: "myhost" })
    const { error } = await runFailure(sink.targetFailed(failedOutcome("db", "boom")), fastPolicy, http.layer)
    expect(error.message).toContain("400 Bad Request; subject or ttl empty")
    expect(error.message).toContain("(2 attempts)")
    expect(error.message).not.toContain("secret-api")
    expect(http.requests.map((request) => [request.method, request.url, request.headers["content-type"]])).toEqual([
      ["POST", "https://secret-api.example/prod/alerts/ingest", "application/json"],
      ["POST", "https://secret-api.example/prod/alerts/ingest", "application/json"]
    ])
    expect(JSON.parse(http.requests[0]!.body)).toMatchObject({ alert_key: "", subject: "\u00b5backup myhost: db", details: "boom" })
  })
})
