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
import { Effect, Schedule, Stream } from "effect"
import { DockerEngine } from "../docker/DockerEngine.ts"
import { DockerStreamLost } from "../docker/errors.ts"
import { describeTarget, type DockerCommand, type DockerTarget } from "../domain/Target.ts"
import { transformBytes } from "../stream/bytes.ts"
import { SnapshotError } from "./Snapshotter.ts"

export type VolumeTarget = DockerTarget & { readonly command: Extract<DockerCommand, { readonly _tag: "Volume" }> }

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
const startAgain = (engine: DockerEngine["Service"], containerId: string, source: string) =>
  engine.startContainer(containerId).pipe(
    // 304: already running (someone else started it)
    Effect.catchTag("DockerNotModified", () => Effect.void),
    Effect.retry({ schedule: Schedule.spaced("1 second"), times: 2 }),
    Effect.tap(() => Effect.logInfo(`${source}: started the container again`)),
    Effect.catch((error) =>
      Effect.logError(`${source}: the container was stopped for the backup and could not be started again: ${error.detail}`)
    )
  )

/**
 * Stops the container when it runs, for the lifetime of the enclosing
 * scope; starts it again when the scope closes, however it closes. A
 * container that was not running is left as it is.
 */
const stoppedForBackup = (
  engine: DockerEngine["Service"],
  containerId: string,
  source: string,
  fail: (detail: string) => SnapshotError
) =>
  Effect.acquireRelease(
    Effect.gen(function*() {
      const info = yield* engine.inspectContainer(containerId).pipe(
        Effect.mapError((error) => fail(`cannot inspect the container: ${error.detail}`))
      )
      if (info.State?.Running !== true) return false
      yield* Effect.logInfo(`${source}: stopping the container for the backup`)
      // the engine answers once the container is down: after its own stop timeout (default 10 s) at most,
      // then it kills; the engine's call has a bound for an engine that never answers
      return yield* engine.stopContainer(containerId).pipe(
        Effect.as(true),
        // it stopped by itself in the meantime: not ours to start again
        Effect.catchTag("DockerNotModified", () => Effect.succeed(false)),
        // a stop that failed half-way may have stopped it all the same: no release runs for a failed acquisition
        Effect.catch((error) =>
          Effect.andThen(startAgain(engine, containerId, source), Effect.fail(fail(`cannot stop the container: ${error.detail}`)))
        )
      )
    }),
    (stopped) => (stopped ? startAgain(engine, containerId, source) : Effect.void)
  )

/** The target's volume as a tar stream. */
export const dockerVolumeSnapshot = (target: VolumeTarget): Stream.Stream<Uint8Array, SnapshotError, DockerEngine> =>
  Stream.unwrap(Effect.gen(function*() {
    const engine = yield* DockerEngine
    const { mountPoint } = target.command
    const source = describeTarget(target)
    const fail = (reason: SnapshotError["reason"]) => (detail: string) =>
      new SnapshotError({ reason, source, stderrTail: "", detail })
    if (target.stopDuringBackup) yield* stoppedForBackup(engine, target.containerId, source, fail("Docker"))
    const archive = yield* engine.archive(target.containerId, mountPoint).pipe(
      Effect.mapError((error) => fail("Docker")(`cannot archive ${mountPoint}: ${error.detail}`))
    )
    return archive.pipe(
      requireTarEnd,
      Stream.mapError((error) =>
        error instanceof DockerStreamLost
          ? fail("Lost")(`the archive stream failed: ${error.detail}`)
          : fail("Lost")(error instanceof Error ? error.message : String(error))
      )
    )
  }))
