/**
 * The `ubackup` command line: thin verbs over the library. Data goes to
 * stdout; messages and errors go to stderr; any error exits with code 1.
 */
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import * as NodeServices from "@effect/platform-node/NodeServices"
import { Cause, Console, Effect, Layer, Logger, Ref, Runtime, Schema } from "effect"
import { CliError, CliOutput, Command } from "effect/cli"
import { ubackup } from "./commands.ts"
import { interruptedExitCode, StopExitCode } from "./exit.ts"
import { printable } from "../text/printable.ts"
import { exposeCollector } from "../stream/memory.ts"

declare const UBACKUP_VERSION: string
const version = typeof UBACKUP_VERSION === "string" ? UBACKUP_VERSION : "dev"

/** Help on request goes to stdout; a wrong invocation sends help and errors to stderr. */
const presenter: CliOutput.Presenter = {
  present: (event) =>
    Effect.gen(function*() {
      const formatter = CliOutput.defaultFormatter({ colors: process.stderr.isTTY === true && !process.env.NO_COLOR })
      switch (event._tag) {
        case "Help":
          return yield* Console.log(formatter.formatHelpDoc(event.helpDoc))
        case "Version":
          return yield* Console.log(formatter.formatVersion(event.name, event.version))
        case "InvalidInvocation":
          yield* Console.error(formatter.formatHelpDoc(event.helpDoc))
          return yield* Console.error(formatter.formatErrors(event.errors))
      }
    })
}

/** Already reported on stderr; makes runMain exit with code 1 and print nothing more. */
class Reported extends Schema.TaggedError<Reported>()("Reported", {}) {
  override readonly [Runtime.errorExitCode] = 1
}

const messageOf = (error: unknown): string =>
  error instanceof Error ? error.message || error.name : typeof error === "string" ? error : JSON.stringify(error)

const report = <E>(cause: Cause.Cause<E>): Effect.Effect<never, Reported> => {
  if (Cause.hasInterruptsOnly(cause)) return Effect.failCause(cause as Cause.Cause<never>)
  const failures = cause.reasons.flatMap((reason) =>
    reason._tag === "Fail" ? [reason.error] : reason._tag === "Die" ? [reason.defect] : []
  )
  // parse errors were already presented with the help text; a reader that
  // closed the pipe early (`| head`) knows why it stopped: exit 1, quietly
  const unreported = failures.filter((error) => !CliError.isCliError(error) && !isClosedPipe(error))
  return Effect.forEach(unreported, (error) =>
    Effect.sync(() => {
      const detail = reasonIsDefect(cause, error) && error instanceof Error ? `\n${error.stack ?? ""}` : ""
      process.stderr.write(`ubackup: error: ${printable(messageOf(error))}${detail}\n`)
    })).pipe(Effect.andThen(Effect.fail(new Reported())))
}

// by tag: ./io.ts is loaded with the verbs that write (see ./commands.ts)
const isClosedPipe = (error: unknown) =>
  (error as { _tag?: unknown })?._tag === "OutputError" && ((error as { cause?: NodeJS.ErrnoException }).cause)?.code === "EPIPE"

const reasonIsDefect = <E>(cause: Cause.Cause<E>, error: unknown) =>
  cause.reasons.some((reason) => reason._tag === "Die" && reason.defect === error)

/** Effect's default log lines, with the messages escaped: they may quote what a container chose (src/text/printable.ts). */
const escapingLogger = Logger.make<unknown, void>((options) =>
  Logger.defaultLogger.log({
    ...options,
    message: Array.isArray(options.message)
      ? options.message.map((part) => (typeof part === "string" ? printable(part) : part))
      : typeof options.message === "string"
      ? printable(options.message)
      : options.message
  })
)

/** Set by a verb for which a signal is its normal end (see ./exit.ts); read by the teardown below. */
const stopExitCode = Ref.makeUnsafe(interruptedExitCode)

export const main = Command.run(ubackup, { version }).pipe(
  Effect.catchCause(report),
  // logs are for humans: stderr, so that stdout carries only data
  Effect.provide(Layer.mergeAll(
    NodeServices.layer,
    Layer.succeed(StopExitCode, stopExitCode),
    CliOutput.layerPresenter(presenter),
    Layer.succeed(Logger.LogToStderr, true),
    Logger.layer([escapingLogger])
  ))
)

// engines in package.json say so too, but a `node` on PATH is easily older
const [major = 0, minor = 0] = process.versions.node.split(".").map(Number)
if (major < 22 || (major === 22 && minor < 19)) {
  process.stderr.write(`ubackup: error: Node.js 22.19 or newer is needed; this is ${process.version} (${process.execPath})\n`)
  process.exit(1)
}

// every write to stdout reports its own failure (printLine, writeStdout, toStdout): without a
// listener, a reader that closed the pipe early (EPIPE) would also crash the process with a stack trace
process.stdout.on("error", () => undefined)

// a minor GC every few MiB keeps long streams' memory flat (src/stream/memory.ts)
exposeCollector()
// bin/ubackup's compile cache is for this process only, not for the commands it runs
if (process.env.UBACKUP_OWN_COMPILE_CACHE !== undefined) {
  delete process.env.NODE_COMPILE_CACHE
  delete process.env.UBACKUP_OWN_COMPILE_CACHE
}

NodeRuntime.runMain(main, {
  disableErrorReporting: true,
  teardown: (exit, onExit) =>
    onExit(exit._tag === "Success" ? 0 : Cause.hasInterruptsOnly(exit.cause) ? Ref.getUnsafe(stopExitCode) : 1)
})
