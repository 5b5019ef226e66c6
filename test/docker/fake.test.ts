/**
 * Discovery, the exec and volume snapshots, and a whole run against the fake
 * engine (src/docker/fake.ts): the rules that decide what a container's
 * labels, output, exit status and failures mean, in milliseconds. The same
 * code runs against dockerd in test/snapshot/ and test/e2e/now.test.ts.
 */
import { Effect, Layer, Result, Stream } from "effect"
import * as crypto from "node:crypto"
import { describe, expect, it } from "vitest"
import { Compression, makeCompression } from "../../src/compression/Compression.ts"
import { layer as targetsLayer } from "../../src/discovery/layer.ts"
import { Targets } from "../../src/discovery/Targets.ts"
import { DockerEngine } from "../../src/docker/DockerEngine.ts"
import { DockerUnavailable } from "../../src/docker/errors.ts"
import { type FakeContainer, type FakeFailures, makeFakeEngine } from "../../src/docker/fake.ts"
import type { DiscoveryConfig } from "../../src/discovery/config.ts"
import type { DockerTarget } from "../../src/domain/Target.ts"
import { x25519Recipient } from "../../src/encryption/age/x25519.ts"
import { Encryption, makeEncryption } from "../../src/encryption/Encryption.ts"
import { runAll } from "../../src/pipeline/run.ts"
import { layer as snapshotLayer } from "../../src/snapshot/layer.ts"
import { type SnapshotError, Snapshotter } from "../../src/snapshot/Snapshotter.ts"
import { memoryStorage } from "../harness/fakes.ts"

const discoverNow = Effect.gen(function*() {
  return yield* (yield* Targets).discover
})

const config: DiscoveryConfig = { staticTargets: [] } as unknown as DiscoveryConfig

const id = (n: number) => `${n}`.padStart(2, "0").repeat(32)

const container = (n: number, fields: Omit<FakeContainer, "id">): FakeContainer => ({ id: id(n), ...fields })

const discover = (containers: ReadonlyArray<FakeContainer>, failures?: FakeFailures, discoveryConfig = config) => {
  const fake = makeFakeEngine(containers, failures)
  return Effect.runPromise(
    Effect.result(discoverNow).pipe(
      Effect.provide(targetsLayer(discoveryConfig).pipe(Layer.provide(fake.layer)))
    )
  ).then((result) => ({ result, calls: fake.calls }))
}

const execTarget = (n: number, name: string, argv: ReadonlyArray<string>): DockerTarget => ({
  _tag: "Docker",
  service: name,
  taskId: id(n).slice(0, 12),
  containerId: id(n),
  containerName: name,
  command: { _tag: "Exec", argv },
  commandText: argv.join(" "),
  fileExtension: "",
  timeoutMs: undefined,
  maxBytes: undefined,
  owner: `container ${id(n).slice(0, 12)}`,
  stopDuringBackup: false,
  schedule: undefined
})

/** The target's snapshot through the Snapshotter over `engine`: its bytes and how it ended. */
const snapshot = (engine: Layer.Layer<DockerEngine>, target: DockerTarget) =>
  Effect.runPromise(Effect.gen(function*() {
    const snapshotter = yield* Snapshotter
    const chunks: Array<Uint8Array> = []
    const result = yield* snapshotter.snapshot(target).pipe(
      Stream.runForEach((chunk) => Effect.sync(() => chunks.push(chunk))),
      Effect.result
    )
    return { text: Buffer.concat(chunks).toString(), result }
  }).pipe(Effect.provide(snapshotLayer.pipe(Layer.provide(engine)))))

const failureOf = (result: Result.Result<unknown, SnapshotError>): SnapshotError => {
  if (Result.isSuccess(result)) throw new Error("expected the snapshot to fail, it ended cleanly")
  return result.failure
}

describe("discovery against the fake engine", () => {
  it("finds the containers that declare a command (label or µbackup's env), sorted, and skips the rest", async () => {
    const { result } = await discover([
      container(1, { name: "web" }),
      container(2, { name: "zdb", labels: { "ubackup.command": "pg_dump app", "ubackup.file_extension": ".sql" } }),
      container(3, { name: "legacy", env: ["PATH=/bin", "BACKUP_COMMAND=tar -c /data"] }),
      container(4, { name: "stopped", labels: { "ubackup.command": "true" }, running: false })
    ])
    const discovered = Result.getOrThrow(result)
    expect(discovered.targets.map((t) => [t.service, t._tag === "Docker" ? t.command : undefined])).toEqual([
      ["legacy", { _tag: "Exec", argv: ["tar", "-c", "/data"] }],
      ["zdb", { _tag: "Exec", argv: ["pg_dump", "app"] }]
    ])
    expect(discovered.invalid).toEqual([])
  })

  it("treats a container that went away between list and inspect (404) as gone, not as a failure", async () => {
    const gone = container(5, { name: "gone", labels: { "ubackup.command": "true" } })
    const fake = makeFakeEngine([gone, container(6, { name: "here", labels: { "ubackup.command": "true" } })])
    const vanishing = DockerEngine.of({
      ...fake.engine,
      inspectContainer: (containerId) =>
        containerId === gone.id ? fake.engine.inspectContainer("no such container") : fake.engine.inspectContainer(containerId)
    })
    const discovered = await Effect.runPromise(
      discoverNow.pipe(
        Effect.provide(targetsLayer(config).pipe(Layer.provide(Layer.succeed(DockerEngine, vanishing))))
      )
    )
    expect(discovered.targets.map((t) => t.service)).toEqual(["here"])
  })

  it("fails the discovery with a DiscoveryError naming the endpoint when the engine cannot list", async () => {
    const { result } = await discover([], {
      listRunning: new DockerUnavailable({ endpoint: "fake://engine", operation: "list containers", detail: "connect ECONNREFUSED" })
    })
    expect(Result.isFailure(result)).toBe(true)
    const error = Result.isFailure(result) ? result.failure : undefined
    expect(error?._tag).toBe("DiscoveryError")
    expect(error?.message).toBe("Docker discovery at fake://engine failed: connect ECONNREFUSED")
  })

  it("with DockerEngine.layerNone finds only the static targets and calls no engine", async () => {
    const statics = { staticTargets: [{ serviceName: "etc", backupCommand: ["tar", "-c", "/etc"] }] } as unknown as DiscoveryConfig
    const discovered = await Effect.runPromise(
      discoverNow.pipe(
        Effect.provide(targetsLayer(statics).pipe(Layer.provide(DockerEngine.layerNone)))
      )
    )
    expect(discovered.targets.map((t) => [t._tag, t.service])).toEqual([["Static", "etc"]])
  })
})

describe("exec snapshots against the fake engine", () => {
  const db = (exec: FakeContainer["exec"]) => container(7, { name: "db", exec })

  it("passes stdout through and keeps stderr out of it", async () => {
    const { layer, calls } = makeFakeEngine([db(() => ({ stdout: ["dump ", "of app\n"], stderr: "pg_dump: warning\n" }))])
    const { text, result } = await snapshot(layer, execTarget(7, "db", ["pg_dump", "app"]))
    expect(Result.isSuccess(result)).toBe(true)
    expect(text).toBe("dump of app\n")
    expect(calls).toEqual(["createExec db pg_dump app", "startExec exec-1", "inspectExec exec-1"])
  })

  it("fails with ExitCode and the stderr tail on a non-zero exit", async () => {
    const { layer } = makeFakeEngine([db(() => ({ stdout: "partial", stderr: "pg_dump: connection refused\n", exitCode: 1 }))])
    const error = failureOf((await snapshot(layer, execTarget(7, "db", ["pg_dump"]))).result)
    expect([error.reason, error.exitCode, error.detail]).toEqual(["ExitCode", 1, "exited with code 1"])
    expect(error.stderrTail).toContain("connection refused")
  })

  it("fails with Start when the runtime cannot start the command, quoting what it said", async () => {
    const { layer } = makeFakeEngine([db(() => ({ stdout: "exec: \"pg_dumb\": not found\n", exitCode: 127, notStarted: true }))])
    const error = failureOf((await snapshot(layer, execTarget(7, "db", ["pg_dumb"]))).result)
    expect(error.reason).toBe("Start")
    expect(error.detail).toBe("the command could not start: exec: \"pg_dumb\": not found")
  })

  it("fails with Lost when the connection breaks, and when the container goes down with the command", async () => {
    const lost = makeFakeEngine([db(() => ({ stdout: "half", lost: true }))])
    const broken = failureOf((await snapshot(lost.layer, execTarget(7, "db", ["cat"]))).result)
    expect([broken.reason, broken.detail]).toEqual(["Lost", "the exec connection failed: socket hang up"])
    const killed = makeFakeEngine([db(() => ({ stdout: "half", exitCode: 137, stopsContainer: true }))])
    const down = failureOf((await snapshot(killed.layer, execTarget(7, "db", ["cat"]))).result)
    expect([down.reason, down.detail, down.exitCode]).toEqual(["Lost", "the container stopped while the command ran", 137])
  })

  it("fails with Start when the engine refuses the exec (409, 404), with Docker when it does not answer", async () => {
    const notRunning = makeFakeEngine([container(7, { name: "db", running: false, exec: () => ({}) })])
    const refused = failureOf((await snapshot(notRunning.layer, execTarget(7, "db", ["true"]))).result)
    expect(refused.reason).toBe("Start")
    expect(refused.detail).toMatch(/^cannot create the exec: HTTP 409: /)
    const missing = failureOf((await snapshot(makeFakeEngine([]).layer, execTarget(7, "db", ["true"]))).result)
    expect(missing.reason).toBe("Start")
    expect(missing.detail).toMatch(/^cannot create the exec: HTTP 404: No such container/)
    const silent = makeFakeEngine([db(() => ({}))], {
      createExec: new DockerUnavailable({ endpoint: "fake://engine", operation: "create exec", detail: "the engine did not answer" })
    })
    const unanswered = failureOf((await snapshot(silent.layer, execTarget(7, "db", ["true"]))).result)
    expect([unanswered.reason, unanswered.detail]).toEqual(["Docker", "cannot create the exec: the engine did not answer"])
  })

  it("fails a Docker target with reason Docker when no engine is configured", async () => {
    const error = failureOf((await snapshot(DockerEngine.layerNone, execTarget(7, "db", ["true"]))).result)
    expect(error.reason).toBe("Docker")
    expect(error.detail).toContain("no Docker endpoint is configured")
  })
})

describe("volume snapshots against the fake engine", () => {
  const tarEnd = new Uint8Array(1024)
  const volumeTarget = (stopDuringBackup: boolean): DockerTarget => ({
    ...execTarget(8, "files", []),
    command: { _tag: "Volume", mountPoint: "/data", volumeName: "files-data" },
    stopDuringBackup
  })

  it("stops the container for the archive and starts it again, also when the archive is incomplete", async () => {
    const whole = makeFakeEngine([container(8, { name: "files", archive: () => tarEnd })])
    const ok = await snapshot(whole.layer, volumeTarget(true))
    expect(Result.isSuccess(ok.result)).toBe(true)
    expect(whole.calls).toEqual(["inspectContainer files", "stopContainer files", "archive files /data", "startContainer files"])
    expect(whole.isRunning("files")).toBe(true)

    const cut = makeFakeEngine([container(8, { name: "files", archive: () => new Uint8Array(700) })])
    const error = failureOf((await snapshot(cut.layer, volumeTarget(true))).result)
    expect(error.reason).toBe("Lost")
    expect(error.detail).toContain("without tar's end marker")
    expect(cut.isRunning("files")).toBe(true)
  })

  it("leaves a container that was not running as it is", async () => {
    const stopped = makeFakeEngine([container(8, { name: "files", running: false, archive: () => tarEnd })])
    expect(Result.isSuccess((await snapshot(stopped.layer, volumeTarget(true))).result)).toBe(true)
    expect(stopped.calls).toEqual(["inspectContainer files", "archive files /data"])
    expect(stopped.isRunning("files")).toBe(false)
  })
})

describe("a whole run against the fake engine", () => {
  it("discovers, snapshots and stores each container; a failing one fails alone", async () => {
    const fake = makeFakeEngine([
      container(1, { name: "app", labels: { "ubackup.command": "dump" }, exec: () => ({ stdout: "app data" }) }),
      container(2, { name: "broken", labels: { "ubackup.command": "dump" }, exec: () => ({ stderr: "disk full\n", exitCode: 2 }) })
    ])
    const storage = memoryStorage()
    const layer = Layer.mergeAll(
      Layer.mergeAll(targetsLayer(config), snapshotLayer).pipe(Layer.provide(fake.layer)),
      storage.layer,
      Layer.succeed(Compression, makeCompression({ algorithm: "zstd", concurrency: 1 })),
      Layer.succeed(Encryption, makeEncryption([x25519Recipient(crypto.randomBytes(32))]))
    )
    const outcomes = await Effect.runPromise(
      Effect.gen(function*() {
        const discovered = yield* (yield* Targets).discover
        return yield* runAll(discovered, { concurrency: 2 })
      }).pipe(Effect.provide(layer))
    )
    expect(outcomes.map((o) => [o.service, o.result._tag])).toEqual([["app", "Stored"], ["broken", "Failed"]])
    const failed = outcomes[1]!.result
    expect(failed._tag === "Failed" ? failed.error : "").toContain("disk full")
    // the failure is the snapshot's own tagged error, not only its text
    expect(failed._tag === "Failed" ? failed.failure : undefined).toMatchObject({ _tag: "SnapshotError", reason: "ExitCode", exitCode: 2 })
    expect([...storage.objects.keys()].map((key) => key.split("/")[0])).toEqual(["app"])
  })
})
