/**
 * The Docker engine calls ubackup makes, as a service: list and inspect
 * containers, run a command through the exec API, archive a path, stop and
 * start a container. Discovery and the snapshots reach the engine only
 * through it, so a test (or an app) provides another engine with a layer:
 *
 *   DockerEngine.layer(endpoint)   the engine at `endpoint` (see client.ts), over dockerode
 *   DockerEngine.layerNone         no engine configured: discovery finds only static
 *                                  targets, and every call fails with DockerUnavailable
 *   layerFake (fake.ts)            containers, exec output and failures held in memory
 *
 * Every call fails with one of the tagged errors of errors.ts, and each is
 * bounded in time so that a hung engine cannot hold a backup forever; the
 * streams are bounded by the target's own timeout instead.
 */
import * as NodeStream from "@effect/platform-node/NodeStream"
import { Context, Duration, Effect, Layer, type Scope, type Stream } from "effect"
import { Duplex, Readable } from "node:stream"
import { writableEnd } from "../stream/writable.ts"
import { DockerClient, type DockerError } from "./client.ts"
import { DockerBadAnswer, type DockerEngineError, DockerStreamLost, DockerUnavailable, describeCause, fromCause } from "./errors.ts"

/** The parts of `GET /containers/{id}/json` that ubackup reads. */
export interface ContainerInfo {
  readonly Id: string
  readonly Name: string
  readonly Config: {
    readonly Labels?: Record<string, string> | null | undefined
    readonly Env?: ReadonlyArray<string> | null | undefined
  }
  readonly State?: { readonly Running?: boolean | undefined; readonly Restarting?: boolean | undefined } | null | undefined
  readonly Mounts?:
    | ReadonlyArray<{ readonly Type?: string | undefined; readonly Name?: string | undefined; readonly Destination?: string | undefined }>
    | null
    | undefined
}

/** An exec as `GET /exec/{id}/json` describes it. */
export interface ExecState {
  readonly running: boolean
  /** null while it runs, and when the engine recorded none. */
  readonly exitCode: number | null
  /** The command's host PID; 0 when no process ever ran (the runtime could not start it). */
  readonly pid: number
}

/**
 * Both directions of an exec started with stdin. Its stdin ends only with
 * `end`: a failure of what feeds it must not look like the end of the input
 * to the command (dropping the connection, with the scope, does).
 */
export interface ExecConnection {
  readonly output: Stream.Stream<Uint8Array, DockerStreamLost>
  /** Writes to the command's stdin; back-pressured by the connection. */
  readonly write: (chunk: Uint8Array) => Effect.Effect<void, DockerStreamLost>
  /** Half-closes the connection: the command reads end of file, and its output goes on. */
  readonly end: Effect.Effect<void, DockerStreamLost>
}

export class DockerEngine extends Context.Service<DockerEngine, {
  /** Where the engine is, for messages: `unix:///var/run/docker.sock`; `none` for layerNone. */
  readonly endpoint: string
  /** False for layerNone: Docker discovery is off. */
  readonly enabled: boolean
  /** The IDs of the running containers. */
  readonly listRunning: Effect.Effect<ReadonlyArray<string>, DockerEngineError>
  readonly inspectContainer: (containerId: string) => Effect.Effect<ContainerInfo, DockerEngineError>
  /** Creates an exec of `argv` with stdout and stderr attached (and stdin, if asked), no TTY; returns its ID. */
  readonly createExec: (
    containerId: string,
    argv: ReadonlyArray<string>,
    options?: { readonly stdin?: boolean | undefined }
  ) => Effect.Effect<string, DockerEngineError>
  /**
   * Starts the exec; the stream is its output as the engine multiplexes it
   * (see snapshot/dockerExec.ts). The connection is closed with the scope.
   */
  readonly startExec: (
    execId: string
  ) => Effect.Effect<Stream.Stream<Uint8Array, DockerStreamLost>, DockerEngineError, Scope.Scope>
  /**
   * Starts an exec created with stdin (see ExecConnection); `output` is as
   * startExec's. The connection is closed with the scope.
   */
  readonly attachExec: (execId: string) => Effect.Effect<ExecConnection, DockerEngineError, Scope.Scope>
  readonly inspectExec: (execId: string) => Effect.Effect<ExecState, DockerEngineError>
  /** `path` in the container as a tar stream; the connection is closed with the scope. */
  readonly archive: (
    containerId: string,
    path: string
  ) => Effect.Effect<Stream.Stream<Uint8Array, DockerStreamLost>, DockerEngineError, Scope.Scope>
  /** Fails with DockerNotModified when it is not running. */
  readonly stopContainer: (containerId: string) => Effect.Effect<void, DockerEngineError>
  /** Fails with DockerNotModified when it already runs. */
  readonly startContainer: (containerId: string) => Effect.Effect<void, DockerEngineError>
}>()("ubackup/DockerEngine") {
  /** The engine at `endpoint` (see client.ts); without one, where DOCKER_HOST points. */
  static readonly layer = (endpoint?: string): Layer.Layer<DockerEngine, DockerError> =>
    Layer.effect(DockerEngine, make).pipe(Layer.provide(DockerClient.layer(endpoint)))

  /** No engine: discovery is off, and any call fails with DockerUnavailable. */
  static readonly layerNone: Layer.Layer<DockerEngine> = Layer.sync(DockerEngine, () => none)
}

/** Bound on the small calls (inspect, create, start an exec). */
const callTimeout = Duration.seconds(15)
/** Bound on starting a container, which waits for its start-up. */
const startTimeout = Duration.seconds(30)
/** Bound on docker stop, which itself takes up to the container's stop timeout (then the engine kills). */
const stopTimeout = Duration.minutes(5)

const short = (id: string) => id.slice(0, 12)

/** The engine behind the DockerClient in context. */
export const make: Effect.Effect<DockerEngine["Service"], never, DockerClient> = Effect.gen(function*() {
  const { client, endpoint } = yield* DockerClient
  const call = <A>(operation: string, timeout: Duration.Input | undefined, run: (signal: AbortSignal) => Promise<A>) => {
    const request = Effect.tryPromise({ try: run, catch: fromCause(endpoint, operation) })
    return timeout === undefined ? request : request.pipe(
      Effect.timeoutOrElse({
        duration: timeout,
        orElse: () => Effect.fail(new DockerUnavailable({ endpoint, operation, detail: "the engine did not answer" }))
      })
    )
  }
  /** The engine's answer to `open` (a body, a hijacked connection), checked to be a `kind` and destroyed with the scope. */
  const acquired = <A extends Readable>(
    operation: string,
    open: Effect.Effect<unknown, DockerEngineError>,
    kind: abstract new(...args: ReadonlyArray<never>) => A,
    what: string
  ) =>
    Effect.acquireRelease(
      // interruptible, unlike the rest of an acquisition: a request that hangs is aborted, not waited for
      Effect.interruptible(open).pipe(
        Effect.flatMap((body) =>
          body instanceof kind
            ? Effect.succeed(body as A)
            : Effect.fail(new DockerBadAnswer({ endpoint, operation, detail: `the engine's answer is not ${what}` }))
        )
      ),
      (body) => Effect.sync(() => body.destroy())
    )
  /** A hijacked connection or a body as a stream, destroyed with the scope. */
  const streamOf = (operation: string, open: Effect.Effect<unknown, DockerEngineError>) =>
    acquired(operation, open, Readable, "a stream").pipe(Effect.map((body) =>
      NodeStream.fromReadable<Uint8Array, DockerStreamLost>({
        evaluate: () => body,
        onError: (cause) => new DockerStreamLost({ endpoint, operation, detail: describeCause(cause) })
      })
    ))

  return DockerEngine.of({
    endpoint,
    enabled: true,
    listRunning: call("list containers", callTimeout, (abortSignal) => client.listContainers({ all: false, abortSignal })).pipe(
      Effect.map((listed) => listed.map((summary) => summary.Id))
    ),
    inspectContainer: (id) =>
      call(`inspect container ${short(id)}`, callTimeout, (abortSignal) => client.getContainer(id).inspect({ abortSignal })),
    createExec: (id, argv, options) =>
      call(`create exec in ${short(id)}`, callTimeout, (abortSignal) =>
        client.getContainer(id).exec({
          Cmd: [...argv],
          AttachStdin: options?.stdin === true,
          AttachStdout: true,
          AttachStderr: true,
          Tty: false,
          abortSignal
        })).pipe(
          Effect.map((exec) => exec.id)
        ),
    startExec: (execId) =>
      streamOf(
        "start exec",
        call("start exec", callTimeout, (abortSignal) => client.getExec(execId).start({ hijack: true, stdin: false, abortSignal }))
      ),
    attachExec: (execId) =>
      acquired(
        "start exec",
        call("start exec", callTimeout, (abortSignal) => client.getExec(execId).start({ hijack: true, stdin: true, abortSignal })),
        Duplex,
        "a connection"
      ).pipe(Effect.map((socket) => execConnection(socket, endpoint))),
    inspectExec: (execId) =>
      call("inspect exec", callTimeout, (abortSignal) => client.getExec(execId).inspect({ abortSignal })).pipe(
        Effect.map((info) => ({ running: info.Running, exitCode: info.ExitCode, pid: info.Pid }))
      ),
    archive: (id, path) =>
      // no bound: the answer streams for as long as the archive takes (the target's timeout bounds it)
      streamOf("archive", call(`archive ${path} of ${short(id)}`, undefined, (abortSignal) =>
        client.getContainer(id).getArchive({ path, abortSignal }))),
    stopContainer: (id) =>
      Effect.asVoid(call(`stop container ${short(id)}`, stopTimeout, (abortSignal) => client.getContainer(id).stop({ abortSignal }))),
    startContainer: (id) =>
      Effect.asVoid(call(`start container ${short(id)}`, startTimeout, (abortSignal) => client.getContainer(id).start({ abortSignal })))
  })
})

/** The two directions of a hijacked exec connection. */
const execConnection = (socket: Duplex, endpoint: string): ExecConnection => {
  const lost = (cause: unknown) => new DockerStreamLost({ endpoint, operation: "exec", detail: describeCause(cause) })
  const input = writableEnd(socket)
  const closed = () => lost(input.failure() ?? "the connection closed")
  return {
    output: NodeStream.fromReadable<Uint8Array, DockerStreamLost>({ evaluate: () => socket, onError: lost }),
    write: (chunk) => Effect.flatMap(input.write(chunk), (open) => (open ? Effect.void : Effect.fail(closed()))),
    // FIN, and the reading half stays open: the engine closes the command's stdin and goes on sending its output
    end: Effect.flatMap(input.end, (ended) => (ended ? Effect.void : Effect.fail(closed())))
  }
}

const none: DockerEngine["Service"] = (() => {
  const unavailable = (operation: string) =>
    Effect.fail(
      new DockerUnavailable({
        endpoint: "none",
        operation,
        detail: "no Docker endpoint is configured (docker_endpoint or DOCKER_HOST)"
      })
    )
  return DockerEngine.of({
    endpoint: "none",
    enabled: false,
    listRunning: unavailable("list containers"),
    inspectContainer: () => unavailable("inspect container"),
    createExec: () => unavailable("create exec"),
    startExec: () => unavailable("start exec"),
    attachExec: () => unavailable("start exec"),
    inspectExec: () => unavailable("inspect exec"),
    archive: () => unavailable("archive"),
    stopContainer: () => unavailable("stop container"),
    startContainer: () => unavailable("start container")
  })
})()
