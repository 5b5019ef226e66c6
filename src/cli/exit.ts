/**
 * How an interrupted run exits. SIGTERM/SIGINT interrupt the main fiber; for
 * a verb that was doing a backup that is a failure (exit 130), but for the
 * scheduler it is how a service manager stops it: exit 0. main.ts provides
 * the cell and reads it in its teardown; the verb that knows sets it.
 */
import { Context, Effect, Ref } from "effect"

export class StopExitCode extends Context.Service<StopExitCode, Ref.Ref<number>>()("ubackup/cli/StopExitCode") {}

/** The exit code of a run stopped by a signal, until a verb says otherwise. */
export const interruptedExitCode = 130

/** Called by a verb for which being stopped is its normal end. */
export const stopIsSuccess = Effect.gen(function*() {
  yield* Ref.set(yield* StopExitCode, 0)
})
