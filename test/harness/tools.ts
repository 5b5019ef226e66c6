/**
 * Real programs the tests drive. On a laptop without one, its tests skip
 * and say why; in CI (CI=true) a missing program fails the run instead.
 */
import { execFileSync, spawn, type SpawnOptions } from "node:child_process"
import * as fs from "node:fs"
import * as net from "node:net"

export const inCI = process.env.CI === "true" || process.env.CI === "1"

const cache = new Map<string, boolean>()

export const hasCommand = (command: string): boolean => {
  let found = cache.get(command)
  if (found === undefined) {
    try {
      execFileSync("sh", ["-c", `command -v ${command}`], { stdio: "ignore" })
      found = true
    } catch {
      found = false
    }
    cache.set(command, found)
  }
  return found
}

/**
 * True when every command is on PATH. When one is missing: in CI this
 * throws (the suite must not skip there), elsewhere it prints why the
 * caller's tests skip and returns false. Use with `describe.runIf(...)`.
 */
export const requireCommands = (suite: string, ...commands: Array<string>): boolean => {
  const missing = commands.filter((command) => !hasCommand(command))
  if (missing.length === 0) return true
  const reason = `${suite}: needs ${missing.join(", ")} (see .ci/run or scripts/provision.sh)`
  if (inCI) throw new Error(`CI=true but ${reason}`)
  console.warn(`skipping ${reason}`)
  return false
}

/** A TCP port free on 127.0.0.1 right now, for a server a test starts. */
export const freePort = (): Promise<number> =>
  new Promise((resolve, reject) => {
    const server = net.createServer()
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as net.AddressInfo
      server.close(() => resolve(port))
    })
    server.on("error", reject)
  })

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

/** Polls `probe` every 100 ms until it returns a value; fails naming `what` after `timeoutMs`. */
export const waitFor = async <A>(what: string, probe: () => A | undefined | Promise<A | undefined>, timeoutMs = 60_000): Promise<A> => {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const value = await probe()
    if (value !== undefined) return value
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await sleep(100)
  }
}

/** Whether process `pid` still runs (for locks whose owner may have died). */
export const processAlive = (pid: number): boolean => {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM"
  }
}

/** `text` as a literal inside a regular expression. */
export const escapeRegExp = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")

/** The peak resident memory (VmHWM, KiB) of process `pid`, read every 20 ms until `stop`; the last reading before it exits is its peak. */
export const watchPeakRss = (pid: number) => {
  let peakKiB = 0
  const timer = setInterval(() => {
    try {
      const match = /VmHWM:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, "utf8"))
      if (match) peakKiB = Math.max(peakKiB, Number(match[1]))
    } catch {
      // exited
    }
  }, 20)
  return { stop: (): number => (clearInterval(timer), peakKiB) }
}

export interface ProcessRun {
  readonly code: number | null
  readonly stdout: Buffer
  readonly stderr: string
}

/** `command args` with `input` on stdin, collecting its output; never rejects on a non-zero exit. */
export const runProcess = (
  command: string,
  args: ReadonlyArray<string>,
  input: Uint8Array | string = "",
  options: Pick<SpawnOptions, "cwd" | "env"> = {}
): Promise<ProcessRun> =>
  new Promise((resolve, reject) => {
    const child = spawn(command, [...args], { ...options, stdio: ["pipe", "pipe", "pipe"] })
    const stdout: Array<Buffer> = []
    let stderr = ""
    child.stdout!.on("data", (chunk: Buffer) => stdout.push(chunk))
    child.stderr!.on("data", (chunk: Buffer) => (stderr += chunk.toString()))
    child.on("error", reject)
    child.on("close", (code) => resolve({ code, stdout: Buffer.concat(stdout), stderr }))
    child.stdin!.on("error", () => undefined) // the program may exit before reading all of stdin
    child.stdin!.end(input)
  })
