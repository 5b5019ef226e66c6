/** Runs the real `bin/ubackup` (the bundled CLI) as a child process. */
import { type ChildProcessWithoutNullStreams, spawn } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import type { Readable } from "node:stream"

/** Where runs with a config from UBACKUP_CONF keep their state (see historyPath in src/api/run.ts). */
export const testStateHome = path.join(os.tmpdir(), "ubackup-test-state")

export const binary = path.resolve(import.meta.dirname, "../../bin/ubackup")

export interface Run {
  readonly code: number | null
  readonly signal: NodeJS.Signals | null
  readonly stdout: Buffer
  readonly stderr: string
}

export interface RunOptions {
  /** Bytes for stdin, or a stream piped to it; nothing means an empty stdin. */
  readonly input?: Uint8Array | string | Readable
  readonly env?: Record<string, string | undefined>
  readonly cwd?: string
}

/** Every verb and verb group of the CLI, for tests that go through them all (help, the secrets scan). */
export const verbs: ReadonlyArray<ReadonlyArray<string>> = [
  ["init"],
  ["now"],
  ["scheduler"],
  ["scheduler", "run"],
  ["scheduler", "install-systemd-service-file"],
  ["manual-backup"],
  ["decrypt"],
  ["decrypt-and-decompress"],
  ["verify"],
  ["restore"],
  ["drill"],
  ["storage"],
  ["storage", "ls"],
  ["storage", "ls-services"],
  ["storage", "get"],
  ["storage", "cleanup"],
  ["storage", "prune"],
  ["decryption-key-generate"],
  ["decryption-key-to-encryption-key"],
  ["print-default-config"],
  ["config"],
  ["config", "validate"],
  ["config", "example"]
]

export const ubackup = (args: ReadonlyArray<string>, options: RunOptions = {}): Promise<Run> =>
  new Promise((resolve, reject) => {
    const child = spawn(binary, args, {
      cwd: options.cwd,
      // a config from UBACKUP_CONF keeps its history in $XDG_STATE_HOME: not the tester's home
      env: { ...process.env, UBACKUP_CONF: undefined, XDG_STATE_HOME: testStateHome, ...options.env },
      stdio: ["pipe", "pipe", "pipe"]
    })
    const stdout: Array<Buffer> = []
    let stderr = ""
    child.stdout.on("data", (chunk: Buffer) => stdout.push(chunk))
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()))
    child.on("error", reject)
    child.on("close", (code, signal) => resolve({ code, signal, stdout: Buffer.concat(stdout), stderr }))
    child.stdin.on("error", () => undefined) // a verb may exit before reading all of stdin
    const input = options.input
    if (input === undefined) child.stdin.end()
    else if (typeof input === "string" || input instanceof Uint8Array) child.stdin.end(input)
    else input.pipe(child.stdin)
  })

/** A `bin/ubackup` left running with an open stdin, for tests that signal it mid-stream. */
export interface Running {
  readonly child: ChildProcessWithoutNullStreams
  /** Output so far. */
  readonly output: () => { readonly stdout: string; readonly stderr: string }
  readonly exited: Promise<{ readonly code: number | null; readonly signal: NodeJS.Signals | null }>
}

export const start = (args: ReadonlyArray<string>): Running => {
  const child = spawn(binary, args, { stdio: ["pipe", "pipe", "pipe"] })
  let stdout = ""
  let stderr = ""
  child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()))
  child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()))
  child.stdin.on("error", () => undefined) // the child stops reading when it is killed
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve, reject) => {
    child.on("error", reject)
    child.on("close", (code, signal) => resolve({ code, signal }))
  })
  return { child, output: () => ({ stdout, stderr }), exited }
}

export interface InitializedKeys {
  readonly keyFile: string
  /** The config `init` wrote (an X25519 recipient, local storage), to extend. */
  readonly config: Record<string, unknown>
}

/** `ubackup init --type x25519` into `dir`: the identity's file and the config. */
export const initKeys = async (dir: string): Promise<InitializedKeys> => {
  const init = await ubackup(["init", "--dir", dir, "--type", "x25519"])
  if (init.code !== 0) throw new Error(`ubackup init failed: ${init.stderr}`)
  return {
    keyFile: path.join(dir, "backups.key"),
    config: JSON.parse(fs.readFileSync(path.join(dir, "config.json"), "utf8")) as Record<string, unknown>
  }
}
