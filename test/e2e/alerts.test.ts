/**
 * Alerts end to end, through the real CLI with real failing commands: `now`
 * reports a failed target to lambda-alertmanager (with the command's stderr)
 * and Healthchecks, checks the dead man's switch in after the run, and a
 * check-in that fails fails the run after the summary is printed; `scheduler
 * run` does the same per run. The servers are the faithful test servers of
 * test/harness (the real Prometheus Alertmanager is in test/alert).
 */
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest"
import { initKeys, start, ubackup } from "../harness/cli.ts"
import { type HealthchecksServer, startHealthchecks } from "../harness/healthchecks.ts"
import { type LambdaAlertmanager, startLambdaAlertmanager } from "../harness/lambdaAlertmanager.ts"

const hostname = os.hostname()

const okTarget = { service_name: "alerts-ok", backup_command: ["seq", "1", "100"] }
const failingTarget = {
  service_name: "alerts-broken",
  backup_command: ["sh", "-c", "echo 'pg_dump: error: connection to server failed: FATAL:  role \"app\" does not exist' >&2; exit 1"]
}

let dir: string
let baseConfig: Record<string, unknown>
let lambda: LambdaAlertmanager
let healthchecks: HealthchecksServer

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "ubackup-alerts-test-"))
  baseConfig = (await initKeys(path.join(dir, "keys"))).config
  lambda = await startLambdaAlertmanager({ stage: "/prod" })
  healthchecks = await startHealthchecks()
})

afterAll(async () => {
  await lambda?.close()
  await healthchecks?.close()
  if (dir !== undefined) fs.rmSync(dir, { recursive: true, force: true })
})

beforeEach(() => {
  lambda.requests.length = 0
  lambda.alerts.clear()
  lambda.switches.clear()
  lambda.respondWith = undefined
})

const writeConfig = (name: string, fields: Record<string, unknown>) => {
  const file = path.join(dir, `${name}.json`)
  fs.writeFileSync(file, JSON.stringify({ ...baseConfig, ...fields }, null, 2))
  return file
}

const paths = () => lambda.requests.map((request) => `${request.method} ${request.url}`)

describe("ubackup now", () => {
  it("a failed target: alerted at once with its stderr, the check-in after the run, Healthchecks told start and fail", async () => {
    const check = healthchecks.createCheck()
    const config = writeConfig("fail", {
      static_targets: [failingTarget, okTarget],
      // a trailing slash, which broke µbackup's URLs
      alertmanager: { baseurl: `${lambda.baseurl}/` },
      alerts: { healthchecks: { url: check.pingUrl } }
    })
    const run = await ubackup(["now", "--config", config])
    expect(run.code, run.stderr).toBe(1)
    expect(run.stdout.toString()).toMatch(/alerts-broken\s+static\s.*FAILED/)
    expect(run.stdout.toString()).toMatch(/alerts-ok\s+static\s.*ok/)

    // the alert came before the check-in
    expect(paths()).toEqual(["POST /prod/alerts/ingest", "POST /prod/deadmansswitch/checkin"])
    const [alert] = lambda.activeAlerts()
    expect(alert!.subject).toBe(`\u00b5backup ${hostname}: alerts-broken`)
    expect(alert!.details).toContain("exited with code 1")
    expect(alert!.details).toContain('FATAL:  role "app" does not exist')
    expect(JSON.parse(lambda.requests[1]!.body.toString())).toEqual({ subject: `\u00b5backup ${hostname}`, ttl: "+25h" })
    expect([...lambda.switches.keys()]).toEqual([`\u00b5backup ${hostname}`])

    const pings = healthchecks.checks.get(check.uuid)!.pings
    expect(pings.map((ping) => ping.kind)).toEqual(["start", "fail"])
    expect(pings[1]!.rid).toBe(pings[0]!.rid)
    expect(pings[1]!.text).toContain("2 targets: 1 stored, 1 failed (alerts-broken)")
    expect(pings[1]!.text).toContain('role "app" does not exist')
    expect(healthchecks.checks.get(check.uuid)!.status).toBe("down")
  })

  it("all stored: no alert, the check-in with the configured ttl; Healthchecks up", async () => {
    const check = healthchecks.createCheck()
    const config = writeConfig("ok", {
      static_targets: [okTarget],
      alertmanager: { baseurl: lambda.baseurl, deadmansswitch_ttl: "+1d@02:00" },
      alerts: { healthchecks: { url: check.pingUrl } }
    })
    const run = await ubackup(["now", "--config", config])
    expect(run.code, run.stderr).toBe(0)
    expect(paths()).toEqual(["POST /prod/deadmansswitch/checkin"])
    expect(JSON.parse(lambda.requests[0]!.body.toString())).toEqual({ subject: `\u00b5backup ${hostname}`, ttl: "+1d@02:00" })
    expect(healthchecks.checks.get(check.uuid)!.status).toBe("up")
  })

  it("--json: the summary as JSON, one object per target; a failed one carries its error and exit 1", async () => {
    const config = writeConfig("json", { static_targets: [failingTarget, okTarget] })
    const run = await ubackup(["now", "--json", "--config", config])
    expect(run.code).toBe(1)
    const summary = JSON.parse(run.stdout.toString()) as Array<Record<string, unknown>>
    const byService = Object.fromEntries(summary.map((entry) => [entry.service, entry]))
    expect(byService["alerts-ok"]).toMatchObject({ ok: true, task_id: "static", backup_id: expect.stringMatching(/^alerts-ok\//), error: null })
    expect(Number(byService["alerts-ok"]!.size_bytes)).toBeGreaterThan(0)
    expect(byService["alerts-broken"]).toMatchObject({ ok: false, backup_id: null, error: expect.stringContaining("exited with code 1") })
  })

  it("a check-in that fails fails the run, after every backup was stored and the summary printed", async () => {
    lambda.respondWith = { status: 500, body: "store unavailable", path: "/deadmansswitch/checkin" }
    const config = writeConfig("checkin", { static_targets: [okTarget], alertmanager: { baseurl: lambda.baseurl } })
    const run = await ubackup(["now", "--config", config])
    expect(run.code).toBe(1)
    expect(run.stdout.toString()).toMatch(/alerts-ok\s+static\s.*ok/)
    expect(run.stderr).toContain("lambda-alertmanager: dead man's switch check-in failed: 500 Internal Server Error; store unavailable")
    // the base URL is the secret: never printed
    expect(run.stderr).not.toContain("/prod")
  })

  it("an alert that cannot be delivered: no check-in, so the dead man's switch will fire", async () => {
    lambda.respondWith = { status: 400, body: "nope", path: "/alerts/ingest" }
    const config = writeConfig("undelivered", { static_targets: [failingTarget], alertmanager: { baseurl: lambda.baseurl } })
    const run = await ubackup(["now", "--config", config])
    expect(run.code).toBe(1)
    expect(paths()).toEqual(["POST /prod/alerts/ingest"])
    expect(run.stderr).toContain("check-in skipped")
  })
})

describe("ubackup now: size drops", () => {
  it("a backup far below the service's recent ones warns through the sinks, normal variation does not; a corrupt history is rebuilt", async () => {
    const sizeFile = path.join(dir, "dump-size")
    const config = writeConfig("sizes", {
      static_targets: [{ service_name: "alerts-sizes", backup_command: ["sh", "-c", `head -c "$(cat '${sizeFile}')" /dev/urandom`] }],
      alertmanager: { baseurl: lambda.baseurl }
    })
    const history = path.join(dir, "history.json")
    const runWith = async (bytes: number) => {
      fs.writeFileSync(sizeFile, String(bytes))
      const run = await ubackup(["now", "--config", config])
      expect(run.code, run.stderr).toBe(0)
      return run
    }
    // normal variation, within a factor of two of the median
    for (const bytes of [100_000, 120_000, 80_000, 110_000, 60_000]) await runWith(bytes)
    expect(lambda.activeAlerts()).toEqual([])
    const saved = JSON.parse(fs.readFileSync(history, "utf8"))
    expect(saved.version).toBe(1)
    expect(saved.services["alerts-sizes"]).toHaveLength(5)
    expect((fs.statSync(history).mode & 0o777).toString(8)).toBe("600")

    // an empty database's dump: a warning, with the figures; the run still succeeds
    const shrunk = await runWith(1_000)
    expect(shrunk.stderr).toMatch(/alerts-sizes: .* is 1\.\d KiB, 1% of the median 9\d\.\d KiB of the last 5 backups/)
    const [warning] = lambda.activeAlerts()
    expect(warning!.subject).toBe(`\u00b5backup ${hostname}: alerts-sizes (warning)`)
    expect(warning!.details).toMatch(/1% of the median .* was the right thing backed up\?/)

    // a corrupt state file is rebuilt, not fatal
    fs.writeFileSync(history, "{ not json")
    const rebuilt = await runWith(100_000)
    expect(rebuilt.stderr).toMatch(/backup history .*history\.json is not a valid history file: starting an empty one/)
    expect(JSON.parse(fs.readFileSync(history, "utf8")).services["alerts-sizes"]).toHaveLength(1)
    expect(fs.readdirSync(dir).filter((name) => name.endsWith(".tmp"))).toEqual([])
  }, 120_000)
})

describe("scheduler run", () => {
  it("--run-now: the alert and the check-in of the first run, then it waits for the schedule", async () => {
    const config = writeConfig("scheduler", { static_targets: [failingTarget, okTarget], alertmanager: { baseurl: lambda.baseurl } })
    const scheduler = start(["scheduler", "run", "--run-now", "--config", config])
    try {
      const deadline = Date.now() + 30_000
      while (!paths().includes("POST /prod/deadmansswitch/checkin") && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100))
      expect(paths()).toEqual(["POST /prod/alerts/ingest", "POST /prod/deadmansswitch/checkin"])
      expect(lambda.activeAlerts()[0]!.subject).toBe(`\u00b5backup ${hostname}: alerts-broken`)
      // still running: a failed target does not stop the scheduler
      expect(scheduler.child.exitCode).toBeNull()
    } finally {
      scheduler.child.kill("SIGTERM")
      expect(await scheduler.exited, scheduler.output().stderr).toEqual({ code: 0, signal: null })
    }
  })
})
