/**
 * `dockervolume://`: the container's single volume, archived by the engine
 * (GET /containers/{id}/archive?path=<mount point>). The tar is made on the
 * host side, so owners, modes, symlinks and empty directories are kept, and
 * it works for images without a shell or tar, and for stopped containers.
 *
 * With `stopDuringBackup` the container is stopped for the archive (files
 * that do not change under the archiver: a consistent copy) and started
 * again afterwards, whether the archive succeeded, failed or was
 * interrupted.
 */
import * as NodeStream from "@effect/platform-node/NodeStream"
import type Dockerode from "dockerode"
import { Duration, Effect, Schedule, Stream } from "effect"
import { Readable } from "node:stream"
import { describeTarget, type DockerCommand, type DockerTarget } from "../domain/Target.ts"
import { callApi, describeDockerError, statusOf } from "../docker/client.ts"
import { transformBytes } from "../stream/bytes.ts"
import { SnapshotError } from "./Snapshotter.ts"

export type VolumeTarget = DockerTarget & { readonly command: Extract<DockerCommand, { readonly _tag: "Volume" }> }

/** Bound on the small API calls (inspect, start), so a hung engine cannot hold a backup forever. */
const callTimeout = Duration.seconds(30)
/** Bound on docker stop, which itself takes up to the container's stop timeout. */
const stopTimeout = Duration.minutes(5)

const tarBlock = 512

/** Thrown when the archive ends without tar's end marker; see `requireTarEnd`. */
export class TruncatedArchive extends Error {}

/**
 * Passes the archive through, checking at its end that it is whole: the
 * engine's archiver (Go's archive/tar) ends every archive with two zero
 * blocks. A failure on the engine's side after the answer began (a file
 * that shrank while read, an I/O error) leaves them out, or appends an
 * error message, yet still ends the HTTP answer cleanly.
 */
export const requireTarEnd = transformBytes(() => {
  const tail = new Uint8Array(2 * tarBlock)
  let total = 0
  return {
    push: (chunk) => {
      total += chunk.length
      if (chunk.length >= tail.length) {
        tail.set(chunk.subarray(chunk.length - tail.length))
      } else {
        tail.copyWithin(0, chunk.length)
        tail.set(chunk, tail.length - chunk.length)
      }
      return [chunk]
    },
    finish: () => {
      if (total < tail.length || total % tarBlock !== 0 || tail.some((byte) => byte !== 0)) {
        throw new TruncatedArchive(`the archive ended after ${total} bytes without tar's end marker: it is incomplete`)
      }
      return []
    }
  }
}, (cause) => cause)

/** Starts a container this module stopped; a release, so it logs rather than fails. */
const startAgain = (container: Dockerode.Container, source: string) =>
  callApi(() => container.start(), callTimeout).pipe(
    // 304: already running (someone else started it)
    Effect.catch((cause) => (statusOf(cause) === 304 ? Effect.void : Effect.fail(cause))),
    Effect.retry({ schedule: Schedule.spaced("1 second"), times: 2 }),
    Effect.tap(() => Effect.logInfo(`${source}: started the container again`)),
    Effect.catch((cause) =>
      Effect.logError(`${source}: the container was stopped for the backup and could not be started again: ${describeDockerError(cause)}`)
    )
  )

/**
 * Stops the container when it runs, for the lifetime of the enclosing
 * scope; starts it again when the scope closes, however it closes. A
 * container that was not running is left as it is.
 */
const stoppedForBackup = (container: Dockerode.Container, source: string, fail: (detail: string) => SnapshotError) =>
  Effect.acquireRelease(
    Effect.gen(function*() {
      const info = yield* callApi((signal) => container.inspect({ abortSignal: signal }), callTimeout).pipe(
        Effect.mapError((cause) => fail(`cannot inspect the container: ${describeDockerError(cause)}`))
      )
      if (!info.State.Running) return false
      yield* Effect.logInfo(`${source}: stopping the container for the backup`)
      // the engine answers once the container is down: after its own stop timeout (default 10 s) at most,
      // then it kills; the bound here is for an engine that never answers
      return yield* callApi((signal) => container.stop({ abortSignal: signal }), stopTimeout).pipe(
        Effect.as(true),
        Effect.catch((cause) =>
          statusOf(cause) === 304
            // it stopped by itself in the meantime: not ours to start again
            ? Effect.succeed(false)
            // a stop that failed half-way may have stopped it all the same: no release runs for a failed acquisition
            : Effect.andThen(startAgain(container, source), Effect.fail(fail(`cannot stop the container: ${describeDockerError(cause)}`)))
        )
      )
    }),
    (stopped) => (stopped ? startAgain(container, source) : Effect.void)
  )

/** The target's volume as a tar stream. */
export const dockerVolumeSnapshot = (client: Dockerode, target: VolumeTarget): Stream.Stream<Uint8Array, SnapshotError> =>
  Stream.unwrap(Effect.gen(function*() {
    const { mountPoint } = target.command
    const source = describeTarget(target)
    const fail = (reason: SnapshotError["reason"]) => (detail: string) =>
      new SnapshotError({ reason, source, stderrTail: "", detail })
    const container = client.getContainer(target.containerId)
    if (target.stopDuringBackup) yield* stoppedForBackup(container, source, fail("Docker"))
    const archive = yield* Effect.acquireRelease(
      // interruptible, unlike the rest of an acquisition: a request that hangs is aborted, not waited for
      Effect.interruptible(
        Effect.tryPromise({
          try: (signal) => container.getArchive({ path: mountPoint, abortSignal: signal }),
          catch: (cause) => fail("Docker")(`cannot archive ${mountPoint}: ${describeDockerError(cause)}`)
        })
      ).pipe(
        Effect.flatMap((body) =>
          body instanceof Readable
            ? Effect.succeed(body)
            : Effect.fail(fail("Docker")("the engine's answer is not a stream"))
        )
      ),
      (body) => Effect.sync(() => body.destroy())
    )
    return NodeStream.fromReadable<Uint8Array, SnapshotError>({
      evaluate: () => archive,
      onError: (cause) => fail("Lost")(`the archive stream failed: ${describeDockerError(cause)}`)
    }).pipe(
      requireTarEnd,
      Stream.mapError((error) =>
        error instanceof SnapshotError
          ? error
          : fail("Lost")(error instanceof Error ? error.message : String(error))
      )
    )
  }))
