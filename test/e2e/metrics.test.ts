/**
 * Metrics as Prometheus reads them, through the real CLI and real Prometheus
 * programs: `scheduler run` serves /metrics, scraped, parsed, and pushed to
 * the Pushgateway (whose parser refuses malformed text); `now` writes
 * `metrics_textfile` atomically, read by node_exporter's textfile collector.
 */
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { initKeys, start, ubackup } from "../harness/cli.ts"
import {
  nodeExporterCommand,
  parseExposition,
  pushgatewayCommand,
  sample,
  startNodeExporter,
  startPushgateway
} from "../harness/exporters.ts"
import { freePort, requireCommands, waitFor } from "../harness/tools.ts"

const ready = requireCommands("metrics read by Prometheus programs", pushgatewayCommand, nodeExporterCommand)

/** `seq 1 1000`: 3893 bytes. */
const okTarget = (service: string) => ({ service_name: service, backup_command: ["seq", "1", "1000"], file_extension: ".txt" })
const failingTarget = (service: string) => ({ service_name: service, backup_command: ["sh", "-c", "echo half; echo broken >&2; exit 3"] })

describe.runIf(ready)("metrics", () => {
  let dir: string
  let baseConfig: Record<string, unknown>

  const writeConfig = (name: string, fields: Record<string, unknown>) => {
    const storage = path.join(dir, `${name}-backups`)
    const file = path.join(dir, `${name}.json`)
    fs.writeFileSync(file, JSON.stringify({ ...baseConfig, storage: { local: { path: storage } }, ...fields }, null, 2))
    return { file, storage }
  }

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "ubackup-metrics-test-"))
    baseConfig = (await initKeys(path.join(dir, "keys"))).config
  })

  afterAll(() => {
    if (dir !== undefined) fs.rmSync(dir, { recursive: true, force: true })
  })

  it("scheduler run serves /metrics per service; the text parses, and the Pushgateway takes it", async () => {
    const port = await freePort()
    const { file, storage } = writeConfig("served", {
      static_targets: [okTarget("metrics-ok"), failingTarget("metrics-fail")],
      metrics_listen: `127.0.0.1:${port}`
    })
    const startedAt = Date.now() / 1000
    const scheduler = start(["scheduler", "run", "--run-now", "--config", file])
    try {
      const url = `http://127.0.0.1:${port}/metrics`
      const response = await waitFor("the run's metrics", async () => {
        const answer = await fetch(url).catch(() => undefined)
        if (answer === undefined) return undefined
        const text = await answer.text()
        return text.includes("ubackup_last_run_timestamp_seconds") ? { headers: answer.headers, text } : undefined
      })
      expect(response.headers.get("content-type")).toBe("text/plain; version=0.0.4; charset=utf-8")
      const samples = parseExposition(response.text)

      expect(sample(samples, "ubackup_last_run_targets")).toBe(2)
      expect(sample(samples, "ubackup_last_run_failed_targets")).toBe(1)
      expect(sample(samples, "ubackup_last_run_success", { service: "metrics-ok" })).toBe(1)
      expect(sample(samples, "ubackup_last_run_success", { service: "metrics-fail" })).toBe(0)
      expect(sample(samples, "ubackup_backup_bytes_in", { service: "metrics-ok" })).toBe(3893)
      const [stored] = fs.readdirSync(path.join(storage, "metrics-ok"))
      expect(sample(samples, "ubackup_backup_bytes_out", { service: "metrics-ok" })).toBe(
        fs.statSync(path.join(storage, "metrics-ok", stored!)).size
      )
      const lastSuccess = sample(samples, "ubackup_last_success_timestamp_seconds", { service: "metrics-ok" })
      expect(lastSuccess).toBeGreaterThanOrEqual(Math.floor(startedAt))
      expect(lastSuccess).toBeLessThanOrEqual(Date.now() / 1000)
      // a service that never succeeded has no last success (an alert on its absence tells)
      expect(samples.some((s) => s.name === "ubackup_last_success_timestamp_seconds" && s.labels.service === "metrics-fail")).toBe(false)
      expect(sample(samples, "ubackup_backup_duration_seconds", { service: "metrics-ok" })).toBeGreaterThanOrEqual(0)
      expect(sample(samples, "ubackup_last_run_duration_seconds")).toBeGreaterThanOrEqual(0)
      expect((await fetch(`http://127.0.0.1:${port}/other`)).status).toBe(404)
      const post = await fetch(`http://127.0.0.1:${port}/metrics`, { method: "POST" })
      expect([post.status, post.headers.get("allow")]).toEqual([405, "GET, HEAD"])
      const head = await fetch(`http://127.0.0.1:${port}/metrics?x=1`, { method: "HEAD" })
      expect([head.status, head.headers.get("content-type")]).toEqual([200, "text/plain; version=0.0.4; charset=utf-8"])

      // Prometheus' own parser: the Pushgateway refuses text it cannot parse with 400
      const pushgateway = await startPushgateway()
      try {
        const push = await fetch(`${pushgateway.url}/metrics/job/ubackup/instance/test`, { method: "PUT", body: response.text })
        expect(push.status, `${await push.text()}\n${pushgateway.log()}`).toBe(200)
        const groups = (await (await fetch(`${pushgateway.url}/api/v1/metrics`)).json()) as {
          data: Array<Record<string, { type?: string; metrics?: Array<{ labels: Record<string, string>; value: string }> }>>
        }
        const family = groups.data[0]!["ubackup_last_run_success"]!
        expect(family.type).toBe("GAUGE")
        expect(family.metrics!.map((m) => [m.labels.service, m.value]).sort()).toEqual([["metrics-fail", "0"], ["metrics-ok", "1"]])
      } finally {
        await pushgateway.stop()
      }

      expect(scheduler.output().stderr).toMatch(/next run at \d{4}-\d{2}-\d{2}T01:00:00\.000Z/)
    } finally {
      scheduler.child.kill("SIGTERM")
      const exit = await scheduler.exited
      expect(exit, scheduler.output().stderr).toEqual({ code: 0, signal: null })
    }
  })

  it("now writes metrics_textfile atomically, and node_exporter's textfile collector reads it", async () => {
    const textfiles = path.join(dir, "textfiles")
    fs.mkdirSync(textfiles)
    const textfile = path.join(textfiles, "ubackup.prom")
    const { file } = writeConfig("textfile", { static_targets: [okTarget("textfile-ok")], metrics_textfile: textfile })
    const run = await ubackup(["now", "--config", file])
    expect(run.code, run.stderr).toBe(0)
    // the file only, no temporary left beside it
    expect(fs.readdirSync(textfiles)).toEqual(["ubackup.prom"])

    const exporter = await startNodeExporter(textfiles)
    try {
      const samples = parseExposition(await (await fetch(`${exporter.url}/metrics`)).text())
      expect(sample(samples, "node_textfile_scrape_error"), exporter.log()).toBe(0)
      expect(sample(samples, "ubackup_last_run_success", { service: "textfile-ok" })).toBe(1)
      expect(sample(samples, "ubackup_backup_bytes_in", { service: "textfile-ok" })).toBe(3893)
    } finally {
      await exporter.stop()
    }
  })

  it("a metrics_textfile planted as a symlink is replaced, never followed: the file it pointed to is untouched", async () => {
    const textfiles = path.join(dir, "planted")
    fs.mkdirSync(textfiles)
    const victim = path.join(dir, "victim.txt")
    fs.writeFileSync(victim, "not ubackup's\n")
    const textfile = path.join(textfiles, "ubackup.prom")
    fs.symlinkSync(victim, textfile)
    const { file } = writeConfig("planted", { static_targets: [okTarget("planted-ok")], metrics_textfile: textfile })
    const run = await ubackup(["now", "--config", file])
    expect(run.code, run.stderr).toBe(0)
    expect(fs.readFileSync(victim, "utf8")).toBe("not ubackup's\n")
    expect(fs.lstatSync(textfile).isFile()).toBe(true)
    expect(fs.readFileSync(textfile, "utf8")).toContain('ubackup_last_run_success{service="planted-ok"} 1')
    expect(fs.readdirSync(textfiles)).toEqual(["ubackup.prom"])
  })

  it("a metrics_textfile that cannot be written: the backup is stored all the same, the error names the file", async () => {
    const textfile = path.join(dir, "no-such-folder", "ubackup.prom")
    const { file, storage } = writeConfig("badtextfile", { static_targets: [okTarget("textfile-bad")], metrics_textfile: textfile })
    const run = await ubackup(["now", "--config", file])
    expect(run.code).toBe(1)
    expect(run.stderr).toContain(textfile)
    expect(run.stdout.toString()).toMatch(/textfile-bad\s+static\s.*ok/)
    expect(fs.readdirSync(path.join(storage, "textfile-bad"))).toHaveLength(1)
  })

  it("a metrics_listen port in use: the scheduler does not start, and says which address", async () => {
    const port = await freePort()
    const blocker = await import("node:net").then((net) => net.createServer().listen(port, "127.0.0.1"))
    try {
      const { file } = writeConfig("busy", { static_targets: [okTarget("busy-ok")], metrics_listen: `127.0.0.1:${port}` })
      const run = await ubackup(["scheduler", "run", "--config", file])
      expect(run.code).toBe(1)
      expect(run.stderr).toContain(`127.0.0.1:${port}`)
      expect(run.stderr).toMatch(/EADDRINUSE|in use/)
    } finally {
      blocker.close()
    }
  })
})
