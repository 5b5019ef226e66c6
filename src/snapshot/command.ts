/**
 * Static targets: a command run on the host, its stdout the backup. The
 * stream fails unless the command exits 0 after its stdout ended; stderr is
 * drained as it comes (a command blocked on a full stderr pipe would never
 * finish) and its last 64 KiB go into the error. Interrupting the stream
 * (a timeout, SIGTERM) kills the command's whole process group.
 */
import { Duration, Effect, Fiber, Stream } from "effect"
import { ChildProcess, type ChildProcessSpawner } from "effect/process"
import { printable } from "../text/printable.ts"
import { SnapshotError } from "./Snapshotter.ts"

/** How much of a command's stderr the error keeps. */
export const stderrTailBytes = 64 * 1024

/**
 * The last `capacity` bytes written to it: a ring buffer, so a chatty
 * command costs a copy of its stderr and no more memory than the ring.
 */
export class OutputTail {
  readonly #ring: Uint8Array
  #end = 0
  #full = false

  constructor(capacity = stderrTailBytes) {
    this.#ring = new Uint8Array(capacity)
  }

  append(bytes: Uint8Array): void {
    const capacity = this.#ring.length
    if (bytes.length >= capacity) {
      this.#ring.set(bytes.subarray(bytes.length - capacity))
      this.#end = 0
      this.#full = true
      return
    }
    const first = Math.min(bytes.length, capacity - this.#end)
    this.#ring.set(bytes.subarray(0, first), this.#end)
    this.#ring.set(bytes.subarray(first), 0)
    if (this.#end + bytes.length >= capacity) this.#full = true
    this.#end = (this.#end + bytes.length) % capacity
  }

  /** The kept bytes as text; a character cut in half at the start is dropped. */
  text(): string {
    let bytes = this.#ring.subarray(0, this.#end)
    if (this.#full) {
      bytes = new Uint8Array(this.#ring.length)
      bytes.set(this.#ring.subarray(this.#end))
      bytes.set(this.#ring.subarray(0, this.#end), this.#ring.length - this.#end)
    }
    let start = 0
    // skip UTF-8 continuation bytes left over from a character the ring cut
    if (this.#full) while (start < 3 && start < bytes.length && (bytes[start]! & 0xc0) === 0x80) start++
    // a command's stderr goes into logs and alerts: escaped (src/text/printable.ts)
    return printable(new TextDecoder().decode(bytes.subarray(start)))
  }
}

/**
 * Variables a host command does not inherit: ubackup's config (it holds S3
 * keys and alert URLs), ubackup's own variables, and cloud credentials that
 * the AWS SDK would read (AWS_*). A command that needs a credential reads
 * it from a file (`.pgpass`, `--defaults-extra-file`, `sh -c 'PGPASSWORD=$(cat
 * /run/secrets/pg) pg_dump …'`): its command line is printed and alerted.
 */
const withheld = /^(UBACKUP_|AWS_)/

/** `env` without what `withheld` names. */
export const commandEnvironment = (env: NodeJS.ProcessEnv): Record<string, string> => {
  const kept: Record<string, string> = {}
  for (const [name, value] of Object.entries(env)) if (value !== undefined && !withheld.test(name)) kept[name] = value
  return kept
}

/** How long after SIGTERM a command may take to exit before its process group gets SIGKILL. */
const killGrace = Duration.seconds(5)
/** Once the command exited, how long its stderr may stay open (a background child holding it). */
const stderrGrace = Duration.seconds(1)


/**
 * The stdout of `argv` run on the host. `source` names it in errors
 * (`host: tar -c /etc`).
 */
export const commandSnapshot = (
  argv: ReadonlyArray<string>,
  source: string
): Stream.Stream<Uint8Array, SnapshotError, ChildProcessSpawner.ChildProcessSpawner> =>
  Stream.unwrap(Effect.gen(function*() {
    const tail = new OutputTail()
    const fail = (reason: SnapshotError["reason"], detail: string, exitCode?: number) =>
      new SnapshotError({
        reason,
        source,
        stderrTail: tail.text(),
        detail,
        ...(exitCode === undefined ? {} : { exitCode })
      })
    const [command, ...args] = argv
    if (command === undefined || command === "") return yield* fail("Start", "no command given")
    const handle = yield* ChildProcess.make(command, args, {
      // a backup command reads nothing; a pipe nobody writes to could hold it forever
      stdin: "ignore",
      // ubackup's own secrets (its config, cloud credentials) are not the command's business
      env: commandEnvironment(process.env),
      extendEnv: false,
      // a command that ignores SIGTERM must not keep an interrupted backup waiting
      forceKillAfter: killGrace
    }).pipe(Effect.mapError((error) =>
      fail("Start", error.reason._tag === "NotFound" ? `command not found: ${command}` : `cannot start ${command}: ${error.message}`)
    ))
    const stderr = yield* handle.stderr.pipe(
      Stream.runForEachArray((chunks) => Effect.sync(() => chunks.forEach((chunk) => tail.append(chunk)))),
      Effect.ignore,
      Effect.forkScoped
    )
    const checkExit = Effect.gen(function*() {
      const exit = yield* Effect.result(handle.exitCode)
      yield* Fiber.join(stderr).pipe(Effect.timeoutOrElse({ duration: stderrGrace, orElse: () => Effect.void }))
      if (exit._tag === "Failure") {
        // the spawner reports a death by signal as a failure of exitCode
        const reason = exit.failure.reason
        // the spawner's own message names only the method; the signal is in its cause
        const why = reason.cause instanceof Error ? reason.cause.message : exit.failure.message
        return yield* fail("ExitCode", `${command} did not exit normally: ${why}`)
      }
      if (exit.success !== 0) return yield* fail("ExitCode", `${command} exited with code ${exit.success}`, exit.success)
    })
    return handle.stdout.pipe(
      Stream.mapError((error) => fail("Lost", `reading the output of ${command} failed: ${error.message}`)),
      // the exit status decides whether the output is a backup: checked only after stdout ended
      Stream.concat(Stream.fromEffectDrain(checkExit))
    )
  }))
