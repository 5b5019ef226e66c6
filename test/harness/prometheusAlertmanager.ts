/**
 * A real Prometheus Alertmanager (Debian's `prometheus-alertmanager`) on
 * 127.0.0.1 for one test file: a temp config and storage directory, no
 * clustering, stopped (and its directory removed) by `stop`. Its one route
 * goes to a webhook receiver (send_resolved) when `webhookUrl` is given,
 * else to a receiver with no integrations.
 */
import { type ChildProcess, spawn } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { freePort, sleep } from "./tools.ts"

export const alertmanagerCommand = "prometheus-alertmanager"

export interface PrometheusAlertmanager {
  readonly url: string
  /** Its log so far (stderr), for failure messages. */
  readonly log: () => string
  readonly stop: () => Promise<void>
}

const configYaml = (webhookUrl: string | undefined) =>
  [
    "route:",
    `  receiver: ${webhookUrl === undefined ? "nowhere" : "webhook"}`,
    "  group_by: [alertname, host, service]",
    // notify at once and flush resolved alerts quickly: tests wait on them
    "  group_wait: 0s",
    "  group_interval: 1s",
    "  repeat_interval: 1h",
    "receivers:",
    "  - name: nowhere",
    ...(webhookUrl === undefined ? [] : ["  - name: webhook", "    webhook_configs:", `      - url: ${JSON.stringify(webhookUrl)}`, "        send_resolved: true"])
  ].join("\n") + "\n"

const exited = (child: ChildProcess) =>
  new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve()
    else child.once("exit", () => resolve())
  })

export const startPrometheusAlertmanager = async (options: { readonly webhookUrl?: string } = {}): Promise<PrometheusAlertmanager> => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "ubackup-alertmanager-"))
  const configFile = path.join(dir, "alertmanager.yml")
  fs.writeFileSync(configFile, configYaml(options.webhookUrl))
  const port = await freePort()
  const url = `http://127.0.0.1:${port}`
  const child = spawn(alertmanagerCommand, [
    `--config.file=${configFile}`,
    `--storage.path=${path.join(dir, "data")}`,
    `--web.listen-address=127.0.0.1:${port}`,
    // an empty address disables the gossip cluster (and its port)
    "--cluster.listen-address=",
    "--log.level=info"
  ], { stdio: ["ignore", "ignore", "pipe"] })
  let log = ""
  child.stderr!.setEncoding("utf8").on("data", (text: string) => {
    log += text
  })

  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill("SIGTERM")
      const timer = setTimeout(() => child.kill("SIGKILL"), 5_000)
      await exited(child)
      clearTimeout(timer)
    }
    fs.rmSync(dir, { recursive: true, force: true })
  }

  const deadline = Date.now() + 30_000
  for (;;) {
    if (child.exitCode !== null) {
      await stop()
      throw new Error(`prometheus-alertmanager exited with code ${child.exitCode}:\n${log}`)
    }
    const ready = await fetch(`${url}/-/ready`).then((response) => response.ok, () => false)
    if (ready) break
    if (Date.now() > deadline) {
      await stop()
      throw new Error(`prometheus-alertmanager not ready after 30 s:\n${log}`)
    }
    await sleep(100)
  }
  return { url, log: () => log, stop }
}
