/**
 * The real Prometheus programs that read ubackup's metrics, started on
 * 127.0.0.1 by the tests: the Pushgateway (its parser is Prometheus' own and
 * refuses malformed exposition text) and node_exporter's textfile collector
 * (the consumer of `metrics_textfile`). And a small parser of the text
 * format for the assertions.
 */
import { type ChildProcess, spawn } from "node:child_process"
import { freePort, sleep } from "./tools.ts"

export const pushgatewayCommand = "prometheus-pushgateway"
export const nodeExporterCommand = "prometheus-node-exporter"

export interface Exporter {
  readonly url: string
  readonly stop: () => Promise<void>
  /** What the program wrote to stderr, for failure messages. */
  readonly log: () => string
}

const startExporter = async (command: string, args: (listen: string) => ReadonlyArray<string>): Promise<Exporter> => {
  const port = await freePort()
  const listen = `127.0.0.1:${port}`
  const child: ChildProcess = spawn(command, [...args(listen)], { stdio: ["ignore", "ignore", "pipe"] })
  let log = ""
  child.stderr?.on("data", (chunk: Buffer) => (log = (log + chunk.toString()).slice(-8000)))
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()))
  const url = `http://${listen}`
  const deadline = Date.now() + 20_000
  for (;;) {
    const up = await fetch(`${url}/metrics`).then((response) => response.ok, () => false)
    if (up) break
    if (child.exitCode !== null || Date.now() > deadline) {
      child.kill("SIGKILL")
      throw new Error(`${command} did not start on ${listen}:\n${log}`)
    }
    await sleep(100)
  }
  return {
    url,
    log: () => log,
    stop: async () => {
      if (child.exitCode === null) child.kill("SIGTERM")
      await exited
    }
  }
}

export const startPushgateway = () => startExporter(pushgatewayCommand, (listen) => [`--web.listen-address=${listen}`])

/** node_exporter with only the textfile collector, reading `directory`. */
export const startNodeExporter = (directory: string) =>
  startExporter(nodeExporterCommand, (listen) => [
    `--web.listen-address=${listen}`,
    "--collector.disable-defaults",
    "--collector.textfile",
    `--collector.textfile.directory=${directory}`
  ])

export interface Sample {
  readonly name: string
  readonly labels: Readonly<Record<string, string>>
  readonly value: number
}

/** Samples of the Prometheus text format (no escapes beyond \\ \" \n in label values, which is all ubackup writes). */
export const parseExposition = (text: string): Array<Sample> =>
  text.split("\n").flatMap((line) => {
    if (line.trim() === "" || line.startsWith("#")) return []
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)(?:\s+\d+)?$/.exec(line)
    if (match === null) throw new Error(`not a sample line: ${line}`)
    const labels: Record<string, string> = {}
    for (const label of (match[2] ?? "").matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) {
      labels[label[1]!] = label[2]!.replace(/\\(.)/g, (_, c: string) => (c === "n" ? "\n" : c))
    }
    return [{ name: match[1]!, labels, value: Number(match[3]) }]
  })

/** The one sample named `name` whose labels include `labels`; throws if there is not exactly one. */
export const sample = (samples: ReadonlyArray<Sample>, name: string, labels: Record<string, string> = {}): number => {
  const found = samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))
  if (found.length !== 1) throw new Error(`${found.length} samples ${name}${JSON.stringify(labels)}`)
  return found[0]!.value
}
