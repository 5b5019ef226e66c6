/**
 * Restoring into a command: the plaintext of a backup on the standard input
 * of a host command, or of a command run in a container through the exec API
 * (`psql app`, `tar -xC /data`), which decides what a restore means. Chunks
 * reach it only once authenticated; if the backup turns out damaged
 * part-way, the command is stopped with SIGTERM before its stdin ends (a
 * `psql --single-transaction` then rolls back) and the damage is the error.
 */
import { type Cause, Duration, Effect, Schedule, Schema, Stream } from "effect"
import { spawn } from "node:child_process"
import { DockerEngine } from "../docker/DockerEngine.ts"
import type { DockerEngineError } from "../docker/errors.ts"
import { OutputTail } from "../snapshot/command.ts"
import { DemuxFailure, demultiplex, stopExecProcess } from "../snapshot/dockerExec.ts"
import { writableEnd } from "../stream/writable.ts"

export class RestoreCommandFailed extends Schema.TaggedError<RestoreCommandFailed>()("RestoreCommandFailed", {
  command: Schema.String,
  /** The exit status, or null when a signal ended it. */
  exitCode: Schema.NullOr(Schema.Number),
  signal: Schema.NullOr(Schema.String),
  detail: Schema.String
}) {
  override get message() {
    return `the restore command ${this.command} ${this.detail}`
  }
}

/** The failures of `command`, each with the end of what it wrote on stderr. */
const failure = (command: string, stderr: OutputTail) =>
(exitCode: number | null, detail: string, signal: string | null = null) => {
  const said = stderr.text().trim()
  return new RestoreCommandFailed({ command, exitCode, signal, detail: said === "" ? detail : `${detail}; its stderr ended with: ${said}` })
}

export interface HostCommandOptions {
  /**
   * `inherit` (default): the command's stdout and stderr are this process's.
   * `discard`: its stdout goes nowhere (a check such as `tar -t` lists every
   * file) and the end of its stderr goes into the error.
   */
  readonly output?: "inherit" | "discard" | undefined
  /**
   * True: a command that exits 0 without reading all of its input is fine
   * (`pg_restore --list` reads only the archive's table of contents); the
   * rest of the plaintext is still read to its end, so a damaged backup
   * still fails. Default false: for a restore, stopping early is an error.
   */
  readonly mayStopReading?: boolean | undefined
}

/** Pipes `plaintext` into `argv` run on this host; fails unless it exits 0. */
export const restoreToHostCommand = <E, R>(
  argv: ReadonlyArray<string>,
  plaintext: Stream.Stream<Uint8Array, E, R>,
  options: HostCommandOptions = {}
) =>
  Effect.gen(function*() {
    const stderr = new OutputTail()
    const failed = failure(JSON.stringify(argv.join(" ")), stderr)
    const discard = options.output === "discard"
    const child = spawn(argv[0]!, argv.slice(1), { stdio: ["pipe", discard ? "ignore" : "inherit", discard ? "pipe" : "inherit"] })
    child.stderr?.on("data", (chunk: Buffer) => stderr.append(chunk))
    const input = child.stdin!
    const exited = new Promise<{ code: number | null; signal: string | null; error?: Error }>((resolve) => {
      child.once("error", (error) => resolve({ code: null, signal: null, error }))
      child.once("close", (code, signal) => resolve({ code, signal }))
    })
    // a command that stops reading early closes its stdin: its exit status says what happened, not EPIPE
    const stdin = writableEnd(input)
    const stdinClosed = "stdin closed" as const
    const stop = Effect.sync(() => void child.kill("SIGTERM"))
    const fed = yield* plaintext.pipe(
      // stopped as the failure surfaces, before stdin is ended: an EOF first
      // would let the command finish with what it has
      Stream.tapCause(() => stop),
      Stream.runForEach((chunk) =>
        Effect.flatMap(stdin.write(chunk), (open) => (open || options.mayStopReading ? Effect.void : Effect.fail(stdinClosed)))
      ),
      // the command's exit status, not the end's, says how it went
      Effect.andThen(Effect.asVoid(stdin.end)),
      Effect.tapCause(() => stop),
      Effect.onInterrupt(() => stop),
      Effect.exit
    )
    const end = yield* Effect.promise(() => exited)
    if (end.error !== undefined) return yield* Effect.fail(failed(null, `could not start: ${end.error.message}`))
    if (fed._tag === "Failure") {
      const closed = fed.cause.reasons.some((reason) => reason._tag === "Fail" && reason.error === stdinClosed)
      if (!closed) return yield* Effect.failCause(fed.cause as Cause.Cause<E>) // the backup failed: its error, not the command's
      if (end.code === 0) return yield* Effect.fail(failed(0, "stopped reading before the end of the backup"))
    }
    if (end.code !== 0) {
      return yield* Effect.fail(
        failed(end.code, end.signal !== null ? `was ended by ${end.signal}` : `exited with status ${end.code}`, end.signal)
      )
    }
  })

const inputClosed = "input closed" as const

/** How long to wait for the engine to record the command's exit after its output ended. */
const exitWait = Duration.seconds(10)

const writeOut = (chunk: Uint8Array) =>
  Effect.callback<void>((resume) => void process.stdout.write(chunk, () => resume(Effect.void)))

/**
 * Pipes `plaintext` into `argv` run in `container` (a name or ID) through the
 * exec API with stdin attached; the command's stdout is this process's, the
 * end of its stderr is in the error. Fails unless it exits 0. On damage
 * part-way, its process is stopped first when its PID is visible from here
 * (see snapshot/dockerExec.ts), then the connection is dropped.
 */
export const restoreIntoContainer = <E, R>(
  container: string,
  argv: ReadonlyArray<string>,
  plaintext: Stream.Stream<Uint8Array, E, R>
) =>
  Effect.scoped(Effect.gen(function*() {
    const engine = yield* DockerEngine
    const stderr = new OutputTail()
    const failed = failure(`${JSON.stringify(argv.join(" "))} in container ${container}`, stderr)
    const couldNotStart = (error: DockerEngineError) => failed(null, `could not start: ${error.detail}`)
    const info = yield* engine.inspectContainer(container).pipe(
      Effect.mapError(couldNotStart)
    )
    const execId = yield* engine.createExec(info.Id, argv, { stdin: true }).pipe(
      Effect.mapError(couldNotStart)
    )
    const { end, output, write } = yield* engine.attachExec(execId).pipe(
      Effect.mapError(couldNotStart)
    )
    const stop = stopExecProcess(engine, execId, info.Id, `restore into ${container}`, "the restore failed")
    /** Whether all of the backup went in; false when the command (or the engine) closed the connection first. */
    const fed = plaintext.pipe(
      Stream.runForEach((chunk) => write(chunk).pipe(Effect.mapError(() => inputClosed))),
      Effect.flatMap(() => end.pipe(Effect.mapError(() => inputClosed))),
      Effect.as(true),
      Effect.catch((error) => (error === inputClosed ? Effect.succeed(false) : Effect.fail(error))),
      // the backup failed: its stdin has not ended; the command is stopped before the connection drops with the scope
      Effect.tapCause(() => stop),
      Effect.onInterrupt(() => stop)
    )
    const drained = output.pipe(
      demultiplex(stderr),
      Stream.runForEach(writeOut),
      Effect.mapError((error) =>
        failed(null, `lost its connection: ${error instanceof DemuxFailure ? error.message : (error as { detail?: string }).detail ?? String(error)}`)
      )
    )
    // a damaged backup fails at once, dropping the connection (the command was stopped first)
    const [whole] = yield* Effect.all([fed, drained], { concurrency: 2 })
    const state = yield* engine.inspectExec(execId).pipe(
      Effect.repeat({ schedule: Schedule.spaced("50 millis").pipe(Schedule.upTo({ duration: exitWait })), until: (state) => !state.running }),
      Effect.mapError((error) => failed(null, `ended, then could not be inspected: ${error.detail}`))
    )
    if (state.running) return yield* Effect.fail(failed(null, "closed its output but did not exit"))
    if (!whole && state.exitCode === 0) {
      return yield* Effect.fail(failed(0, "stopped reading before the end of the backup"))
    }
    if (state.exitCode !== 0) {
      return yield* Effect.fail(failed(state.exitCode, state.exitCode === null ? "left no exit status" : `exited with status ${state.exitCode}`))
    }
  }))
