/**
 * `ubackup drill` through the real CLI on local storage: each service's
 * newest backup verified, a tar checked with the real `tar -t`, per-service
 * checks from the config, a stale service failing the drill, damage and a
 * failing check each failing it, `--json`, and every failure reaching the
 * lambda-alertmanager test server as an alert. PostgreSQL checked with psql
 * into a scratch database: test/e2e/postgres.test.ts.
 */
import { execFileSync } from "node:child_process"
import * as crypto from "node:crypto"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest"
import { initKeys, start, ubackup } from "../harness/cli.ts"
import { type LambdaAlertmanager, startLambdaAlertmanager } from "../harness/lambdaAlertmanager.ts"
import { waitFor } from "../harness/tools.ts"

const hostname = os.hostname()

describe("ubackup drill", () => {
  let dir: string
  let keyFile: string
  let baseConfig: Record<string, unknown>
  let config: string
  let root: string
  let lambda: LambdaAlertmanager
  const ids: Record<string, string> = {}

  const writeConfig = (fields: Record<string, unknown>) => {
    fs.writeFileSync(config, JSON.stringify({ ...baseConfig, alertmanager: { baseurl: lambda.baseurl }, ...fields }, null, 2))
  }

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "ubackup-drill-test-"))
    ;({ keyFile, config: baseConfig } = await initKeys(dir))
    config = path.join(dir, "config.json")
    root = path.join(dir, "backups")
    lambda = await startLambdaAlertmanager()
    writeConfig({})
    const tree = path.join(dir, "tree")
    fs.mkdirSync(tree)
    fs.writeFileSync(path.join(tree, "a.txt"), "a\n".repeat(10_000))
    const tar = execFileSync("tar", ["-cf", "-", "-C", tree, "."])
    for (const [service, input] of [["files", tar], ["notes", Buffer.from("not a tar\n")]] as const) {
      const backup = await ubackup(["manual-backup", service, "t1", "--config", config], { input })
      expect(backup.code, backup.stderr).toBe(0)
      ids[service] = backup.stdout.toString().trim()
    }
  })

  afterAll(async () => {
    await lambda?.close()
    if (dir !== undefined) fs.rmSync(dir, { recursive: true, force: true })
  })

  beforeEach(() => {
    lambda.requests.length = 0
    lambda.alerts.clear()
  })

  it("every service's newest backup verified: a table, exit 0, no alert", async () => {
    const run = await ubackup(["drill", "--key", keyFile, "--config", config])
    expect(run.code, run.stderr).toBe(0)
    const lines = run.stdout.toString().trimEnd().split("\n")
    expect(lines[0]).toMatch(/^SERVICE\s+RESULT\s+AGE\s+PLAINTEXT\s+TIME\s+BACKUP$/)
    expect(lines.slice(1).map((line) => line.split(/\s+/).slice(0, 2))).toEqual([["files", "ok"], ["notes", "ok"]])
    expect(lambda.activeAlerts()).toEqual([])
  })

  it("--check-command 'tar -t': the tar passes, the text fails with tar's stderr, and the failure is alerted", async () => {
    const run = await ubackup(["drill", "--key", keyFile, "--config", config, "--check-command", "tar -t", "--json"])
    expect(run.code).toBe(1)
    expect(run.stderr).toMatch(/1 of 2 service\(s\) failed the restore drill/)
    const results = JSON.parse(run.stdout.toString()) as Array<Record<string, unknown>>
    expect(results.map((result) => [result.service, result.ok, result.check])).toEqual([["files", true, ["tar", "-t"]], ["notes", false, ["tar", "-t"]]])
    expect(results[0]).toMatchObject({ backup_id: ids.files, stale: false, plaintext_bytes: expect.any(Number), sha256: expect.stringMatching(/^[0-9a-f]{64}$/) })
    expect(String(results[1]!.problem)).toMatch(/the restore command "tar -t" exited with status 2; its stderr ended with: tar: .*/)
    const [alert] = lambda.activeAlerts()
    expect(alert!.subject).toBe(`\u00b5backup ${hostname}: notes (restore drill failed)`)
    expect(alert!.details).toContain(`restore drill of ${ids.notes}: the restore command "tar -t" exited with status 2`)
  })

  it("per-service checks from the config; --service limits the drill", async () => {
    writeConfig({ drill: { checks: { files: ["tar", "-t"], notes: ["grep", "-q", "not a tar"] } } })
    try {
      const run = await ubackup(["drill", "--key", keyFile, "--config", config, "--json"])
      expect(run.code, run.stderr).toBe(0)
      expect((JSON.parse(run.stdout.toString()) as Array<{ check: Array<string> }>).map((result) => result.check)).toEqual([
        ["tar", "-t"],
        ["grep", "-q", "not a tar"]
      ])
      const one = await ubackup(["drill", "--key", keyFile, "--config", config, "--service", "notes", "--json"])
      expect((JSON.parse(one.stdout.toString()) as Array<{ service: string }>).map((result) => result.service)).toEqual(["notes"])
    } finally {
      writeConfig({})
    }
  })

  it("a check that stops reading early (pg_restore --list does) passes, yet the rest is still authenticated; a configured service with no backups fails", async () => {
    const big = await ubackup(["manual-backup", "big", "t1", "--config", config], { input: crypto.randomBytes(4 * 1024 * 1024) })
    expect(big.code, big.stderr).toBe(0)
    const bigId = big.stdout.toString().trim()
    writeConfig({ drill: { checks: { big: ["head", "-c", "10"], vanished: ["tar", "-t"] } } })
    const file = path.join(root, bigId)
    const original = fs.readFileSync(file)
    try {
      const run = await ubackup(["drill", "--key", keyFile, "--config", config, "--json"])
      const results = JSON.parse(run.stdout.toString()) as Array<{ service: string; ok: boolean; problem: string | null }>
      expect(results.map((result) => [result.service, result.ok])).toEqual([["big", true], ["files", true], ["notes", true], ["vanished", false]])
      expect(results[3]!.problem).toMatch(/no backups of service "vanished"/)
      const flipped = Buffer.from(original)
      flipped[Math.floor(flipped.length * 0.9)]! ^= 1
      fs.writeFileSync(file, flipped)
      const damaged = await ubackup(["drill", "--key", keyFile, "--config", config, "--service", "big"])
      expect(damaged.code).toBe(1)
      expect(damaged.stdout.toString()).toMatch(/big\s+FAILED\s.*failed authentication/)
    } finally {
      fs.writeFileSync(file, original)
      writeConfig({})
      fs.rmSync(path.join(root, "big"), { recursive: true, force: true })
    }
  })

  it("a stale service fails the drill as STALE and is alerted; the config's drill.stale_after is the default", async () => {
    const run = await ubackup(["drill", "--key", keyFile, "--config", config, "--service", "notes", "--stale-after", "1s"])
    expect(run.code).toBe(1)
    expect(run.stdout.toString()).toMatch(/notes\s+STALE\s.*the newest backup is .* old \(stale after 1\.0s\)/)
    expect(lambda.activeAlerts().map((alert) => alert.subject)).toEqual([`\u00b5backup ${hostname}: notes (stale backup)`])
    writeConfig({ drill: { stale_after: "1s" } })
    try {
      const fromConfig = await ubackup(["drill", "--key", keyFile, "--config", config, "--service", "files"])
      expect(fromConfig.stdout.toString()).toMatch(/files\s+STALE/)
    } finally {
      writeConfig({})
    }
  })

  it("a damaged backup, a service without backups, bad flags: each fails with its own message", async () => {
    const file = path.join(root, ids.files!)
    const original = fs.readFileSync(file)
    const flipped = Buffer.from(original)
    flipped[Math.floor(flipped.length / 2)]! ^= 1
    fs.writeFileSync(file, flipped)
    try {
      const run = await ubackup(["drill", "--key", keyFile, "--config", config, "--service", "files", "--service", "nothing-here"])
      expect(run.code).toBe(1)
      expect(run.stdout.toString()).toMatch(/files\s+FAILED\s.*(failed authentication|does not verify|tampered)/)
      expect(run.stdout.toString()).toMatch(/nothing-here\s+FAILED\s.*no backups of service "nothing-here"/)
      expect(lambda.activeAlerts().map((alert) => alert.subject).sort()).toEqual([
        `\u00b5backup ${hostname}: files (restore drill failed)`,
        `\u00b5backup ${hostname}: nothing-here (restore drill failed)`
      ])
    } finally {
      fs.writeFileSync(file, original)
    }
    const badStale = await ubackup(["drill", "--key", keyFile, "--config", config, "--stale-after", "soon"])
    expect([badStale.code, badStale.stderr]).toEqual([1, expect.stringMatching(/--stale-after.*not a duration/)])
    const badCron = await ubackup(["drill", "--key", keyFile, "--config", config, "--schedule", "every day"])
    expect([badCron.code, badCron.stderr]).toEqual([1, expect.stringMatching(/--schedule.*5-field cron/)])
    const badCheck = await ubackup(["drill", "--key", keyFile, "--config", config, "--check-command", "tar 'unclosed"])
    expect([badCheck.code, badCheck.stderr]).toEqual([1, expect.stringMatching(/--check-command/)])
  })

  it("--schedule: waits for the cron, then drills on each firing until stopped; SIGTERM is a clean exit", async () => {
    const running = start(["drill", "--key", keyFile, "--config", config, "--schedule", "* * * * *", "--service", "notes"])
    try {
      await waitFor("the first scheduled drill", async () => (/notes\s+ok/.test(running.output().stdout) ? true : undefined), 75_000)
      expect(running.output().stderr).toMatch(/restore drills on "\* \* \* \* \*" \(UTC\)/)
    } finally {
      running.child.kill("SIGTERM")
    }
    expect((await running.exited).code).toBe(0)
  }, 90_000)
})
