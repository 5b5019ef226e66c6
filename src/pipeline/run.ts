/**
 * One run over every target, as `ubackup now` and the scheduler do it: each
 * target through `backupOne` with its timeout, a bounded number at once, a
 * failure contained to its target. The outcomes come back in target order.
 */
import { Clock, Effect, Schema } from "effect"
import { formatDuration } from "../domain/duration.ts"
import { describeTarget, type Discovered, type InvalidTarget, type Target } from "../domain/Target.ts"
import { type SnapshotError, Snapshotter } from "../snapshot/Snapshotter.ts"
import { printable } from "../text/printable.ts"
import { backupOne } from "./backup.ts"
import { errorOf, type InvalidTargetFailure, type Outcome } from "../domain/Outcome.ts"

export class TargetTimeout extends Schema.TaggedError<TargetTimeout>()("TargetTimeout", {
  source: Schema.String,
  timeoutMs: Schema.Number
}) {
  override get message() {
    return `${this.source}: timed out after ${formatDuration(this.timeoutMs)}; nothing was stored`
  }
}

/** An error as the outcome says it: escaped, since it may quote a container's labels or stderr (src/text/printable.ts). */
const messageOf = (error: { readonly _tag: string; readonly message: string }): string => printable(error.message || error._tag)

/** What a target's backup fails with: every tagged error of the stages it passes, its timeout, or a bad container. */
export type BackupFailure =
  | Effect.Error<ReturnType<typeof backupOne<SnapshotError>>>
  | TargetTimeout
  | InvalidTargetFailure

/** Backs up one target; never fails: a failure is the outcome. */
export const backupTarget = (target: Target) =>
  Effect.gen(function*() {
    const snapshotter = yield* Snapshotter
    const source = describeTarget(target)
    const started = yield* Clock.currentTimeMillis
    yield* Effect.logInfo(`${target.service}: backing up (${source})`)
    const backup = backupOne({
      service: target.service,
      taskId: target.taskId,
      fileExtension: target.fileExtension,
      sourceName: source,
      snapshot: snapshotter.snapshot(target),
      maxBytes: target.maxBytes
    })
    const timed = target.timeoutMs === undefined ? backup : backup.pipe(
      Effect.timeoutOrElse({
        duration: target.timeoutMs,
        orElse: () => Effect.fail(new TargetTimeout({ source, timeoutMs: target.timeoutMs! }))
      })
    )
    const result = yield* Effect.result(timed)
    const durationMs = (yield* Clock.currentTimeMillis) - started
    if (result._tag === "Success") {
      yield* Effect.logInfo(`${target.service}: stored ${result.success.id}`)
      return { service: target.service, taskId: target.taskId, source, durationMs, result: { _tag: "Stored", backup: result.success } } satisfies Outcome<BackupFailure>
    }
    const error = messageOf(result.failure)
    yield* Effect.logError(`${target.service}: failed: ${error}`)
    return {
      service: target.service,
      taskId: target.taskId,
      source,
      durationMs,
      result: { _tag: "Failed", error, failure: result.failure }
    } satisfies Outcome<BackupFailure>
  })

const invalidOutcome = (target: InvalidTarget): Outcome<BackupFailure> => {
  const message = `${target.containerName}: ${target.reason}`
  return {
    service: target.service,
    taskId: target.taskId,
    source: describeTarget(target),
    durationMs: 0,
    result: {
      _tag: "Failed",
      error: printable(message),
      failure: { _tag: "InvalidTarget", message, containerName: target.containerName, reason: target.reason }
    }
  }
}

export interface RunOptions {
  readonly concurrency: number
  /** Called with each outcome as soon as it is known (alerts go out at once, as µbackup's did). */
  readonly onOutcome?: (outcome: Outcome) => Effect.Effect<void>
}

/** Every target of `discovered`, `concurrency` at a time; containers that declare an unusable command count as failed. */
export const runAll = (discovered: Discovered, options: RunOptions) =>
  Effect.gen(function*() {
    const report = options.onOutcome ?? (() => Effect.void)
    const invalid = discovered.invalid.map(invalidOutcome)
    for (const outcome of invalid) {
      yield* Effect.logError(`${outcome.service}: failed: ${errorOf(outcome)}`)
      yield* report(outcome)
    }
    const outcomes = yield* Effect.forEach(
      discovered.targets,
      (target) => backupTarget(target).pipe(Effect.tap(report)),
      { concurrency: options.concurrency }
    )
    return [...invalid, ...outcomes]
  })
