/**
 * A warning about backups that are there but may not serve: not a failed
 * backup run, yet worth a person's look. The classic case is a dump of an
 * empty or the wrong database, which still "succeeds"; a restore drill finds
 * the others.
 */
export interface Warning {
  /**
   * `SizeDrop`: a stored backup much smaller than the service's recent ones (history/sizeDrop.ts).
   * `Stale`: the service's newest backup is older than the drill's threshold (api/drill.ts).
   * `DrillFailed`: the service's newest backup did not verify, or its check command failed.
   */
  readonly kind: "SizeDrop" | "Stale" | "DrillFailed"
  readonly service: string
  /** The backup it is about; undefined when there is none (a drill of a service without backups). */
  readonly backupId: string | undefined
  /** One line for a person, with the figures. */
  readonly message: string
  /** The same figures for programs (bytes, ratios, counts, ages in seconds). */
  readonly figures: Readonly<Record<string, number>>
}

/** A size drop only asks for a look; a stale or unrestorable backup is a backup that is not there. */
export const severityOf = (warning: Warning): "warning" | "critical" => (warning.kind === "SizeDrop" ? "warning" : "critical")

/** What the subject line says about it. */
export const warningLabel = (warning: Warning): string =>
  warning.kind === "SizeDrop" ? "warning" : warning.kind === "Stale" ? "stale backup" : "restore drill failed"
