/**
 * The Healthchecks sink against the Healthchecks-style server of
 * test/harness/healthchecks.ts: start then success, start then fail with
 * the failures' errors as the body, the body limit, and the server's own
 * rules (so that the harness stays honest).
 */
import { Effect, Redacted } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { Alerts } from "../../src/alert/Alerts.ts"
import type { RunReport } from "../../src/domain/Outcome.ts"
import { makeHealthchecks, maxBodyBytes } from "../../src/alert/healthchecks.ts"
import { layerConfig as layerAlerts } from "../../src/alert/layer.ts"
import { decodeConfig, failedOutcome, runCaptured, runOk, runReport, storedOutcome } from "../harness/alerts.ts"
import { type HealthchecksServer, startHealthchecks } from "../harness/healthchecks.ts"

let server: HealthchecksServer

beforeAll(async () => {
  server = await startHealthchecks()
})
afterAll(async () => {
  await server.close()
})

const ridPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/

/** runStarted, then runFinished with `allAlertsDelivered`, through the layer ubackup builds from its config. */
const run = (pingUrl: string, report: RunReport) =>
  Effect.gen(function*() {
    const alerts = yield* Alerts
    yield* alerts.runStarted(report.startedAt, true)
    yield* alerts.runFinished(report, true)
  }).pipe(Effect.provide(layerAlerts(decodeConfig({ alerts: { healthchecks: { url: pingUrl } } }), "myhost")))

describe("Healthchecks", () => {
  it("start, then success with the run ID: the check is up and the run has a duration", async () => {
    const { uuid, pingUrl } = server.createCheck()
    await runOk(run(pingUrl, runReport([storedOutcome("db"), storedOutcome("web")])))
    const check = server.checks.get(uuid)!
    expect(check.pings.map((ping) => [ping.method, ping.kind])).toEqual([["GET", "start"], ["POST", "success"]])
    const [start, success] = check.pings as [typeof check.pings[0], typeof check.pings[0]]
    expect(start.rid).toMatch(ridPattern)
    expect(success.rid).toBe(start.rid)
    expect(success.durationMs).toBeGreaterThanOrEqual(0)
    expect(success.text).toBe("2 targets: 2 stored, 0 failed in 1m2s\n")
    expect(check.status).toBe("up")
    expect(check.started).toBe(false)
    const urls = server.requests.filter((request) => request.url.includes(uuid)).map((request) => request.url)
    expect(urls).toEqual([`/ping/${uuid}/start?rid=${start.rid}`, `/ping/${uuid}?rid=${start.rid}`])
  })

  it("start, then fail with the summary and each failure's error (the command's stderr tail) as the body", async () => {
    const { uuid, pingUrl } = server.createCheck()
    const stderr = "pg_dump: error: connection to server on socket \"/run/postgresql/.s.PGSQL.5432\" failed: No such file or directory"
    const report = runReport([failedOutcome("db", `host: pg_dump db: exited with code 1\n${stderr}`), storedOutcome("web")])
    await runOk(run(pingUrl, report))
    const check = server.checks.get(uuid)!
    expect(check.pings.map((ping) => ping.kind)).toEqual(["start", "fail"])
    const fail = check.pings[1]!
    expect(fail.rid).toBe(check.pings[0]!.rid)
    expect(fail.text).toBe(
      `2 targets: 1 stored, 1 failed (db) in 1m2s\n\ndb (host: pg_dump db) failed:\nhost: pg_dump db: exited with code 1\n${stderr}\n`
    )
    const request = server.requests.find((r) => r.url.startsWith(`/ping/${uuid}/fail?rid=`))!
    expect(request.method).toBe("POST")
    expect(request.headers["content-type"]).toBe("text/plain; charset=utf-8")
    expect(check.status).toBe("down")
  })

  it("a long log is cut to 10 000 bytes on a character boundary, and to a smaller Ping-Body-Limit when the server announces one", async () => {
    const { uuid, pingUrl } = server.createCheck()
    const long = "µ".repeat(8_000) // 16 000 bytes
    await runOk(run(pingUrl, runReport([failedOutcome("db", long)])))
    const sent = server.requests.find((r) => r.url.startsWith(`/ping/${uuid}/fail`))!.body
    expect(sent.length).toBeLessThanOrEqual(maxBodyBytes)
    expect(sent.length).toBeGreaterThan(maxBodyBytes - 40)
    expect(sent.toString("utf8")).toMatch(/µ\n…\[truncated\]\n$/)
    expect(server.checks.get(uuid)!.pings[1]!.text).toBeDefined() // still valid UTF-8 on the server

    server.bodyLimit = 500
    try {
      const small = server.createCheck()
      await runOk(run(small.pingUrl, runReport([failedOutcome("db", long)])))
      const body = server.requests.find((r) => r.url.startsWith(`/ping/${small.uuid}/fail`))!.body
      expect(body.length).toBeLessThanOrEqual(500)
      expect(body.toString("utf8").startsWith("1 target: 0 stored, 1 failed (db)")).toBe(true)
    } finally {
      server.bodyLimit = 10_000
    }
  })

  it("a trailing / in the ping URL is tolerated; a start ping that failed leaves a finish without rid", async () => {
    const { uuid, pingUrl } = server.createCheck()
    const sink = makeHealthchecks({ url: Redacted.make(`${pingUrl}/`) })
    const report = runReport([storedOutcome("db")])
    await runOk(sink.runStarted(report.startedAt, true))
    await runOk(sink.runFinished(report, true))
    await runOk(sink.runFinished(runReport([storedOutcome("db")]), true)) // no start for this one
    const urls = server.requests.filter((request) => request.url.includes(uuid)).map((request) => request.url.replace(/rid=[-0-9a-f]+/, "rid=R"))
    expect(urls).toEqual([`/ping/${uuid}/start?rid=R`, `/ping/${uuid}?rid=R`, `/ping/${uuid}`])
  })

  it("an unknown check: logged (without the check's UUID), never fails the run", async () => {
    const uuid = "0f0f0f0f-1111-4222-8333-444444444444"
    const { exit, logs } = await runCaptured(run(`${server.pingBase}${uuid}`, runReport([storedOutcome("db")])))
    expect(exit._tag).toBe("Success")
    const warnings = logs.filter((line) => line.level === "Warn").map((line) => line.text)
    expect(warnings).toEqual([
      "healthchecks: start ping failed: 404 Not Found; not found",
      "healthchecks: success ping failed: 404 Not Found; not found"
    ])
    expect(logs.map((line) => line.text).join("\n")).not.toContain(uuid)
  })

  describe("the test server follows Healthchecks' rules", () => {
    const get = (path: string, init?: RequestInit) => fetch(`${server.pingBase}${path}`, init)

    it("404 for unknown checks, 400 for a bad rid or an exit status over 255, HEAD/GET/POST all count", async () => {
      const { uuid } = server.createCheck()
      expect([(await get("0f0f0f0f-1111-4222-8333-444444444444")).status]).toEqual([404])
      const badRid = await get(`${uuid}?rid=not-a-uuid`)
      expect([badRid.status, await badRid.text()]).toEqual([400, "invalid uuid format"])
      const badExit = await get(`${uuid}/256`)
      expect([badExit.status, await badExit.text()]).toEqual([400, "invalid url format"])
      const ok = await get(`${uuid}/start`, { method: "HEAD" })
      expect([ok.status, ok.headers.get("ping-body-limit"), ok.headers.get("access-control-allow-origin")]).toEqual([200, "10000", "*"])
      await get(`${uuid}/0`)
      expect(server.checks.get(uuid)!.status).toBe("up")
      await get(`${uuid}/3`, { method: "POST", body: "exit 3" })
      expect(server.checks.get(uuid)!.status).toBe("down")
      await get(`${uuid}/log`, { method: "POST", body: "just a note" })
      expect(server.checks.get(uuid)!.status).toBe("down")
      expect(server.checks.get(uuid)!.pings.map((ping) => [ping.kind, ping.exitStatus])).toEqual([
        ["start", undefined],
        ["success", 0],
        ["fail", 3],
        ["log", undefined]
      ])
      const rid = crypto.randomUUID().toUpperCase() // either case
      expect((await get(`${uuid}/start?rid=${rid}`)).status).toBe(200)
    })

    it("keeps only the first Ping-Body-Limit bytes of a body", async () => {
      const { uuid } = server.createCheck()
      await get(`${uuid}/log`, { method: "POST", body: "x".repeat(12_000) })
      expect(server.checks.get(uuid)!.pings[0]!.body.length).toBe(10_000)
    })
  })
})
