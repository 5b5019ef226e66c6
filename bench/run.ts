/**
 * `npm run bench`: ubackup against the tools it replaces or resembles, on the
 * same input, and a check of the project's targets:
 *   - ubackup throughput ≥ 0.8 × `zstd -3 -T0 | age` (the reference),
 *   - ubackup peak RSS ≤ 128 MiB, on the corpus and on a 4 GiB pipe.
 * It is a measurement: the exit code is 0 even when a target fails, unless
 * --check asks for a failing exit code.
 */
import { spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { parseArgs } from "node:util"
import { ensureCorpus } from "./corpus.ts"
import { measure, type Measurement, shellQuote, stopRunning } from "./measure.ts"
import { isToolName, makeToolbox, type Tool, type ToolName, toolNames, ubackupBin } from "./tools.ts"

const usage = `usage: npm run bench -- [--runs N] [--size-gib N] [--skip-4g] [--only ${toolNames.join(",")}] [--check]
  --runs N       runs per tool, the table shows the median (default 3)
  --size-gib N   corpus size in GiB, fractions allowed (default 1)
  --skip-4g      skip the 4 GiB memory run of ubackup
  --only LIST    tools to run, comma-separated
  --check        exit with code 1 when a target fails`

const MiB = 1024 * 1024
const GiB = 1024 * MiB
const rssLimit = 128 * MiB
const throughputTarget = 0.8

const { values: options } = parseArgs({
  options: {
    runs: { type: "string", default: "3" },
    "size-gib": { type: "string", default: "1" },
    "skip-4g": { type: "boolean", default: false },
    only: { type: "string", default: toolNames.join(",") },
    check: { type: "boolean", default: false },
    help: { type: "boolean", default: false }
  }
})
if (options.help) {
  console.log(usage)
  process.exit(0)
}
const runs = Number(options.runs)
const sizeGiB = Number(options["size-gib"])
const only = options.only.split(",").map((name) => name.trim()).filter((name) => name !== "")
const unknown = only.filter((name) => !isToolName(name))
if (!Number.isInteger(runs) || runs < 1 || !(sizeGiB > 0) || unknown.length > 0 || only.length === 0) {
  console.error(unknown.length > 0 ? `unknown tool(s): ${unknown.join(", ")}\n${usage}` : usage)
  process.exit(2)
}

const root = fileURLToPath(new URL("..", import.meta.url))
if (!fs.existsSync(path.join(root, "dist/cli.mjs"))) {
  console.error("dist/cli.mjs is missing: run `npm run build` first")
  process.exit(2)
}

// ---- formatting ----
const median = (values: ReadonlyArray<number>): number => {
  const sorted = [...values].sort((a, b) => a - b)
  const middle = Math.floor(sorted.length / 2)
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2
}
const mbps = (bytes: number, ms: number) => bytes / 1e6 / (ms / 1000)
const mib = (bytes: number | undefined) => (bytes === undefined ? "-" : (bytes / MiB).toFixed(1))
const seconds = (ms: number) => (ms / 1000).toFixed(2)
const byName = (peaks: ReadonlyMap<string, number>) =>
  [...peaks].filter(([, bytes]) => bytes >= MiB).sort((a, b) => b[1] - a[1]).map(([name, bytes]) => `${name} ${mib(bytes)}`).join(", ")

const table = (rows: ReadonlyArray<ReadonlyArray<string>>): string => {
  const widths = rows[0]!.map((_, column) => Math.max(...rows.map((row) => row[column]!.length)))
  return rows.map((row) => row.map((cell, column) => column === 0 ? cell.padEnd(widths[column]!) : cell.padStart(widths[column]!)).join("  ")).join("\n")
}

// ---- one measured run ----
interface Sample {
  readonly measurement: Measurement
  readonly outputBytes: number
  /** Time of a `sync` right after the run: the write-back the tool left to the kernel. */
  readonly syncMs: number
}

const timedSync = (): number => {
  const started = performance.now()
  spawnSync("sync")
  return performance.now() - started
}

const runOnce = async (tool: Tool, run: string, stdin: string, prefix = ""): Promise<Sample & { readonly stored: string }> => {
  const prepared = tool.prepare(run)
  // start every run with no dirty pages of earlier runs waiting to be written
  timedSync()
  const measurement = await measure({ script: prefix + prepared.script, stdin, ...(prepared.env ? { env: prepared.env } : {}) })
  if (measurement.exitCode !== 0) {
    throw new Error(`${tool.name} (${run}) exited with ${measurement.exitCode}:\n${measurement.stderr}`)
  }
  // ubackup fsyncs its output inside its wall time; the others do not, so
  // show what flushing theirs costs, next to (not inside) the wall time
  const syncMs = timedSync()
  const output = prepared.output(measurement.stdout)
  return { measurement, outputBytes: output.bytes, syncMs, stored: output.path }
}

// ---- main ----
const cacheDir = path.join(root, ".bench")
const log = (line: string) => console.log(line)

const corpus = await ensureCorpus(cacheDir, Math.round(sizeGiB * GiB), log)
log(`corpus: ${corpus.path}, ${corpus.bytes} bytes, sha256 ${corpus.sha256.slice(0, 16)} (read once: now in the page cache)`)

const work = fs.mkdtempSync(path.join(cacheDir, "work-"))
const cleanUp = () => fs.rmSync(work, { recursive: true, force: true })
process.on("SIGINT", () => {
  stopRunning()
  cleanUp()
  process.exit(130)
})
log(`temporary files: ${work} (removed at the end; the corpus stays cached)`)

const failures: Array<string> = []
try {
  const toolbox = makeToolbox(work)
  const tools = toolbox.tools.filter((tool) => only.includes(tool.name))
  const samples = new Map<ToolName, Array<Sample>>(tools.map((tool) => [tool.name, []]))
  /** Whether `ubackup decrypt` gave the corpus back; checked once, untimed. */
  let roundTrip: boolean | undefined
  /** A default ubackup backup of the corpus, restored by the restore rows. */
  let restoreInput: string | undefined

  // round-robin over the tools, so drift (thermal, noisy neighbours) spreads
  // over all of them instead of landing on whichever ran last
  for (let round = 1; round <= runs; round++) {
    for (const tool of tools) {
      const sample = await runOnce(tool, `run${round}`, corpus.path)
      const m = sample.measurement
      log(
        `  ${tool.name} run ${round}/${runs}: ${seconds(m.wallMs)} s, ${mbps(corpus.bytes, m.wallMs).toFixed(1)} MB/s, ` +
          `${mib(sample.outputBytes)} MiB out, peak RSS ${mib(m.peakTreeRss)} MiB (${byName(m.peakByName)})`
      )
      if (tool.name === "ubackup" && roundTrip === undefined) {
        const sha256 = await toolbox.decryptSha256(sample.stored)
        roundTrip = sha256 === corpus.sha256
        log(`  ubackup decrypt | sha256: ${sha256.slice(0, 16)} ${roundTrip ? "=" : "≠"} corpus`)
      }
      // the first ubackup backup is kept for the restore rows
      if (tool.name === "ubackup" && restoreInput === undefined) restoreInput = sample.stored
      else fs.rmSync(sample.stored, { recursive: true, force: true })
      samples.get(tool.name)!.push(sample)
    }
  }

  // ---- table ----
  const summary = new Map(
    [...samples].map(([name, list]) => {
      const wall = median(list.map((sample) => sample.measurement.wallMs))
      // durable: until the output is on disk. ubackup fsyncs inside its wall
      // time; for the others the write-back they left to the kernel is added
      const durable = median(list.map((sample) => sample.measurement.wallMs + sample.syncMs))
      return [name, {
        wall,
        mbps: mbps(corpus.bytes, wall),
        durableMbps: mbps(corpus.bytes, durable),
        rss: median(list.map((sample) => sample.measurement.peakTreeRss))
      }]
    })
  )
  const reference = summary.get("zstd-age")
  const header = [
    "tool", "wall s", "min-max s", "MB/s", "out MiB", "out/in", "sync s", "durable MB/s",
    "peak RSS MiB", "anon MiB", "max proc MiB", "MB/s vs zstd|age", "durable vs zstd|age", "RSS vs zstd|age",
    "per process (peak VmRSS MiB)"
  ]
  const rows = tools.map((tool) => {
    const list = samples.get(tool.name)!
    const own = summary.get(tool.name)!
    const walls = list.map((sample) => sample.measurement.wallMs)
    const out = median(list.map((sample) => sample.outputBytes))
    const maxProcess = list.map((sample) => sample.measurement.maxProcessRss)
    const peaks = new Map<string, number>()
    for (const sample of list) {
      for (const [name, bytes] of sample.measurement.peakByName) peaks.set(name, Math.max(peaks.get(name) ?? 0, bytes))
    }
    return [
      tool.name,
      seconds(own.wall),
      `${seconds(Math.min(...walls))}-${seconds(Math.max(...walls))}`,
      own.mbps.toFixed(1),
      mib(out),
      (out / corpus.bytes).toFixed(3),
      seconds(median(list.map((sample) => sample.syncMs))),
      own.durableMbps.toFixed(1),
      mib(own.rss),
      mib(median(list.map((sample) => sample.measurement.peakTreeAnon))),
      maxProcess.every((bytes) => bytes !== undefined) ? mib(median(maxProcess)) : "-",
      reference ? (own.mbps / reference.mbps).toFixed(2) : "n/a",
      reference ? (own.durableMbps / reference.durableMbps).toFixed(2) : "n/a",
      reference ? (own.rss / reference.rss).toFixed(2) : "n/a",
      byName(peaks)
    ]
  })
  log("")
  for (const tool of tools) log(`${tool.name}: ${tool.label}`)
  log(`${+(corpus.bytes / GiB).toFixed(3)} GiB corpus (sha256 ${corpus.sha256.slice(0, 16)}), median of ${runs} run(s); MB = 10^6 bytes, MiB = 2^20`)
  log("peak RSS: largest sum of VmRSS over the process tree (sampled every 250 ms); anon: the same for RssAnon (VmRSS less mapped")
  log("files such as the node binary); max proc: ru_maxrss of the largest process")
  log("sync s: an untimed `sync` after the run (ubackup already fsyncs inside its wall time); durable MB/s: over wall + sync,")
  log("i.e. until the output is on disk, as ubackup guarantees; per process: largest over all runs")
  log(table([header, ...rows]))

  // ---- restore: the same ubackup backup through ubackup and through age | zstd ----
  let restoreRatio: number | undefined
  let gzipRestoreRatio: number | undefined
  let restoreWorstRss: number | undefined
  if (restoreInput !== undefined) {
    const key = shellQuote(toolbox.privateKey)
    // the gzip rows restore a gzip-mode backup of the same corpus, made here untimed
    log("")
    log("backing the corpus up in gzip mode for the gzip restore rows (untimed)…")
    const gzipInput = toolbox.gzipBackup(corpus.path)
    const restorers = [
      { name: "ubackup decrypt", stdin: restoreInput, script: `exec ${shellQuote(ubackupBin)} decrypt ${key} > /dev/null` },
      { name: "ubackup decrypt --raw", stdin: restoreInput, script: `exec ${shellQuote(ubackupBin)} decrypt --raw ${key} > /dev/null` },
      { name: "age -d | zstd -d", stdin: restoreInput, script: `age -d -i ${key} | zstd -d -q > /dev/null` },
      { name: "age -d", stdin: restoreInput, script: `age -d -i ${key} > /dev/null` },
      { name: "ubackup decrypt (gzip)", stdin: gzipInput, script: `exec ${shellQuote(ubackupBin)} decrypt ${key} > /dev/null` },
      { name: "age -d | gunzip", stdin: gzipInput, script: `age -d -i ${key} | gzip -d > /dev/null` }
    ]
    const walls = new Map<string, Array<number>>(restorers.map((restorer) => [restorer.name, []]))
    const rss = new Map<string, Array<number>>(restorers.map((restorer) => [restorer.name, []]))
    log(
      `restore of one ubackup backup (zstd ${mib(fs.statSync(restoreInput).size)} MiB, gzip ${mib(fs.statSync(gzipInput).size)} MiB) ` +
        `to /dev/null, ${runs} run(s) each, round-robin`
    )
    for (let round = 1; round <= runs; round++) {
      for (const restorer of restorers) {
        const m = await measure({ script: restorer.script, stdin: restorer.stdin })
        if (m.exitCode !== 0) throw new Error(`${restorer.name} exited with ${m.exitCode}:\n${m.stderr}`)
        walls.get(restorer.name)!.push(m.wallMs)
        rss.get(restorer.name)!.push(m.peakTreeRss)
      }
    }
    const wallOf = (name: string) => median(walls.get(name)!)
    const referenceOf = (name: string) => wallOf(name.includes("gzip") || name.includes("gunzip") ? "age -d | gunzip" : "age -d | zstd -d")
    log(table([
      ["restore", "wall s", "MB/s (plaintext)", "peak RSS MiB", "wall vs age|zstd (gzip rows: vs age|gunzip)"],
      ...restorers.map((restorer) => {
        const wall = wallOf(restorer.name)
        return [restorer.name, seconds(wall), mbps(corpus.bytes, wall).toFixed(1), mib(Math.max(...rss.get(restorer.name)!)), (wall / referenceOf(restorer.name)).toFixed(2)]
      })
    ]))
    restoreRatio = wallOf("ubackup decrypt") / wallOf("age -d | zstd -d")
    gzipRestoreRatio = wallOf("ubackup decrypt (gzip)") / wallOf("age -d | gunzip")
    restoreWorstRss = Math.max(...rss.get("ubackup decrypt")!, ...rss.get("ubackup decrypt --raw")!, ...rss.get("ubackup decrypt (gzip)")!)
    fs.rmSync(gzipInput, { force: true })
    fs.rmSync(restoreInput, { force: true })
  }

  // ---- 4 GiB pipe: memory must stay flat however long the stream ----
  let bigPeak: number | undefined
  let bigRestorePeak: number | undefined
  if (!options["skip-4g"] && only.includes("ubackup")) {
    const copies = Math.ceil((4 * GiB) / corpus.bytes)
    const prefix = `cat ${Array(copies).fill(shellQuote(corpus.path)).join(" ")} | `
    const ubackup = tools.find((tool) => tool.name === "ubackup")!
    log("")
    log(`4 GiB run: cat corpus ×${copies} | ubackup manual-backup …`)
    const sample = await runOnce(ubackup, "run4g", "/dev/null", prefix)
    const m = sample.measurement
    // the target is ubackup's memory: the node process, not the cat feeding it
    bigPeak = m.maxProcessRss ?? m.peakByName.get("node")
    log(
      `  ${(copies * corpus.bytes / GiB).toFixed(2)} GiB in ${seconds(m.wallMs)} s, ${mbps(copies * corpus.bytes, m.wallMs).toFixed(1)} MB/s, ` +
        `${mib(sample.outputBytes)} MiB out, peak RSS ${mib(m.peakTreeRss)} MiB incl. cat (${byName(m.peakByName)}), anon ${mib(m.peakTreeAnon)} MiB, ` +
        `max proc ${mib(m.maxProcessRss)} MiB`
    )
    // the same backup restored: a restore's memory must stay flat as well
    const key = shellQuote(toolbox.privateKey)
    const restores = [
      { name: "ubackup decrypt", script: `exec ${shellQuote(ubackupBin)} decrypt ${key} > /dev/null` },
      { name: "age -d | zstd -d", script: `age -d -i ${key} | zstd -d -q > /dev/null` }
    ]
    for (const restore of restores) {
      const r = await measure({ script: restore.script, stdin: sample.stored })
      if (r.exitCode !== 0) throw new Error(`${restore.name} of the 4 GiB backup exited with ${r.exitCode}:\n${r.stderr}`)
      log(`  restored by ${restore.name} in ${seconds(r.wallMs)} s, peak RSS ${mib(r.peakTreeRss)} MiB`)
      if (restore.name === "ubackup decrypt") bigRestorePeak = r.peakTreeRss
    }
    fs.rmSync(sample.stored, { force: true })
  }

  // ---- targets ----
  log("")
  const target = (name: string, pass: boolean | undefined, detail: string) => {
    log(`${pass === undefined ? "SKIP" : pass ? "PASS" : "FAIL"}  ${name}: ${detail}`)
    if (pass === false) failures.push(name)
  }
  target("decrypt gives the corpus back", roundTrip, roundTrip === undefined ? "needs ubackup" : "ubackup decrypt | sha256")
  const ubackupSummary = summary.get("ubackup")
  const ubackupWorstRss = samples.get("ubackup")?.reduce((max, sample) => Math.max(max, sample.measurement.peakTreeRss), 0)
  target(
    `throughput ≥ ${throughputTarget} × zstd|age`,
    ubackupSummary && reference ? ubackupSummary.mbps >= throughputTarget * reference.mbps : undefined,
    ubackupSummary && reference
      ? `${ubackupSummary.mbps.toFixed(1)} vs ${reference.mbps.toFixed(1)} MB/s = ${(ubackupSummary.mbps / reference.mbps).toFixed(2)} (medians of wall time)`
      : "needs ubackup and zstd-age"
  )
  target(
    `throughput ≥ ${throughputTarget} × zstd|age, both durable (output on disk)`,
    ubackupSummary && reference ? ubackupSummary.durableMbps >= throughputTarget * reference.durableMbps : undefined,
    ubackupSummary && reference
      ? `${ubackupSummary.durableMbps.toFixed(1)} vs ${reference.durableMbps.toFixed(1)} MB/s = ${
        (ubackupSummary.durableMbps / reference.durableMbps).toFixed(2)
      } (medians of wall + sync)`
      : "needs ubackup and zstd-age"
  )
  target(
    "peak RSS ≤ 128 MiB",
    ubackupWorstRss === undefined ? undefined : ubackupWorstRss <= rssLimit,
    ubackupWorstRss === undefined ? "needs ubackup" : `${mib(ubackupWorstRss)} MiB (worst of ${runs} run(s))`
  )
  target(
    "restore (decrypt) wall ≤ 1.0 × age -d | zstd -d",
    restoreRatio === undefined ? undefined : restoreRatio <= 1,
    restoreRatio === undefined ? "needs ubackup" : `${restoreRatio.toFixed(2)} × (medians of wall time)`
  )
  target(
    "restore of a gzip backup (decrypt) wall ≤ 1.0 × age -d | gunzip",
    gzipRestoreRatio === undefined ? undefined : gzipRestoreRatio <= 1,
    gzipRestoreRatio === undefined ? "needs ubackup" : `${gzipRestoreRatio.toFixed(2)} × (medians of wall time)`
  )
  target(
    "restore (decrypt, decrypt --raw, gzip) peak RSS ≤ 128 MiB",
    restoreWorstRss === undefined ? undefined : restoreWorstRss <= rssLimit,
    restoreWorstRss === undefined ? "needs ubackup" : `${mib(restoreWorstRss)} MiB (worst run)`
  )
  target(
    "peak RSS ≤ 128 MiB on 4 GiB",
    bigPeak === undefined ? undefined : bigPeak <= rssLimit,
    bigPeak === undefined ? "skipped" : `${mib(bigPeak)} MiB (the node process)`
  )
  target(
    "restore (decrypt) peak RSS ≤ 128 MiB on 4 GiB",
    bigRestorePeak === undefined ? undefined : bigRestorePeak <= rssLimit,
    bigRestorePeak === undefined ? "skipped" : `${mib(bigRestorePeak)} MiB`
  )
} finally {
  cleanUp()
}

if (options.check && failures.length > 0) process.exitCode = 1
