/**
 * `docker exec` snapshots against the real engine: stdout byte for byte
 * with stderr interleaved, the exit status deciding, a container killed
 * mid-stream, interruption that stops the command inside the container,
 * back-pressure, and execs that cannot start. The demultiplexer on its own
 * at the end.
 */
import { Effect, Layer, Result, Stream } from "effect"
import * as crypto from "node:crypto"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import type { DockerError } from "../../src/docker/client.ts"
import { DockerEngine } from "../../src/docker/DockerEngine.ts"
import type { DockerTarget } from "../../src/domain/Target.ts"
import { OutputTail } from "../../src/snapshot/command.ts"
import { DemuxFailure, demultiplex, dockerExecSnapshot, type ExecTarget } from "../../src/snapshot/dockerExec.ts"
import { layer as snapshotLayer } from "../../src/snapshot/layer.ts"
import { type SnapshotError, Snapshotter } from "../../src/snapshot/Snapshotter.ts"
import { buildBusyboxImage, docker, requireDocker, runContainer } from "../harness/docker.ts"
import { sleep } from "../harness/tools.ts"

const MiB = 1024 * 1024
const engineLayer = DockerEngine.layer("unix:///var/run/docker.sock")
const suffix = `${process.pid}-${crypto.randomBytes(3).toString("hex")}`

const execTarget = (containerId: string, containerName: string, argv: ReadonlyArray<string>): ExecTarget => ({
  _tag: "Docker",
  service: "db",
  taskId: containerId.slice(0, 12),
  containerId,
  containerName,
  command: { _tag: "Exec", argv },
  commandText: argv.join(" "),
  fileExtension: "",
  timeoutMs: undefined,
  maxBytes: undefined,
  owner: "container test",
  stopDuringBackup: false, schedule: undefined
})

const failure = (result: Result.Result<unknown, SnapshotError | DockerError>): SnapshotError => {
  if (Result.isSuccess(result)) throw new Error("expected the snapshot to fail, it ended cleanly")
  if (result.failure._tag !== "SnapshotError") throw result.failure
  return result.failure
}

/** Polls until `probe` holds; fails with `what` after `timeoutMs`. */
const eventually = async (what: string, probe: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> => {
  const deadline = Date.now() + timeoutMs
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await sleep(100)
  }
}

/** The command lines running in a container (busybox ps). */
const processesIn = async (container: string): Promise<Array<string>> =>
  (await docker("exec", container, "ps", "-o", "args")).split("\n").slice(1).map((line) => line.trim())

describe.runIf(requireDocker("docker exec snapshots"))("docker exec snapshots", () => {
  /** The target's snapshot through the real engine. */
  const snapshotOf = (target: Parameters<typeof dockerExecSnapshot>[0]) => dockerExecSnapshot(target).pipe(Stream.provide(engineLayer))
  const name = `ubackup-exec-test-${suffix}`
  const created: Array<string> = []
  let id: string
  let content: Buffer

  /** Runs a snapshot to its end: the bytes that came out, and how it ended. */
  const snapshot = (target: ExecTarget) =>
    Effect.runPromise(Effect.gen(function*() {
      const chunks: Array<Uint8Array> = []
      const result = yield* snapshotOf(target).pipe(
        Stream.runForEach((chunk) => Effect.sync(() => chunks.push(chunk))),
        Effect.result
      )
      return { bytes: Buffer.concat(chunks), result }
    }))

  const start = async (containerName: string) => {
    created.push(containerName)
    return runContainer({ name: containerName })
  }

  beforeAll(async () => {
    await buildBusyboxImage()
    id = await start(name)
    content = crypto.randomBytes(6 * MiB + 4321)
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "ubackup-exec-test-"))
    try {
      fs.writeFileSync(path.join(dir, "data.bin"), content)
      await docker("cp", path.join(dir, "data.bin"), `${name}:/data.bin`)
    } finally {
      fs.rmSync(dir, { recursive: true, force: true })
    }
  })

  afterAll(async () => {
    // only this file's containers: other test files may be using the engine right now
    if (created.length > 0) await docker("rm", "-fv", ...created).catch(() => undefined)
  })

  it("streams a command's stdout byte for byte", async () => {
    const { bytes, result } = await snapshot(execTarget(id, name, ["cat", "/data.bin"]))
    expect(Result.isSuccess(result)).toBe(true)
    expect(bytes.length).toBe(content.length)
    expect(bytes.equals(content)).toBe(true)
  })

  it("keeps stderr out of stdout when both are written at once", async () => {
    const { bytes, result } = await snapshot(execTarget(id, name, [
      "sh",
      "-c",
      "cat /data.bin & i=0; while [ $i -lt 3000 ]; do echo \"stderr line $i\" >&2; i=$((i+1)); done; wait"
    ]))
    expect(Result.isSuccess(result)).toBe(true)
    expect(bytes.equals(content)).toBe(true)
  })

  it("keeps small interleaved frames apart", async () => {
    const { bytes, result } = await snapshot(execTarget(id, name, [
      "sh",
      "-c",
      "i=0; while [ $i -lt 2000 ]; do echo out$i; echo err$i >&2; i=$((i+1)); done"
    ]))
    expect(Result.isSuccess(result)).toBe(true)
    expect(bytes.toString()).toBe(Array.from({ length: 2000 }, (_, i) => `out${i}\n`).join(""))
  })

  it("also dispatches through the live Snapshotter", async () => {
    const target: DockerTarget = execTarget(id, name, ["sh", "-c", "echo via layer"])
    const bytes = await Effect.runPromise(Effect.gen(function*() {
      const snapshotter = yield* Snapshotter
      return yield* Stream.mkUint8Array(snapshotter.snapshot(target))
    }).pipe(Effect.provide(snapshotLayer.pipe(Layer.provide(engineLayer)))))
    expect(Buffer.from(bytes).toString()).toBe("via layer\n")
  })

  it("fails with ExitCode after the output when the command exits non-zero", async () => {
    const { bytes, result } = await snapshot(execTarget(id, name, ["sh", "-c", "echo before; echo 'something broke' >&2; exit 3"]))
    expect(bytes.toString()).toBe("before\n")
    const error = failure(result)
    expect(error.reason).toBe("ExitCode")
    expect(error.exitCode).toBe(3)
    expect(error.stderrTail).toBe("something broke\n")
    expect(error.source).toBe(`docker exec ${name} sh -c echo before; echo 'something broke' >&2; exit 3`)
    expect(error.message).toContain("something broke")
  })

  it("keeps the last 64 KiB of stderr", async () => {
    const { result } = await snapshot(execTarget(id, name, ["sh", "-c", "seq 1 200000 >&2; exit 1"]))
    const error = failure(result)
    expect(error.reason).toBe("ExitCode")
    expect(Buffer.byteLength(error.stderrTail)).toBeLessThanOrEqual(64 * 1024)
    expect(Buffer.byteLength(error.stderrTail)).toBeGreaterThan(60 * 1024)
    expect(error.stderrTail.endsWith("199999\n200000\n")).toBe(true)
  })

  it("fails with Lost, never a clean end, when the container is killed mid-stream", async () => {
    const victim = `ubackup-exec-kill-${suffix}`
    const victimId = await start(victim)
    let received = 0
    let killed: Promise<string> | undefined
    const result = await Effect.runPromise(
      snapshotOf(execTarget(victimId, victim, ["cat", "/dev/zero"])).pipe(
        Stream.runForEach((chunk) =>
          Effect.sync(() => {
            received += chunk.length
            if (received >= 8 * MiB && killed === undefined) killed = docker("kill", victim)
          })
        ),
        Effect.result
      )
    )
    await killed
    expect(received).toBeGreaterThanOrEqual(8 * MiB)
    const error = failure(result)
    expect(error.reason).toBe("Lost")
    expect(error.detail).toContain("container stopped")
  })

  it("stops a silent command in the container when interrupted", async () => {
    const marker = String(3600 + Math.floor(Math.random() * 1000))
    const started = Date.now()
    const result = await Effect.runPromise(
      snapshotOf(execTarget(id, name, ["sleep", marker])).pipe(
        Stream.runDrain,
        Effect.timeout("1 second"),
        Effect.result
      )
    )
    expect(Result.isFailure(result) && result.failure._tag).toBe("TimeoutError")
    expect(Date.now() - started).toBeLessThan(5_000)
    await eventually("the sleep to end", async () => !(await processesIn(name)).includes(`sleep ${marker}`))
  })

  it("stops a streaming command in the container when interrupted", async () => {
    const count = String(1e12 + Math.floor(Math.random() * 1e6)) // marks this test's process
    const started = Date.now()
    let received = 0
    const result = await Effect.runPromise(
      snapshotOf(execTarget(id, name, ["head", "-c", count, "/dev/zero"])).pipe(
        Stream.runForEach((chunk) => Effect.sync(() => (received += chunk.length))),
        Effect.timeout("1 second"),
        Effect.result
      )
    )
    expect(Result.isFailure(result)).toBe(true)
    expect(received).toBeGreaterThan(0)
    expect(Date.now() - started).toBeLessThan(5_000)
    await eventually("the head to end", async () => !(await processesIn(name)).some((line) => line.includes(count)))
  })

  it("reads no further than the consumer: the engine waits for a slow consumer", async () => {
    const count = String(2e9 + Math.floor(Math.random() * 1e6))
    global.gc?.()
    const before = process.memoryUsage().arrayBuffers
    let peak = 0
    let received = 0
    await Effect.runPromise(
      snapshotOf(execTarget(id, name, ["head", "-c", count, "/dev/zero"])).pipe(
        Stream.runForEach((chunk) =>
          Effect.gen(function*() {
            received += chunk.length
            peak = Math.max(peak, process.memoryUsage().arrayBuffers - before)
            // a consumer a hundred times slower than the producer
            yield* Effect.sleep("10 millis")
          })
        ),
        Effect.timeout("2 seconds"),
        Effect.result
      )
    )
    // /dev/zero makes ~1 GB/s here; unbounded buffering would hold hundreds of MiB
    expect(received).toBeGreaterThan(0)
    expect(peak).toBeLessThan(32 * MiB)
  })

  it("fails with Start for a stopped container and for one that does not exist", async () => {
    const stopped = `ubackup-exec-stopped-${suffix}`
    const stoppedId = await start(stopped)
    await docker("stop", "-t", "0", stopped)
    const notRunning = failure((await snapshot(execTarget(stoppedId, stopped, ["cat", "/etc/passwd"]))).result)
    expect(notRunning.reason).toBe("Start")
    expect(notRunning.detail).toMatch(/not running/i)
    const missing = failure((await snapshot(execTarget("0123456789ab".repeat(5).slice(0, 64), "gone", ["true"]))).result)
    expect(missing.reason).toBe("Start")
    expect(missing.detail).toMatch(/no such container/i)
  })

  it("fails with Start when the program is not in the container", async () => {
    const { result } = await snapshot(execTarget(id, name, ["pg_dump", "app"]))
    const error = failure(result)
    // the engine starts the exec, then its runtime cannot find the program and says so on stdout
    expect(error.reason).toBe("Start")
    expect(error.detail).toMatch(/"pg_dump": executable file not found/)
  })
})

describe("demultiplexing Docker's exec stream", () => {
  const frame = (kind: number, payload: string | Uint8Array): Uint8Array => {
    const bytes = typeof payload === "string" ? Buffer.from(payload) : payload
    const out = new Uint8Array(8 + bytes.length)
    out[0] = kind
    new DataView(out.buffer).setUint32(4, bytes.length)
    out.set(bytes, 8)
    return out
  }

  /** Cuts `bytes` into pieces of random sizes (1 byte at least). */
  const cut = (bytes: Uint8Array, maxPiece: number): Array<Uint8Array> => {
    const pieces: Array<Uint8Array> = []
    for (let offset = 0; offset < bytes.length;) {
      const n = 1 + Math.floor(Math.random() * maxPiece)
      pieces.push(bytes.subarray(offset, offset + n))
      offset += n
    }
    return pieces
  }

  const run = (chunks: ReadonlyArray<Uint8Array>) => {
    const stderr = new OutputTail()
    return Effect.runPromise(
      Stream.fromIterable(chunks).pipe(demultiplex(stderr), Stream.mkUint8Array, Effect.result)
    ).then((result) => ({ result, stderr: stderr.text() }))
  }

  it("takes frames apart wherever the chunks are cut, headers included", async () => {
    const stdout = crypto.randomBytes(300_000)
    const frames: Array<Uint8Array> = []
    let expectedErr = ""
    for (let offset = 0, i = 0; offset < stdout.length; i++) {
      const n = Math.min(stdout.length - offset, 1 + Math.floor(Math.random() * 5000))
      frames.push(frame(1, stdout.subarray(offset, offset + n)))
      frames.push(frame(2, `err ${i}\n`))
      if (i % 10 === 0) frames.push(frame(1, "")) // empty frames happen too
      expectedErr += `err ${i}\n`
      offset += n
    }
    const all = Buffer.concat(frames)
    for (const maxPiece of [1, 7, 9, 1000, 70_000]) {
      const { result, stderr } = await run(cut(all, maxPiece))
      expect(Result.isSuccess(result) && Buffer.from(result.success).equals(stdout), `pieces up to ${maxPiece}`).toBe(true)
      expect(stderr).toBe(expectedErr.slice(-64 * 1024))
    }
  })

  it("passes stdout on as views of the received chunks, without copies", async () => {
    const chunk = Buffer.concat([frame(1, "hello "), frame(2, "ignored"), frame(1, "world")])
    const out = await Effect.runPromise(Stream.fromIterable([chunk]).pipe(demultiplex(new OutputTail()), Stream.runCollect))
    expect(out.map((piece) => Buffer.from(piece).toString())).toEqual(["hello ", "world"])
    expect(out.every((piece) => piece.buffer === chunk.buffer)).toBe(true)
  })

  it("fails when the stream ends inside a frame or is not multiplexed", async () => {
    const truncated = await run([frame(1, "complete"), frame(1, "cut short").subarray(0, 12)])
    expect(Result.isFailure(truncated.result) && truncated.result.failure).toBeInstanceOf(DemuxFailure)
    expect(Result.isFailure(truncated.result) && (truncated.result.failure as DemuxFailure).reason).toBe("Lost")
    const headerOnly = await run([frame(1, "x").subarray(0, 5)])
    expect(Result.isFailure(headerOnly.result)).toBe(true)
    const raw = await run([Buffer.from("a TTY stream has no headers at all")])
    expect(Result.isFailure(raw.result) && (raw.result.failure as DemuxFailure).reason).toBe("Docker")
    const engine = await run([frame(1, "out"), frame(3, "exec failed: boom")])
    expect(Result.isFailure(engine.result) && (engine.result.failure as DemuxFailure).message).toContain("boom")
  })
})
