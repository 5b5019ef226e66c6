/**
 * What a verb that does little loads (src/cli/commands.ts, scripts/build.mjs):
 * `--version`, `--help` and `storage ls` must not evaluate the backup
 * pipeline, the HTTP stack, zlib or the worker threads. How long that takes
 * is the bench's business (`npm run bench`, start-up rows); this checks what
 * is loaded, which does not depend on the machine.
 */
import { spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { describe, expect, it } from "vitest"

const cli = path.resolve(import.meta.dirname, "../../dist/cli.mjs")

/** The Node built-ins the bundled CLI loaded for `args`, and its exit code. */
const builtinsLoadedBy = (args: ReadonlyArray<string>, stdinFile?: string) => {
  const report = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "ubackup-startup-")), "modules.json")
  const script = [
    `process.argv = [process.argv[0], ${JSON.stringify(cli)}, ...${JSON.stringify(args)}]`,
    `process.on("exit", () => require("node:fs").writeFileSync(${JSON.stringify(report)}, JSON.stringify(process.moduleLoadList)))`,
    `import(${JSON.stringify(cli)})`
  ].join("; ")
  // stdout and stderr as files: a pipe would load node:net for the standard streams themselves
  const errors = path.join(path.dirname(report), "stderr")
  const stderr = fs.openSync(errors, "w")
  const stdin = stdinFile === undefined ? "ignore" : fs.openSync(stdinFile, "r")
  const run = spawnSync(process.execPath, ["-e", script], { stdio: [stdin, "ignore", stderr] })
  fs.closeSync(stderr)
  if (typeof stdin === "number") fs.closeSync(stdin)
  const loaded = (JSON.parse(fs.readFileSync(report, "utf8")) as Array<string>)
    .filter((entry) => entry.startsWith("NativeModule ") && !entry.includes("internal/"))
    .map((entry) => entry.slice("NativeModule ".length))
  const result = { code: run.status, stderr: fs.readFileSync(errors, "utf8"), loaded }
  fs.rmSync(path.dirname(report), { recursive: true, force: true })
  return result
}

/** A config with local storage in a fresh folder, removed after `f`. */
const withLocalConfig = <A>(f: (config: string, dir: string) => A): A => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "ubackup-startup-config-"))
  const config = path.join(dir, "config.json")
  fs.writeFileSync(config, JSON.stringify({ encryption_recipients: ["age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p"], storage: { local: { path: "b" } } }))
  try {
    return f(config, dir)
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
  }
}

const heavy = ["http", "https", "tls", "zlib", "worker_threads", "child_process", "crypto", "net", "dgram", "readline"]

describe("start-up loads only what the verb needs", () => {
  it.each([[["--version"]], [["--help"]], [["storage", "--help"]]])("%j loads none of Node's network, zlib, crypto or thread modules", (args) => {
    const run = builtinsLoadedBy(args)
    expect(run.code, run.stderr).toBe(0)
    expect(run.loaded.filter((name) => heavy.includes(name))).toEqual([])
  })

  it("storage ls on a local folder loads neither the S3 SDK's network stack nor zlib", () => {
    const run = withLocalConfig((config) => builtinsLoadedBy(["storage", "ls", "db", "--config", config]))
    expect(run.code, run.stderr).toBe(0)
    expect(run.loaded.filter((name) => heavy.includes(name))).toEqual([])
  })

  it("a backup does load what it needs (the check above is not vacuous)", () => {
    const run = withLocalConfig((config, dir) => {
      const input = path.join(dir, "input")
      fs.writeFileSync(input, "some bytes to back up\n")
      return builtinsLoadedBy(["manual-backup", "db", "small", "--config", config], input)
    })
    expect(run.code, run.stderr).toBe(0)
    expect(run.loaded).toContain("crypto")
    expect(run.loaded).toContain("zlib")
  })
})
