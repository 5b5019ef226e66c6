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
}

export interface Outcome {
  readonly service: string
  readonly taskId: string
  readonly source: string
  readonly durationMs: number
  readonly result:
    | { readonly _tag: "Stored"; readonly backup: BackupResult }
    | { readonly _tag: "Failed"; readonly error: string }
}

/** Why the target failed; "" for one that was stored. */
export const errorOf = (outcome: Outcome): string => (outcome.result._tag === "Failed" ? outcome.result.error : "")

export const failedOutcomes = (outcomes: ReadonlyArray<Outcome>): ReadonlyArray<Outcome> =>
  outcomes.filter((outcome) => outcome.result._tag === "Failed")
