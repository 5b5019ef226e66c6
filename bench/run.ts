/**
 * `npm run bench`: ubackup against the tools it replaces or resembles, on the
 * same input, and a check of the project's targets (docs/PERFORMANCE.md):
 *   - a default backup's wall time ≤ 1.0 × `zstd -3 -T0 | age` (the reference),
 *     at the same or a smaller output size; gzip mode ≤ 0.8 × `pigz -6 | age`,
 *   - peak RSS ≤ 128 MiB for backup, decrypt, decrypt --raw and verify, on the
 *     corpus and on 4 and 10 GiB pipes; ≤ 256 MiB for `now` with 4 targets,
 *   - start-up (`--help`, `storage ls`) ≤ 2 × `node -e 0`,
 *   - with --s3: a backup to the RGW test server at ≥ 0.9 × the rate at which
 *     the server takes the same encrypted bytes from `@aws-sdk/lib-storage`.
 * It is a measurement: the exit code is 0 even when a target fails, unless
 * --check asks for a failing exit code.
 */
import { spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import * as os from "node:os"
import { parseArgs } from "node:util"
import { ensureCorpus } from "./corpus.ts"
import { runS3Rows, type S3Figures } from "./s3.ts"
import { measure, type Measurement, median, shellQuote, stopRunning } from "./measure.ts"
import { isToolName, makeToolbox, type Tool, type ToolName, toolNames, ubackupBin } from "./tools.ts"

const usage = `usage: npm run bench -- [--runs N] [--size-gib N] [--big LIST] [--skip-4g] [--s3] [--only ${toolNames.join(",")}] [--check]
  --runs N       runs per tool, the table shows the median (default 3)
  --size-gib N   corpus size in GiB, fractions allowed (default 1)
  --big LIST     sizes in GiB of the memory runs through a pipe (default 4; e.g. 4,10)
  --skip-4g      skip the memory runs (same as --big "")
  --s3           also back up to a Ceph RGW test server started for the run (needs radosgw, ceph-mon, ceph-osd)
  --only LIST    tools to run, comma-separated
  --check        exit with code 1 when a target fails`

const MiB = 1024 * 1024
const GiB = 1024 * MiB
const rssLimit = 128 * MiB
/** ubackup's wall time against the reference's, at most. */
const wallTarget = 1.0
const gzipWallTarget = 0.8
const startupTarget = 2
const s3RateTarget = 0.9
const nowRssLimit = 256 * MiB

const { values: options } = parseArgs({
  options: {
    runs: { type: "string", default: "3" },
    "size-gib": { type: "string", default: "1" },
    "skip-4g": { type: "boolean", default: false },
    big: { type: "string", default: "4" },
    s3: { type: "boolean", default: false },
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
const bigSizes = options["skip-4g"] ? [] : options.big.split(",").map((size) => size.trim()).filter((size) => size !== "").map(Number)
if (!Number.isInteger(runs) || runs < 1 || !(sizeGiB > 0) || unknown.length > 0 || only.length === 0 || bigSizes.some((size) => !(size > 0))) {
  console.error(unknown.length > 0 ? `unknown tool(s): ${unknown.join(", ")}\n${usage}` : usage)
  process.exit(2)
}

const root = fileURLToPath(new URL("..", import.meta.url))
if (!fs.existsSync(path.join(root, "dist/cli.mjs"))) {
  console.error("dist/cli.mjs is missing: run `npm run build` first")
  process.exit(2)
}

// ---- formatting ----
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

/** The machine the figures belong to: they differ from one to the next, ratios within one run do not. */
const versionOf = (command: string, args: ReadonlyArray<string>) => {
  const result = spawnSync(command, args, { encoding: "utf8" })
  return result.status === 0 ? `${result.stdout}${result.stderr}`.trim().split("\n")[0]! : "absent"
}
const cpus = os.cpus()
log(
  `machine: ${cpus[0]?.model ?? "unknown CPU"}, ${cpus.length} cores (${os.availableParallelism()} usable), ` +
    `${(os.totalmem() / GiB).toFixed(1)} GiB RAM, ${os.type()} ${os.release()}, Node ${process.version}; ` +
    `zstd ${versionOf("zstd", ["-V"])}, age ${versionOf("age", ["--version"])}, pigz ${versionOf("pigz", ["--version"])}`
)

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

  // ---- start-up: a verb that does little must not take long ----
  const startupMs = (command: string, args: ReadonlyArray<string>) => {
    const times: Array<number> = []
    spawnSync(command, args, { stdio: "ignore" }) // fills Node's compile cache
    for (let i = 0; i < 11; i++) {
      const started = performance.now()
      spawnSync(command, args, { stdio: "ignore" })
      times.push(performance.now() - started)
    }
    return median(times)
  }
  const startups = [
    { name: "node -e 0", ms: startupMs(process.execPath, ["-e", "0"]) },
    { name: "ubackup --help", ms: startupMs(ubackupBin, ["--help"]) },
    { name: "ubackup storage ls bench (local)", ms: startupMs(ubackupBin, ["storage", "ls", "bench", "--config", toolbox.config]) }
  ]
  log("")
  log(table([
    ["start-up (median of 11)", "ms", "vs node -e 0"],
    ...startups.map((row) => [row.name, row.ms.toFixed(0), (row.ms / startups[0]!.ms).toFixed(2)])
  ]))
  const startupWorst = Math.max(...startups.slice(1).map((row) => row.ms / startups[0]!.ms))

  // ---- big pipes: memory must stay flat however long the stream ----
  const bigPeaks: Array<{ readonly what: string; readonly peak: number | undefined }> = []
  const ubackupTool = tools.find((tool) => tool.name === "ubackup")
  for (const bigGiB of ubackupTool === undefined ? [] : bigSizes) {
    const copies = Math.ceil((bigGiB * GiB) / corpus.bytes)
    const prefix = `cat ${Array(copies).fill(shellQuote(corpus.path)).join(" ")} | `
    log("")
    log(`${bigGiB} GiB run: cat corpus ×${copies} | ubackup manual-backup …`)
    const sample = await runOnce(ubackupTool!, `run${bigGiB}g`, "/dev/null", prefix)
    const m = sample.measurement
    // the target is ubackup's memory: the node process, not the cat feeding it
    const backupPeak = m.maxProcessRss ?? m.peakByName.get("node")
    bigPeaks.push({ what: `manual-backup ${bigGiB} GiB`, peak: backupPeak })
    log(
      `  ${(copies * corpus.bytes / GiB).toFixed(2)} GiB in ${seconds(m.wallMs)} s, ${mbps(copies * corpus.bytes, m.wallMs).toFixed(1)} MB/s, ` +
        `${mib(sample.outputBytes)} MiB out, peak RSS ${mib(backupPeak)} MiB (node), anon ${mib(m.peakTreeAnon)} MiB`
    )
    // the same backup restored and verified: their memory must stay flat as well
    const key = shellQuote(toolbox.privateKey)
    const id = path.relative(toolbox.storage, sample.stored)
    const readers = [
      { name: "decrypt", script: `exec ${shellQuote(ubackupBin)} decrypt ${key} > /dev/null`, ubackup: true },
      { name: "decrypt --raw", script: `exec ${shellQuote(ubackupBin)} decrypt --raw ${key} > /dev/null`, ubackup: true },
      {
        name: "verify",
        script: `exec ${shellQuote(ubackupBin)} verify ${shellQuote(id)} --key ${key} --config ${shellQuote(toolbox.config)} > /dev/null`,
        ubackup: true
      },
      { name: "age -d | zstd -d", script: `age -d -i ${key} | zstd -d -q > /dev/null`, ubackup: false }
    ]
    for (const reader of readers) {
      const r = await measure({ script: reader.script, stdin: sample.stored })
      if (r.exitCode !== 0) throw new Error(`${reader.name} of the ${bigGiB} GiB backup exited with ${r.exitCode}:\n${r.stderr}`)
      log(`  ${reader.name}: ${seconds(r.wallMs)} s, peak RSS ${mib(r.peakTreeRss)} MiB`)
      if (reader.ubackup) bigPeaks.push({ what: `${reader.name} ${bigGiB} GiB`, peak: r.peakTreeRss })
    }
    fs.rmSync(sample.stored, { force: true })
  }

  // ---- `now` with 4 targets at once ----
  let nowPeak: number | undefined
  if (ubackupTool !== undefined) {
    const nowConfig = path.join(work, "now-config.json")
    const targets = [1, 2, 3, 4].map((n) => ({ service_name: `now${n}`, backup_command: ["cat", corpus.path], file_extension: ".tar" }))
    const base = JSON.parse(fs.readFileSync(toolbox.config, "utf8"))
    fs.writeFileSync(nowConfig, JSON.stringify({ ...base, static_targets: targets, concurrency: 4, storage: { local: { path: toolbox.storage } } }))
    log("")
    const m = await measure({ script: `exec ${shellQuote(ubackupBin)} now --config ${shellQuote(nowConfig)} > /dev/null`, stdin: "/dev/null" })
    if (m.exitCode !== 0) throw new Error(`ubackup now exited with ${m.exitCode}:\n${m.stderr}`)
    nowPeak = m.maxProcessRss ?? m.peakByName.get("node")
    log(
      `now, 4 static targets (cat corpus) at once: ${seconds(m.wallMs)} s, ${mbps(4 * corpus.bytes, m.wallMs).toFixed(1)} MB/s in all, ` +
        `peak RSS ${mib(nowPeak)} MiB (node)`
    )
    for (const target of targets) fs.rmSync(path.join(toolbox.storage, target.service_name), { recursive: true, force: true })
  }

  // ---- S3: a backup against the store's own rate for the same bytes ----
  let s3: S3Figures | undefined
  if (options.s3 && ubackupTool !== undefined) s3 = await runS3Rows({ config: toolbox.config, corpus: corpus.path, work, runs, log })

  // ---- targets ----
  log("")
  const target = (name: string, pass: boolean | undefined, detail: string) => {
    log(`${pass === undefined ? "SKIP" : pass ? "PASS" : "FAIL"}  ${name}: ${detail}`)
    if (pass === false) failures.push(name)
  }
  target("decrypt gives the corpus back", roundTrip, roundTrip === undefined ? "needs ubackup" : "ubackup decrypt | sha256")
  const ubackupSummary = summary.get("ubackup")
  const ubackupWorstRss = samples.get("ubackup")?.reduce((max, sample) => Math.max(max, sample.measurement.peakTreeRss), 0)
  const outputOf = (name: ToolName) => {
    const list = samples.get(name)
    return list === undefined ? undefined : median(list.map((sample) => sample.outputBytes))
  }
  const wallRatio = ubackupSummary && reference ? ubackupSummary.wall / reference.wall : undefined
  target(
    `backup wall ≤ ${wallTarget} × zstd|age`,
    wallRatio === undefined ? undefined : wallRatio <= wallTarget,
    wallRatio === undefined
      ? "needs ubackup and zstd-age"
      : `${seconds(ubackupSummary!.wall)} vs ${seconds(reference!.wall)} s = ${wallRatio.toFixed(2)} (medians); durable (until on disk) ${
        (reference!.durableMbps / ubackupSummary!.durableMbps).toFixed(2)
      }`
  )
  const ubackupOut = outputOf("ubackup")
  const referenceOut = outputOf("zstd-age")
  target(
    "backup output ≤ zstd|age's",
    ubackupOut === undefined || referenceOut === undefined ? undefined : ubackupOut <= referenceOut,
    ubackupOut === undefined || referenceOut === undefined ? "needs ubackup and zstd-age" : `${mib(ubackupOut)} vs ${mib(referenceOut)} MiB`
  )
  const gzipSummary = summary.get("ubackup-gzip")
  const pigzSummary = summary.get("pigz-age")
  const gzipRatio = gzipSummary && pigzSummary ? gzipSummary.wall / pigzSummary.wall : undefined
  target(
    `gzip mode wall ≤ ${gzipWallTarget} × pigz -6|age`,
    gzipRatio === undefined ? undefined : gzipRatio <= gzipWallTarget,
    gzipRatio === undefined ? "needs ubackup-gzip and pigz-age" : `${seconds(gzipSummary!.wall)} vs ${seconds(pigzSummary!.wall)} s = ${gzipRatio.toFixed(2)}`
  )
  target(
    `start-up ≤ ${startupTarget} × node -e 0`,
    startupWorst <= startupTarget,
    startups.slice(1).map((row) => `${row.name} ${(row.ms / startups[0]!.ms).toFixed(2)} ×`).join(", ")
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
  for (const { what, peak } of bigPeaks) {
    target(`peak RSS ≤ 128 MiB: ${what}`, peak === undefined ? undefined : peak <= rssLimit, peak === undefined ? "not measured" : `${mib(peak)} MiB`)
  }
  if (bigPeaks.length === 0) target("peak RSS ≤ 128 MiB on big pipes", undefined, "skipped")
  target(
    "peak RSS ≤ 256 MiB: now with 4 targets at once",
    nowPeak === undefined ? undefined : nowPeak <= nowRssLimit,
    nowPeak === undefined ? "needs ubackup" : `${mib(nowPeak)} MiB (the node process)`
  )
  target(
    `S3 backup rate ≥ ${s3RateTarget} × lib-storage's upload of the same bytes`,
    s3 === undefined ? undefined : s3.ratio >= s3RateTarget,
    s3 === undefined ? "needs --s3" : `${s3.ratio.toFixed(2)} × (${seconds(s3.backupMs)} s against ${seconds(s3.uploadMs)} s)`
  )
  target(
    "peak RSS ≤ 128 MiB: S3 upload",
    s3 === undefined ? undefined : s3.peak <= rssLimit,
    s3 === undefined ? "needs --s3" : `${mib(s3.peak)} MiB (the node process)`
  )
} finally {
  cleanUp()
}

if (options.check && failures.length > 0) process.exitCode = 1
