/**
 * `ubackup now` as the tests run it, and its summary: one line per target,
 * `<service> <task> … ok|FAILED …`. The engine may hold other tests'
 * labelled containers, so a test looks only at its own services' lines and
 * checks the exit code against the whole summary.
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { expect } from "vitest"
import { initKeys, type Run, ubackup } from "./cli.ts"
import { escapeRegExp } from "./tools.ts"

export interface NowSetup {
  readonly keyFile: string
  /** The config file for `now`. */
  readonly configFile: string
  /** Its local storage folder. */
  readonly storage: string
}

/** `ubackup init` into `dir`, then a config for `now` beside it: local storage in `dir`/backups, the local Docker engine. */
export const initNowConfig = async (dir: string): Promise<NowSetup> => {
  const { keyFile, config } = await initKeys(dir)
  const storage = path.join(dir, "backups")
  const configFile = path.join(dir, "now.json")
  fs.writeFileSync(configFile, JSON.stringify({ ...config, storage: { local: { path: storage } }, docker_endpoint: "unix:///var/run/docker.sock" }, null, 2))
  return { keyFile, configFile, storage }
}

export interface NowRun extends Run {
  readonly text: string
  /** The non-empty lines of stdout. */
  readonly lines: ReadonlyArray<string>
  readonly startedAt: number
  readonly ms: number
}

export const runNow = async (config: string, ...flags: Array<string>): Promise<NowRun> => {
  const startedAt = Date.now()
  const run = await ubackup(["now", "--config", config, ...flags])
  const text = run.stdout.toString()
  return { ...run, text, lines: text.split("\n").filter((line) => line.trim() !== ""), startedAt, ms: Date.now() - startedAt }
}

/** The whole run, for assertion messages. */
export const describeRun = (run: NowRun) => `exit ${run.code}\n--- stdout\n${run.text}\n--- stderr\n${run.stderr}`

/** The summary lines of `service`. */
export const linesOf = (run: NowRun, service: string): ReadonlyArray<string> =>
  run.lines.filter((line) => line.split(/\s+/)[0] === service)

/** The summary line of `service` (exactly one). */
export const lineOf = (run: NowRun, service: string): string => {
  const lines = linesOf(run, service)
  expect(lines, `one summary line for ${service}\n${describeRun(run)}`).toHaveLength(1)
  return lines[0] as string
}

export const hasLine = (run: NowRun, service: string) => linesOf(run, service).length > 0

export const failedLines = (run: NowRun) => run.lines.filter((line) => /\bFAILED\b/i.test(line))

/** Exit 1 exactly when some target (ours or another test's) failed. */
export const expectExitMatchesSummary = (run: NowRun) => {
  expect(run.signal, describeRun(run)).toBeNull()
  expect(run.code, describeRun(run)).toBe(failedLines(run).length > 0 ? 1 : 0)
}

/**
 * A backup ID as a regular expression source:
 * `<service>/<YYYY-MM-DD HHMM>Z_<host>_<task><suffix>`, any host when `host` is not given.
 */
export const backupIdSource = (service: string, taskId: string, suffix: string, host?: string) =>
  `${escapeRegExp(service)}/\\d{4}-\\d{2}-\\d{2} \\d{4}Z_${host === undefined ? ".+" : escapeRegExp(host)}_${escapeRegExp(taskId)}${escapeRegExp(suffix)}`
