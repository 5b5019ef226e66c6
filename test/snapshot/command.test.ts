/**
 * Static (host) targets through the live Snapshotter: a command's stdout
 * byte for byte, a non-zero exit that fails after the output, the stderr
 * tail in the error, a missing program, and interruption that kills the
 * command's process group.
 */
import { Effect, Layer, Result, Stream } from "effect"
import * as crypto from "node:crypto"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { DockerEngine } from "../../src/docker/DockerEngine.ts"
import type { StaticTarget } from "../../src/domain/Target.ts"
import { OutputTail } from "../../src/snapshot/command.ts"
import { layer as snapshotLayer } from "../../src/snapshot/layer.ts"
import { type SnapshotError, Snapshotter } from "../../src/snapshot/Snapshotter.ts"
import { requireCommands } from "../harness/tools.ts"

const target = (...argv: Array<string>): StaticTarget => ({
  _tag: "Static",
  service: "host",
  taskId: "t1",
  argv,
  fileExtension: "",
  timeoutMs: undefined,
  maxBytes: undefined
})

/** Runs a target's snapshot to its end: the bytes that came out, and how it ended. */
const snapshot = (t: StaticTarget) =>
  Effect.runPromise(Effect.gen(function*() {
    const snapshotter = yield* Snapshotter
    const chunks: Array<Uint8Array> = []
    const result = yield* snapshotter.snapshot(t).pipe(
      Stream.runForEach((chunk) => Effect.sync(() => chunks.push(chunk))),
      Effect.result
    )
    return { bytes: Buffer.concat(chunks), result }
  }).pipe(Effect.provide(snapshotLayer.pipe(Layer.provide(DockerEngine.layerNone)))))

const failure = (result: Result.Result<void, SnapshotError>): SnapshotError => {
  if (Result.isSuccess(result)) throw new Error("expected the snapshot to fail, it ended cleanly")
  return result.failure
}

/** PIDs of the processes whose command line is exactly `argv`. */
const processes = (...argv: Array<string>): Array<number> =>
  fs.readdirSync("/proc").filter((name) => /^\d+$/.test(name)).flatMap((pid) => {
    try {
      return fs.readFileSync(`/proc/${pid}/cmdline`, "utf8") === argv.join("\0") + "\0" ? [Number(pid)] : []
    } catch {
      return []
    }
  })

describe.runIf(requireCommands("host command snapshots", "sh", "sleep", "head"))("host command snapshots", () => {
  let dir: string
  let file: string
  let content: Buffer

  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "ubackup-command-test-"))
    file = path.join(dir, "data.bin")
    content = crypto.randomBytes(7 * 1024 * 1024 + 123)
    fs.writeFileSync(file, content)
  })

  afterAll(() => {
    if (dir !== undefined) fs.rmSync(dir, { recursive: true, force: true })
  })

  it("streams the stdout of a command that exits 0, byte for byte", async () => {
    const { bytes, result } = await snapshot(target("cat", file))
    expect(Result.isSuccess(result)).toBe(true)
    expect(bytes.length).toBe(content.length)
    expect(bytes.equals(content)).toBe(true)
  })

  it("keeps stdout and stderr apart when a command writes both at once", async () => {
    const { bytes, result } = await snapshot(target("sh", "-c", `cat '${file}' & head -c 3000000 /dev/zero | tr '\\0' e >&2; wait`))
    expect(Result.isSuccess(result)).toBe(true)
    expect(bytes.equals(content)).toBe(true)
  })

  it("fails after the output when the command exits non-zero, with the exit code and stderr", async () => {
    const { bytes, result } = await snapshot(target("sh", "-c", "echo partial; echo 'boom: disk on fire' >&2; exit 4"))
    expect(bytes.toString()).toBe("partial\n")
    const error = failure(result)
    expect(error.reason).toBe("ExitCode")
    expect(error.exitCode).toBe(4)
    // quoted as a shell would need it, so the command can be copied and run
    expect(error.source).toBe(`host: sh -c 'echo partial; echo '\\''boom: disk on fire'\\'' >&2; exit 4'`)
    expect(error.stderrTail).toBe("boom: disk on fire\n")
    expect(error.message).toContain("boom: disk on fire")
  })

  it("keeps the last 64 KiB of stderr", async () => {
    // 200,000 numbered lines of stderr (about 1.3 MB), then a non-zero exit
    const { result } = await snapshot(target("sh", "-c", "seq 1 200000 >&2; exit 1"))
    const error = failure(result)
    expect(error.reason).toBe("ExitCode")
    expect(Buffer.byteLength(error.stderrTail)).toBeLessThanOrEqual(64 * 1024)
    expect(Buffer.byteLength(error.stderrTail)).toBeGreaterThan(60 * 1024)
    expect(error.stderrTail.endsWith("199999\n200000\n")).toBe(true)
  })

  it("reports a program that does not exist as Start", async () => {
    const { bytes, result } = await snapshot(target("ubackup-no-such-program", "--version"))
    expect(bytes.length).toBe(0)
    const error = failure(result)
    expect(error.reason).toBe("Start")
    expect(error.detail).toContain("ubackup-no-such-program")
  })

  it("reports a command killed by a signal as ExitCode", async () => {
    const { result } = await snapshot(target("sh", "-c", "echo x; kill -KILL $$"))
    const error = failure(result)
    expect(error.reason).toBe("ExitCode")
    expect(error.detail).toMatch(/SIGKILL/)
  })

  it("kills the command and its children when interrupted", async () => {
    const marker = String(3600 + Math.floor(Math.random() * 1000))
    const started = Date.now()
    const outcome = await Effect.runPromise(Effect.gen(function*() {
      const snapshotter = yield* Snapshotter
      return yield* snapshotter.snapshot(target("sh", "-c", `sleep ${marker}; echo never`)).pipe(
        Stream.runDrain,
        Effect.timeout("1 second"),
        Effect.result
      )
    }).pipe(Effect.provide(snapshotLayer.pipe(Layer.provide(DockerEngine.layerNone)))))
    expect(Result.isFailure(outcome) && outcome.failure._tag).toBe("TimeoutError")
    expect(Date.now() - started).toBeLessThan(5_000)
    // the shell and its sleep, one process group: both gone
    expect(processes("sleep", marker)).toEqual([])
  })

  it("interrupts a command that streams, promptly", async () => {
    const count = String(1e12 + Math.floor(Math.random() * 1e6)) // marks this test's process
    const started = Date.now()
    const outcome = await Effect.runPromise(Effect.gen(function*() {
      const snapshotter = yield* Snapshotter
      return yield* snapshotter.snapshot(target("head", "-c", count, "/dev/zero")).pipe(
        Stream.runDrain,
        Effect.timeout("500 millis"),
        Effect.result
      )
    }).pipe(Effect.provide(snapshotLayer.pipe(Layer.provide(DockerEngine.layerNone)))))
    expect(Result.isFailure(outcome)).toBe(true)
    expect(Date.now() - started).toBeLessThan(5_000)
    expect(processes("head", "-c", count, "/dev/zero")).toEqual([])
  })
})

describe("OutputTail", () => {
  it("keeps the last bytes whatever the sizes written", () => {
    const all: Array<number> = []
    const tail = new OutputTail(100)
    for (let i = 0; i < 500; i++) {
      const piece = Buffer.from(`${i},`.repeat(i % 7))
      tail.append(piece)
      all.push(...piece)
    }
    expect(tail.text()).toBe(Buffer.from(all.slice(-100)).toString().replace(/^[\x80-\xbf]+/, ""))
    tail.append(Buffer.from("x".repeat(250)))
    expect(tail.text()).toBe("x".repeat(100))
  })

  it("drops a character cut in half at the start", () => {
    const tail = new OutputTail(4)
    tail.append(Buffer.from("aé€")) // 1 + 2 + 3 bytes: the ring keeps é's second byte and €
    expect(tail.text()).toBe("€")
  })
})
