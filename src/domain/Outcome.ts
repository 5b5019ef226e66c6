/**
 * What a backup produced, and what a run reports for each target: the
 * domain types that storage, the pipeline, alerts, metrics and the CLI
 * share. Imports no stage.
 */

/** One stored backup, as `storage ls --long` shows it. */
export interface StoredBackup {
  readonly id: string
  readonly size: number
  readonly modified: Date
}

export interface BackupResult extends StoredBackup {
  /** Snapshot bytes, before compression and encryption. */
  readonly bytesIn: number
  readonly durationMs: number
  /** With several destinations (the config's storage list): each one's copy, the first being `id`'s. */
  readonly copies?: ReadonlyArray<{ readonly destination: string; readonly id: string; readonly size: number }> | undefined
}

/**
 * Why a target failed: the tagged error the stage raised (SnapshotError,
 * StorageError, TargetTimeout, EmptySnapshot, …; `BackupFailure` in
 * src/pipeline/run.ts lists them), kept whole so that a caller decides by
 * `_tag` and reads its fields instead of parsing a message.
 */
export interface TargetFailure {
  readonly _tag: string
  readonly message: string
}

/** A container whose labels do not make a target (a bad timeout, an unusable service name). */
export interface InvalidTargetFailure extends TargetFailure {
  readonly _tag: "InvalidTarget"
  readonly containerName: string
  readonly reason: string
}

export interface Outcome<F extends TargetFailure = TargetFailure> {
  readonly service: string
  readonly taskId: string
  readonly source: string
  readonly durationMs: number
  readonly result:
    | { readonly _tag: "Stored"; readonly backup: BackupResult }
    | {
      readonly _tag: "Failed"
      /** The failure's message, escaped for logs and alerts (it may quote a container's labels or stderr). */
      readonly error: string
      readonly failure: F
    }
}

/** One run over the targets, as the alerts and the metrics get it at its end. */
export interface RunReport<F extends TargetFailure = TargetFailure> {
  readonly hostname: string
  readonly startedAt: Date
  readonly finishedAt: Date
  readonly outcomes: ReadonlyArray<Outcome<F>>
}

/** Why the target failed; "" for one that was stored. */
export const errorOf = (outcome: Outcome): string => (outcome.result._tag === "Failed" ? outcome.result.error : "")

export const failedOutcomes = (outcomes: ReadonlyArray<Outcome>): ReadonlyArray<Outcome> =>
  outcomes.filter((outcome) => outcome.result._tag === "Failed")
