/**
 * Runs one shell script and measures it: wall time, and the peak memory of
 * the whole process tree. A pipeline's cost is the sum of its processes
 * (`zstd | age` holds both at once), so we sample VmRSS of every descendant
 * every ~250 ms and keep the largest sum. ru_maxrss of the largest single
 * process comes from GNU time, which sees all reaped descendants.
 */
import { spawn } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"

/** The median; of an even count, the mean of the two middle values. */
export const median = (values: ReadonlyArray<number>): number => {
  const sorted = [...values].sort((a, b) => a - b)
  const middle = Math.floor(sorted.length / 2)
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2
}

export const shellQuote = (word: string): string => `'${word.replaceAll("'", `'\\''`)}'`

export interface Command {
  /** An `sh -c` script; its stdout is captured (keep it small: redirect data to a file). */
  readonly script: string
  /** File opened as the script's stdin. */
  readonly stdin: string
  readonly env?: NodeJS.ProcessEnv
}

export interface Measurement {
  readonly wallMs: number
  /** Largest sum of VmRSS over the tree, in bytes. */
  readonly peakTreeRss: number
  /**
   * Largest sum of RssAnon (heap, buffers), in bytes: VmRSS minus mapped
   * files such as the node binary, i.e. the part a program's code can shrink.
   */
  readonly peakTreeAnon: number
  /** Largest VmRSS seen per process name (`zstd`, `node`, …), in bytes. */
  readonly peakByName: ReadonlyMap<string, number>
  /** ru_maxrss of the largest process, in bytes; undefined without GNU time. */
  readonly maxProcessRss: number | undefined
  readonly exitCode: number | null
  readonly stdout: string
  readonly stderr: string
}

const gnuTime = "/usr/bin/time"
const hasGnuTime = fs.existsSync(gnuTime)
// every sample scans /proc in this process, which is slow under a sandboxing
// kernel: at 20–50 ms it took enough of the 2 cores to slow the tool being
// measured. Memory in these tools plateaus within the first second, and
// ru_maxrss (GNU time) gives each process's exact peak anyway.
const sampleMs = 250

/**
 * The descendants of one process, found by scanning /proc (this kernel has no
 * /proc/<pid>/task/<tid>/children). Each pid's parent is read once and
 * remembered, so a tick reads only the /proc entries it has not seen yet.
 */
class ProcessTree {
  readonly #inTree = new Map<number, boolean>()

  constructor(root: number) {
    this.#inTree.set(root, true)
  }

  members(): Array<number> {
    const fresh: Array<{ pid: number; parent: number }> = []
    for (const entry of fs.readdirSync("/proc")) {
      const pid = Number(entry)
      if (!Number.isInteger(pid) || this.#inTree.has(pid)) continue
      const parent = parentOf(pid)
      if (parent !== undefined) fresh.push({ pid, parent })
    }
    // a child may be listed before its parent: settle membership to a fixpoint
    let changed = true
    while (changed) {
      changed = false
      for (const process of fresh) {
        if (!this.#inTree.has(process.pid) && this.#inTree.get(process.parent) === true) {
          this.#inTree.set(process.pid, true)
          changed = true
        }
      }
    }
    for (const process of fresh) if (!this.#inTree.has(process.pid)) this.#inTree.set(process.pid, false)
    return [...this.#inTree].filter(([, member]) => member).map(([pid]) => pid)
  }
}

const readOrUndefined = (file: string): string | undefined => {
  try {
    return fs.readFileSync(file, "latin1")
  } catch {
    return undefined // the process exited meanwhile
  }
}

const parentOf = (pid: number): number | undefined => {
  const stat = readOrUndefined(`/proc/${pid}/stat`)
  // the name field may contain spaces and parentheses: parse after the last ")"
  const fields = stat?.slice(stat.lastIndexOf(")") + 2).split(" ")
  return fields?.[1] === undefined ? undefined : Number(fields[1])
}

const rssOf = (pid: number): { name: string; bytes: number; anon: number } | undefined => {
  const status = readOrUndefined(`/proc/${pid}/status`)
  if (status === undefined) return undefined
  // argv[0] names the program ("node"); Name: is the thread name ("MainThread")
  const program = readOrUndefined(`/proc/${pid}/cmdline`)?.split("\0")[0]
  const name = program ? path.basename(program) : /^Name:\s*(.*)$/m.exec(status)?.[1] ?? "?"
  // zombies have no VmRSS line: they hold no memory any more
  const kib = (field: string) => Number(new RegExp(`^${field}:\\s*(\\d+) kB$`, "m").exec(status)?.[1] ?? 0)
  return { name, bytes: kib("VmRSS") * 1024, anon: kib("RssAnon") * 1024 }
}

/** The tree being measured, so an interrupted bench can stop it. */
let running: ProcessTree | undefined

/** Sends SIGTERM to every process of the run in progress, if any. */
export const stopRunning = (): void => {
  for (const pid of running?.members() ?? []) {
    try {
      process.kill(pid, "SIGTERM")
    } catch {
      // already gone
    }
  }
}

export const measure = async (command: Command): Promise<Measurement> => {
  const timeOutput = path.join(os.tmpdir(), `ubackup-bench-time-${process.pid}`)
  const argv = ["sh", "-c", command.script]
  const [file, ...args] = hasGnuTime ? [gnuTime, "-f", "%M", "-o", timeOutput, ...argv] : argv
  const stdin = fs.openSync(command.stdin, "r")
  const started = performance.now()
  const child = spawn(file!, args, { stdio: [stdin, "pipe", "pipe"], env: command.env ?? process.env })
  fs.closeSync(stdin)

  const stdout: Array<Buffer> = []
  const stderr: Array<Buffer> = []
  // typed nullable because stdin is an fd; "pipe" makes both exist
  child.stdout?.on("data", (chunk: Buffer) => stdout.push(chunk))
  child.stderr?.on("data", (chunk: Buffer) => stderr.push(chunk))

  const tree = new ProcessTree(child.pid!)
  running = tree
  let peakTreeRss = 0
  let peakTreeAnon = 0
  const peakByName = new Map<string, number>()
  const sample = () => {
    let sum = 0
    let anon = 0
    for (const pid of tree.members()) {
      // GNU time is the harness, not the tool: leave its own memory out
      if (hasGnuTime && pid === child.pid) continue
      const rss = rssOf(pid)
      if (rss === undefined) continue
      sum += rss.bytes
      anon += rss.anon
      peakByName.set(rss.name, Math.max(peakByName.get(rss.name) ?? 0, rss.bytes))
    }
    peakTreeRss = Math.max(peakTreeRss, sum)
    peakTreeAnon = Math.max(peakTreeAnon, anon)
  }
  sample()
  const timer = setInterval(sample, sampleMs)

  // wall time ends when the tool exits; "close" then also has all of stdout/stderr
  let wallMs = 0
  child.on("exit", () => {
    wallMs = performance.now() - started
    clearInterval(timer)
    running = undefined
  })
  const exitCode = await new Promise<number | null>((resolve, reject) => {
    child.on("error", reject)
    child.on("close", resolve)
  })

  let maxProcessRss: number | undefined
  if (hasGnuTime) {
    // "Command exited with non-zero status N" may come first; %M is the last line
    const kib = Number(readOrUndefined(timeOutput)?.trim().split("\n").at(-1))
    maxProcessRss = Number.isFinite(kib) ? kib * 1024 : undefined
    fs.rmSync(timeOutput, { force: true })
  }
  return {
    wallMs,
    peakTreeRss,
    peakTreeAnon,
    peakByName,
    maxProcessRss,
    exitCode,
    stdout: Buffer.concat(stdout).toString(),
    stderr: Buffer.concat(stderr).toString()
  }
}
