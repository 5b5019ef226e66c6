/**
 * A Docker engine held in memory, for tests (ubackup's and an app's own):
 * containers with labels, env and mounts, what a command run in one of them
 * writes and how it exits, archives, and failures of any call. It speaks
 * the same multiplexed exec stream as the engine, so the snapshot code that
 * runs against it is the code that runs against dockerd.
 *
 *   const { layer, calls } = makeFakeEngine([
 *     { id: "c0ffee…", name: "db", labels: { "ubackup.command": "pg_dump app" },
 *       exec: () => ({ stdout: "dump", exitCode: 0 }) }
 *   ])
 */
import { Effect, Layer, Stream } from "effect"
import { type ContainerInfo, DockerEngine, type ExecConnection, type ExecState } from "./DockerEngine.ts"
import { DockerConflict, type DockerEngineError, DockerNotFound, DockerNotModified, DockerStreamLost } from "./errors.ts"

type Bytes = string | Uint8Array

/** What a command run in a fake container does. */
export interface FakeExec {
  /** Its stdout, in the chunks the engine sends. */
  readonly stdout?: Bytes | ReadonlyArray<Bytes> | undefined
  readonly stderr?: Bytes | undefined
  /** 0 unless said; null: the engine records no exit status. */
  readonly exitCode?: number | null | undefined
  /** The runtime could not start the command (no such program): no process ran, stdout holds the runtime's message. */
  readonly notStarted?: boolean | undefined
  /** The connection breaks after the output. */
  readonly lost?: boolean | undefined
  /** The container goes down with the command (docker kill, OOM). */
  readonly stopsContainer?: boolean | undefined
  /** For an exec with stdin (attachExec): called with all of it once the input ended. */
  readonly stdin?: ((input: Uint8Array) => void) | undefined
}

export interface FakeContainer {
  /** The full ID (64 hex digits, or anything unique in a test). */
  readonly id: string
  /** Without the API's leading slash. */
  readonly name: string
  readonly labels?: Record<string, string> | undefined
  readonly env?: ReadonlyArray<string> | undefined
  /** Listed and exec-able; true unless said. */
  readonly running?: boolean | undefined
  readonly mounts?: ContainerInfo["Mounts"]
  /** What running `argv` in it does; a container without it refuses execs with a 409. */
  readonly exec?: ((argv: ReadonlyArray<string>) => FakeExec) | undefined
  /** The tar stream of an archived path; a container without it answers 404. */
  readonly archive?: ((path: string) => Bytes) | undefined
}

/** Any call may fail instead, with the error given (checked before the call does anything). */
export type FakeFailures = Partial<Record<Exclude<keyof DockerEngine["Service"], "endpoint" | "enabled">, DockerEngineError>>

export interface FakeEngine {
  readonly engine: DockerEngine["Service"]
  readonly layer: Layer.Layer<DockerEngine>
  /** Every call made, in order: `inspectContainer c0ffee`, `createExec db pg_dump app`, `stopContainer db`. */
  readonly calls: ReadonlyArray<string>
  /** Whether a container runs now (stop and start change it). */
  readonly isRunning: (idOrName: string) => boolean
}

export const fakeEndpoint = "fake://engine"

const encoder = new TextEncoder()
const bytesOf = (bytes: Bytes): Uint8Array => (typeof bytes === "string" ? encoder.encode(bytes) : bytes)

/** One frame of the engine's multiplexed exec stream: kind 1 stdout, 2 stderr. */
export const execFrame = (kind: 1 | 2, payload: Uint8Array): Uint8Array => {
  const frame = new Uint8Array(8 + payload.length)
  frame[0] = kind
  new DataView(frame.buffer).setUint32(4, payload.length)
  frame.set(payload, 8)
  return frame
}

export const makeFakeEngine = (containers: ReadonlyArray<FakeContainer>, failures: FakeFailures = {}): FakeEngine => {
  const calls: Array<string> = []
  const running = new Map(containers.map((container) => [container.id, container.running ?? true]))
  const execs = new Map<string, { readonly container: FakeContainer; readonly exec: FakeExec; started: boolean }>()
  const fields = (operation: string) => ({ endpoint: fakeEndpoint, operation, detail: "" })

  const find = (id: string) => containers.find((container) => container.id === id || container.name === id)
  const recorded = <A>(
    name: keyof FakeFailures,
    args: string,
    body: () => Effect.Effect<A, DockerEngineError>
  ): Effect.Effect<A, DockerEngineError> =>
    Effect.suspend(() => {
      calls.push(args === "" ? name : `${name} ${args}`)
      const failure = failures[name]
      return failure === undefined ? body() : Effect.fail(failure)
    })
  const container = (id: string, operation: string) => {
    const found = find(id)
    return found === undefined
      ? Effect.fail(new DockerNotFound({ ...fields(operation), status: 404, detail: `HTTP 404: No such container: ${id}` }))
      : Effect.succeed(found)
  }
  const execState = (id: string): ExecState => {
    const entry = execs.get(id)!
    if (!entry.started) return { running: false, exitCode: null, pid: 0 }
    return {
      running: false,
      exitCode: entry.exec.exitCode === undefined ? 0 : entry.exec.exitCode,
      pid: entry.exec.notStarted ? 0 : 4242
    }
  }

  /** The exec `execId`, started: what it writes, as the engine would frame it. */
  const started = (execId: string, operation: string) => {
    const entry = execs.get(execId)
    if (entry === undefined) {
      return Effect.fail(new DockerNotFound({ ...fields(operation), status: 404, detail: `HTTP 404: No such exec instance: ${execId}` }))
    }
    entry.started = true
    const { exec } = entry
    if (exec.stopsContainer) running.set(entry.container.id, false)
    const stdout = exec.stdout === undefined ? [] : Array.isArray(exec.stdout) ? exec.stdout : [exec.stdout as Bytes]
    const frames = [
      ...(exec.stderr === undefined ? [] : [execFrame(2, bytesOf(exec.stderr))]),
      ...stdout.map((chunk: Bytes) => execFrame(1, bytesOf(chunk)))
    ]
    const output = Stream.fromIterable(frames)
    return Effect.succeed({
      exec,
      output: exec.lost
        ? Stream.concat(output, Stream.fail(new DockerStreamLost({ ...fields(operation), detail: "socket hang up" })))
        : output
    })
  }

  const engine = DockerEngine.of({
    endpoint: fakeEndpoint,
    enabled: true,
    listRunning: recorded("listRunning", "", () =>
      Effect.succeed(containers.filter((container) => running.get(container.id)).map((container) => container.id))),
    inspectContainer: (id) =>
      recorded("inspectContainer", find(id)?.name ?? id, () =>
        Effect.map(container(id, "inspect container"), (found): ContainerInfo => ({
          Id: found.id,
          Name: `/${found.name}`,
          Config: { Labels: found.labels ?? {}, Env: found.env ?? [] },
          State: { Running: running.get(found.id) ?? false, Restarting: false },
          Mounts: found.mounts ?? []
        }))),
    createExec: (id, argv) =>
      recorded("createExec", `${find(id)?.name ?? id} ${argv.join(" ")}`, () =>
        Effect.flatMap(container(id, "create exec"), (found) => {
          if (!running.get(found.id) || found.exec === undefined) {
            return Effect.fail(
              new DockerConflict({ ...fields("create exec"), status: 409, detail: `HTTP 409: Container ${found.id} is not running` })
            )
          }
          const execId = `exec-${execs.size + 1}`
          execs.set(execId, { container: found, exec: found.exec(argv), started: false })
          return Effect.succeed(execId)
        })),
    startExec: (execId) => recorded("startExec", execId, () => Effect.map(started(execId, "start exec"), ({ output }) => output)),
    attachExec: (execId) =>
      recorded("attachExec", execId, () =>
        Effect.map(started(execId, "start exec"), ({ exec, output }): ExecConnection => {
          const received: Array<Uint8Array> = []
          return {
            output,
            write: (chunk) => Effect.sync(() => void received.push(chunk)),
            end: Effect.sync(() => exec.stdin?.(new Uint8Array(Buffer.concat(received))))
          }
        })),
    inspectExec: (execId) =>
      recorded("inspectExec", execId, () =>
        execs.has(execId)
          ? Effect.succeed(execState(execId))
          : Effect.fail(new DockerNotFound({ ...fields("inspect exec"), status: 404, detail: `HTTP 404: No such exec instance: ${execId}` }))),
    archive: (id, path) =>
      recorded("archive", `${find(id)?.name ?? id} ${path}`, () =>
        Effect.flatMap(container(id, "archive"), (found) =>
          found.archive === undefined
            ? Effect.fail(new DockerNotFound({ ...fields("archive"), status: 404, detail: `HTTP 404: Could not find the file ${path} in container ${found.name}` }))
            : Effect.succeed(Stream.make(bytesOf(found.archive(path)))))),
    stopContainer: (id) =>
      recorded("stopContainer", find(id)?.name ?? id, () =>
        Effect.flatMap(container(id, "stop container"), (found) => {
          if (!running.get(found.id)) return Effect.fail(new DockerNotModified({ ...fields("stop container"), status: 304, detail: "HTTP 304: " }))
          running.set(found.id, false)
          return Effect.void
        })),
    startContainer: (id) =>
      recorded("startContainer", find(id)?.name ?? id, () =>
        Effect.flatMap(container(id, "start container"), (found) => {
          if (running.get(found.id)) return Effect.fail(new DockerNotModified({ ...fields("start container"), status: 304, detail: "HTTP 304: " }))
          running.set(found.id, true)
          return Effect.void
        }))
  })

  return {
    engine,
    layer: Layer.succeed(DockerEngine, engine),
    calls,
    isRunning: (idOrName) => {
      const found = find(idOrName)
      return found !== undefined && running.get(found.id) === true
    }
  }
}

/** A fake engine with `containers` (see makeFakeEngine), as a layer. */
export const layerFake = (containers: ReadonlyArray<FakeContainer>, failures?: FakeFailures): Layer.Layer<DockerEngine> =>
  makeFakeEngine(containers, failures).layer
