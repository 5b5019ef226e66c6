/**
 * lambda-alertmanager as µbackup spoke to it, against the in-process server
 * of test/harness/lambdaAlertmanager.ts: the exact request bytes, when the
 * dead man's switch is checked in, error texts, timeouts and retries, and
 * that the base URL (the secret) appears in no error or log line.
 */
import { Effect, Redacted } from "effect"
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest"
import { AlertHttpPolicy } from "../../src/alert/http.ts"
import { goJson, goTimestamp, makeLambdaAlertmanager } from "../../src/alert/lambdaAlertmanager.ts"
import { layerConfig as layerAlerts } from "../../src/alert/layer.ts"
import { Alerts } from "../../src/alert/Alerts.ts"
import { closedPort, decodeConfig, failedOutcome, reportRun, runCaptured, runFailure, runOk, runReport, storedOutcome } from "../harness/alerts.ts"
import {
  formatGoDuration,
  type LambdaAlertmanager,
  parseGoDuration,
  parseTtlSpec,
  startLambdaAlertmanager
} from "../harness/lambdaAlertmanager.ts"

const secretStage = "/prod-a1b2c3d4e5"
const hostname = "myhost"
const pgError = "host: pg_dump db: exited with code 1\nstderr: pg_dump: error: connection to server failed: <no such host> & more"

let server: LambdaAlertmanager

beforeAll(async () => {
  server = await startLambdaAlertmanager({ stage: secretStage })
})
afterAll(async () => {
  await server.close()
})
afterEach(() => {
  server.requests.length = 0
  server.alerts.clear()
  server.switches.clear()
  server.respondWith = undefined
  server.hang = false
  server.now = () => new Date()
})

const sink = (baseurl = server.baseurl, ttl?: string) => makeLambdaAlertmanager({ baseurl: Redacted.make(baseurl), hostname, ttl })

const post = (path: string, body: string, method = "POST") =>
  fetch(`${server.baseurl}${path}`, { method, body, headers: { "Content-Type": "application/json" } })

describe("lambda-alertmanager's ttl grammar (the test server's parseTtlSpec)", () => {
  const now = new Date("2019-09-07T12:00:00Z")
  // scheduled_test.go's vectors
  it.each([
    ["+24h", "2019-09-08T12:00:00.000Z"],
    ["+1h", "2019-09-07T13:00:00.000Z"],
    ["+1d@18:00", "2019-09-08T18:00:00.000Z"],
    ["+14d@10:00", "2019-09-21T10:00:00.000Z"],
    ["2019-09-10T01:13:00Z", "2019-09-10T01:13:00.000Z"]
  ])("%s → %s", (spec, expected) => {
    expect(parseTtlSpec(spec, now).toISOString()).toBe(expected)
  })
  it.each([
    ["foobar", "not in RFC3339: foobar"],
    ["+12x", "duration in bad format"],
    ["+1d@18:0x", "duration in bad format"] // not the d@ form: falls through to the + branch
  ])("%s is an error: %s", (spec, message) => {
    expect(() => parseTtlSpec(spec, now)).toThrow(message)
  })
  it("takes Go duration forms: combinations, fractions, µs with either mu, and no d unit", () => {
    expect(parseTtlSpec("+25h", now).toISOString()).toBe("2019-09-08T13:00:00.000Z")
    expect(parseTtlSpec("+24h30m", now).toISOString()).toBe("2019-09-08T12:30:00.000Z")
    expect(parseTtlSpec("+1.5h", now).toISOString()).toBe("2019-09-07T13:30:00.000Z")
    expect(parseTtlSpec("+90m", now).toISOString()).toBe("2019-09-07T13:30:00.000Z")
    expect(parseTtlSpec("+0", now).toISOString()).toBe(now.toISOString())
    expect(parseGoDuration("1h2m3.5s")).toBe(3723.5e9)
    expect(parseGoDuration("1500\u00b5s")).toBe(1.5e6)
    expect(parseGoDuration("1500\u03bcs")).toBe(1.5e6)
    expect(parseGoDuration(".5s")).toBe(0.5e9)
    expect(parseGoDuration("-1m")).toBe(-60e9)
    for (const bad of ["", "1d", "1", ".s", "h", "1h2", "3000000h"]) expect(() => parseGoDuration(bad), bad).toThrow(/time: /)
    expect(() => parseTtlSpec("+1d", now)).toThrow("duration in bad format")
    expect(() => parseTtlSpec("+", now)).toThrow("duration in bad format")
    expect(() => parseTtlSpec("2019-09-10 01:13:00Z", now)).toThrow("not in RFC3339")
    expect(() => parseTtlSpec("2019-02-30T01:13:00Z", now)).toThrow("not in RFC3339")
    expect(parseTtlSpec("2019-09-10T01:13:00.5+03:00", now).toISOString()).toBe("2019-09-09T22:13:00.500Z")
  })
  it("formats durations as Go does (the late check-in text)", () => {
    expect(formatGoDuration(3600e9)).toBe("1h0m0s")
    expect(formatGoDuration(61.5e9)).toBe("1m1.5s")
    expect(formatGoDuration(1.5e6)).toBe("1.5ms")
    expect(formatGoDuration(0)).toBe("0s")
  })
})

describe("the test server behaves as lambda-alertmanager v1.0.0", () => {
  const alertJson = (subject: string, extra = "") =>
    `{"alert_key":"","subject":${JSON.stringify(subject)},"details":"d","timestamp":"2020-06-25T01:00:03.123456789Z"${extra}}`

  it("ingest: 201 when stored, 204 for an active subject and past 5 active alerts; strict JSON", async () => {
    expect((await post("/alerts/ingest", alertJson("a"))).status).toBe(201)
    expect((await post("/alerts/ingest", alertJson("a"))).status).toBe(204)
    for (const subject of ["b", "c", "d", "e"]) expect((await post("/alerts/ingest", alertJson(subject))).status).toBe(201)
    expect((await post("/alerts/ingest", alertJson("f"))).status).toBe(204)
    const unknown = await post("/alerts/ingest", alertJson("g", `,"foo":1`))
    expect([unknown.status, await unknown.text()]).toEqual([400, `JSON parsing failed: json: unknown field "foo"\n`])
    const badTime = await post("/alerts/ingest", `{"subject":"g","timestamp":"yesterday"}`)
    expect(badTime.status).toBe(400)
    expect((await post("/alerts/ingest", `{"subject":1}`)).status).toBe(400)
    const listed = (await (await fetch(`${server.baseurl}/alerts`)).json()) as Array<{ alert_key: string; subject: string; timestamp: string }>
    expect(listed.map((alert) => alert.subject)).toEqual(["a", "b", "c", "d", "e"])
    expect(listed[0]!.timestamp).toBe("2020-06-25T01:00:03.123456789Z")
    expect(listed[0]!.alert_key).toMatch(/^[A-Za-z0-9_][A-Za-z0-9_-]{7}$/)
    const ack = await fetch(`${server.baseurl}/alerts/acknowledge?id=${listed[0]!.alert_key}`)
    expect([ack.status, await ack.text()]).toEqual([200, `Ack ok for ${listed[0]!.alert_key}`])
    const again = await fetch(`${server.baseurl}/alerts/acknowledge?id=${listed[0]!.alert_key}`)
    expect([again.status, await again.text()]).toEqual([500, `no alert: ${listed[0]!.alert_key}\n`])
  })

  it("check-in: 400 for empty fields or a bad ttl, a switch that fires when late, and a check-in that acks it", async () => {
    const empty = await post("/deadmansswitch/checkin", `{"subject":"s","ttl":""}`)
    expect([empty.status, await empty.text()]).toEqual([400, "subject or ttl empty\n"])
    const bad = await post("/deadmansswitch/checkin", `{"subject":"s","ttl":"+1d"}`)
    expect([bad.status, await bad.text()]).toEqual([400, "duration in bad format\n"])
    server.now = () => new Date("2019-09-07T12:00:00Z")
    const ok = await fetch(`${server.baseurl}/deadmansswitch/checkin?subject=s&ttl=%2B24h`)
    expect([ok.status, await ok.text()]).toEqual([200, "Check-in noted\n"])
    expect(await (await fetch(`${server.baseurl}/deadmansswitches`)).json()).toEqual([{ subject: "s", ttl: "2019-09-08T12:00:00Z" }])
    server.tick(new Date("2019-09-08T11:59:59Z"))
    expect(server.activeAlerts()).toEqual([])
    server.tick(new Date("2019-09-08T13:00:00Z"))
    server.tick(new Date("2019-09-08T13:01:00Z")) // deduplicated
    expect(server.activeAlerts()).toEqual([{ subject: "s", details: "Check-in late by 1h0m0s (2019-09-08T12:00:00Z)" }])
    const acking = await post("/deadmansswitch/checkin", `{"Subject":"s","TTL":"+25h"}`) // Go matches field names case-insensitively
    expect([acking.status, await acking.text()]).toEqual([200, "Check-in noted; alert that was firing for this dead mans's switch was acked\n"])
    expect(server.activeAlerts()).toEqual([])
  })

  it("other methods get 400, unknown paths 404, unclean paths a 301 (µbackup's trailing-slash bug ends in a 404)", async () => {
    const patch = await post("/alerts", "", "PATCH")
    expect([patch.status, await patch.text()]).toEqual([400, "unsupported method: PATCH\n"])
    const missing = await fetch(`${server.baseurl}/nope`)
    expect([missing.status, await missing.text()]).toEqual([404, "404 page not found\n"])
    const doubled = await fetch(`${server.baseurl}//alerts/ingest`, { method: "POST", body: "{}", redirect: "manual" })
    expect([doubled.status, doubled.headers.get("location")]).toEqual([301, `${secretStage}/alerts/ingest`])
    // followed, the POST becomes a GET, which has no such route: what µbackup got with a trailing slash
    expect((await fetch(`${server.baseurl}//alerts/ingest`, { method: "POST", body: "{}" })).status).toBe(404)
    expect((await post("/prometheus-alertmanager/api/v1/alerts", "[]")).status).toBe(500)
  })
})

describe("alerts as µbackup sent them", () => {
  it("a failed target: POST /alerts/ingest with µbackup's exact JSON (U+00B5, field order, the error text)", async () => {
    const before = Date.now()
    await runOk(sink().targetFailed(failedOutcome("db", pgError)))
    expect(server.requests).toHaveLength(1)
    const request = server.requests[0]!
    expect(request.method).toBe("POST")
    expect(request.url).toBe(`${secretStage}/alerts/ingest`)
    expect(request.headers["content-type"]).toBe("application/json")

    const subjectBytes = Buffer.from(`"subject":"\u00b5backup myhost: db"`, "utf8")
    expect(subjectBytes.includes(Buffer.from([0xc2, 0xb5]))).toBe(true)
    expect(request.body.includes(subjectBytes)).toBe(true)
    expect(request.body.includes(Buffer.from([0xce, 0xbc]))).toBe(false) // not Greek mu
    expect(request.body.subarray(0, 17).toString()).toBe(`{"alert_key":"","`)
    expect(request.body.at(-1)).toBe(0x7d) // no trailing newline

    const parsed = JSON.parse(request.body.toString("utf8")) as Record<string, string>
    expect(Object.keys(parsed)).toEqual(["alert_key", "subject", "details", "timestamp"])
    expect(parsed["details"]).toBe(pgError)
    // Go's json.Marshal escapes < > &
    expect(request.body.toString()).toContain("\\u003cno such host\\u003e \\u0026 more")
    expect(parsed["timestamp"]).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,3})?(Z|[+-]\d\d:\d\d)$/)
    expect(Date.parse(parsed["timestamp"]!)).toBeGreaterThanOrEqual(Math.floor(before / 1000) * 1000)
    expect(request.body.toString()).toBe(
      goJson({ alert_key: "", subject: "\u00b5backup myhost: db", details: pgError, timestamp: parsed["timestamp"] })
    )
    expect(server.activeAlerts()).toEqual([{ subject: "\u00b5backup myhost: db", details: pgError }])
  })

  it("timestamps are Go's RFC3339Nano: trimmed fraction, Z for UTC", () => {
    const ms = Date.UTC(2020, 5, 25, 1, 0, 3, 120)
    const text = goTimestamp(ms)
    expect(Date.parse(text)).toBe(ms)
    if (new Date(ms).getTimezoneOffset() === 0) expect(text).toBe("2020-06-25T01:00:03.12Z")
    expect(goTimestamp(Date.UTC(2020, 5, 25, 1, 0, 3, 0))).not.toContain(".")
  })

  it("a run: alerts at once, the check-in after the run with µbackup's body, also when targets failed", async () => {
    const config = decodeConfig({ alertmanager: { baseurl: server.baseurl } })
    const report = runReport([failedOutcome("db", pgError), storedOutcome("web")])
    const { value: delivered } = await runOk(
      reportRun(report).pipe(Effect.provide(layerAlerts(config, hostname)))
    )
    expect(delivered).toBe(true)
    expect(server.requests.map((r) => `${r.method} ${r.url}`)).toEqual([
      `POST ${secretStage}/alerts/ingest`,
      `POST ${secretStage}/deadmansswitch/checkin`
    ])
    const checkin = server.requests[1]!
    expect(checkin.headers["content-type"]).toBe("application/json")
    expect(checkin.body.equals(Buffer.from(`{"subject":"\u00b5backup myhost","ttl":"+25h"}`, "utf8"))).toBe(true)
    const deadline = server.switches.get("\u00b5backup myhost")!
    expect(Math.abs(deadline.getTime() - (Date.now() + 25 * 3600_000))).toBeLessThan(10_000)
  })

  it("zero targets: the check-in still goes out, with the configured ttl", async () => {
    const config = decodeConfig({ alertmanager: { baseurl: server.baseurl, deadmansswitch_ttl: "+1d@02:00" } })
    await runOk(Alerts.use((alerts) => alerts.runFinished(runReport([]), true)).pipe(Effect.provide(layerAlerts(config, hostname))))
    expect(server.requests.map((r) => r.body.toString())).toEqual([`{"subject":"\u00b5backup myhost","ttl":"+1d@02:00"}`])
    expect(server.switches.get("\u00b5backup myhost")!.toISOString()).toMatch(/T02:00:00\.000Z$/)
  })

  it("an alert that gets a 500 is retried, then reported; the run skips the check-in and says why", async () => {
    server.respondWith = { status: 500, body: "store unavailable", path: "/alerts/ingest" }
    const config = decodeConfig({ alertmanager: { baseurl: server.baseurl } })
    const report = runReport([failedOutcome("db", pgError)])
    const { value: delivered, logs } = await runOk(
      reportRun(report).pipe(Effect.provide(layerAlerts(config, hostname)))
    )
    expect(delivered).toBe(false)
    // fastPolicy: 3 attempts, then no check-in
    expect(server.requests.map((r) => r.url)).toEqual(Array(3).fill(`${secretStage}/alerts/ingest`))
    const errors = logs.filter((line) => line.level === "Error").map((line) => line.text)
    expect(errors).toEqual(["lambda-alertmanager: alert for db failed: 500 Internal Server Error; store unavailable (3 attempts)"])
    expect(logs.some((line) => line.level === "Warn" && line.text.includes("dead man's switch check-in skipped: not every alert of this run was delivered"))).toBe(
      true
    )
  })

  it("a check-in that gets a 400 fails the run with µbackup's error text, and is not retried", async () => {
    const { error } = await runFailure(sink(server.baseurl, "+1d").runFinished(runReport([storedOutcome("web")]), true))
    expect(error._tag).toBe("AlertError")
    expect(error.what).toBe("dead man's switch check-in")
    expect(error.message).toBe("lambda-alertmanager: dead man's switch check-in failed: 400 Bad Request; duration in bad format\n")
    expect(server.requests).toHaveLength(1)
  })

  it("error texts keep the first 128 bytes of the body and mark the cut with ..", async () => {
    server.respondWith = { status: 400, body: "x".repeat(100) + "y".repeat(100) }
    const { error } = await runFailure(sink().runFinished(runReport([]), true))
    expect(error.detail).toBe(`400 Bad Request; ${"x".repeat(100)}${"y".repeat(28)}..`)
    server.respondWith = { status: 403 }
    expect((await runFailure(sink().runFinished(runReport([]), true))).error.detail).toBe("403 Forbidden; <no response body>")
  })

  it("through the layer, a failed check-in fails runFinished with an AlertError", async () => {
    server.respondWith = { status: 400, body: "subject or ttl empty\n", path: "/deadmansswitch/checkin" }
    const config = decodeConfig({ alertmanager: { baseurl: server.baseurl } })
    const { error } = await runFailure(
      Alerts.use((alerts) => alerts.runFinished(runReport([storedOutcome("web")]), true)).pipe(Effect.provide(layerAlerts(config, hostname)))
    )
    expect(error.message).toBe("lambda-alertmanager: dead man's switch check-in failed: 400 Bad Request; subject or ttl empty\n")
  })

  it("a trailing / in baseurl is tolerated: no //alerts", async () => {
    await runOk(sink(`${server.baseurl}/`).targetFailed(failedOutcome("db", "boom")))
    await runOk(sink(`${server.baseurl}//`).runFinished(runReport([]), true))
    expect(server.requests.map((r) => `${r.method} ${r.url}`)).toEqual([
      `POST ${secretStage}/alerts/ingest`,
      `POST ${secretStage}/deadmansswitch/checkin`
    ])
  })

  it("a server that never answers: each attempt ends at the timeout, the attempts are bounded", async () => {
    server.hang = true
    const started = Date.now()
    const { error } = await runFailure(sink().targetFailed(failedOutcome("db", "boom")), { timeoutMs: 300, attempts: 3, backoffMs: 50 })
    const took = Date.now() - started
    expect(server.requests).toHaveLength(3)
    expect(took).toBeGreaterThanOrEqual(900)
    expect(took).toBeLessThan(3_000)
    expect(error.detail).toBe("POST http://<host>: no response within 300ms (3 attempts)")
  })

  it("the default policy: 10 s per attempt, 4 attempts", () => {
    const policy = Effect.runSync(Effect.gen(function*() {
      return yield* AlertHttpPolicy
    }))
    expect(policy).toEqual({ timeoutMs: 10_000, attempts: 4, backoffMs: 500 })
  })

  it("the base URL is a secret, its host too (the API Gateway ID): errors and logs show the scheme only", async () => {
    const port = await closedPort()
    const secretUrl = `http://user:pw-0123456789@127.0.0.1:${port}/prod-SECRETAPIID?key=SECRETKEY`
    const config = decodeConfig({ alertmanager: { baseurl: secretUrl } })
    const { exit, logs } = await runCaptured(
      Effect.gen(function*() {
        const alerts = yield* Alerts
        const delivered = yield* alerts.targetFailed(failedOutcome("db", "boom"))
        yield* alerts.runFinished(runReport([]), true)
        return delivered
      }).pipe(Effect.provide(layerAlerts(config, hostname)))
    )
    expect(exit._tag).toBe("Failure")
    const texts = [...logs.map((line) => line.text), String(exit._tag === "Failure" ? exit.cause : "")]
    expect(texts.join("\n")).toContain("POST http://<host>: connect ECONNREFUSED")
    for (const secret of ["SECRETAPIID", "SECRETKEY", "pw-0123456789", "user:", `127.0.0.1:${port}`]) {
      expect(texts.join("\n")).not.toContain(secret)
    }
    // and the config's own rendering keeps it hidden
    expect(String(config.alertmanager?.baseurl)).not.toContain("SECRET")
  })
})
