/**
 * Restoring into a command: the plaintext of a backup on the standard input
 * of a host command (`psql app`, `tar -xC /data`), which decides what a
 * restore means. Chunks reach it only once authenticated; if the backup
 * turns out damaged part-way, the command is stopped with SIGTERM (a
 * `psql --single-transaction` then rolls back) and the damage is the error.
 */
import * as NodeSink from "@effect/platform-node/NodeSink"
import { type Cause, Effect, Schema, Stream } from "effect"
import { spawn } from "node:child_process"

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

/** Pipes `plaintext` into `argv` run on this host (stdout and stderr are this process's); fails unless it exits 0. */
export const restoreToHostCommand = <E, R>(argv: ReadonlyArray<string>, plaintext: Stream.Stream<Uint8Array, E, R>) =>
  Effect.gen(function*() {
    const command = JSON.stringify(argv.join(" "))
    const failed = (exitCode: number | null, signal: string | null, detail: string) =>
      new RestoreCommandFailed({ command, exitCode, signal, detail })
    const child = spawn(argv[0]!, argv.slice(1), { stdio: ["pipe", "inherit", "inherit"] })
    const exited = new Promise<{ code: number | null; signal: string | null; error?: Error }>((resolve) => {
      child.once("error", (error) => resolve({ code: null, signal: null, error }))
      child.once("close", (code, signal) => resolve({ code, signal }))
    })
    // a command that stops reading early closes its stdin: its exit status says what happened, not EPIPE
    child.stdin.on("error", () => undefined)
    const stdinClosed = "stdin closed" as const
    const stop = Effect.sync(() => void child.kill("SIGTERM"))
    const fed = yield* Stream.run(
      // stopped as the failure surfaces, before the sink's end closes the
      // command's stdin: an EOF first would let it finish with what it has
      plaintext.pipe(Stream.tapCause(() => stop)),
      NodeSink.fromWritable<typeof stdinClosed, Uint8Array>({ evaluate: () => child.stdin, onError: () => stdinClosed, endOnDone: true })
    ).pipe(
      Effect.tapCause(() => stop),
      Effect.onInterrupt(() => stop),
      Effect.exit
    )
    const end = yield* Effect.promise(() => exited)
    if (end.error !== undefined) return yield* Effect.fail(failed(null, null, `could not start: ${end.error.message}`))
    if (fed._tag === "Failure") {
      const closed = fed.cause.reasons.some((reason) => reason._tag === "Fail" && reason.error === stdinClosed)
      if (!closed) return yield* Effect.failCause(fed.cause as Cause.Cause<E>) // the backup failed: its error, not the command's
      if (end.code === 0) return yield* Effect.fail(failed(0, null, "stopped reading before the end of the backup"))
    }
    if (end.code !== 0) {
      return yield* Effect.fail(
        failed(end.code, end.signal, end.signal !== null ? `was ended by ${end.signal}` : `exited with status ${end.code}`)
      )
    }
  })
