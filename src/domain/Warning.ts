/**
 * A warning about a backup that was stored but looks wrong: not a failure
 * (nothing was lost), yet worth a person's look. The classic case is a dump
 * of an empty or the wrong database, which still "succeeds".
 */
export interface Warning {
  /** `SizeDrop`: much smaller than the service's recent backups (see history/sizeDrop.ts). */
  readonly kind: "SizeDrop"
  readonly service: string
  /** The backup it is about. */
  readonly backupId: string
  /** One line for a person, with the figures. */
  readonly message: string
  /** The same figures for programs (bytes, ratios, counts). */
  readonly figures: Readonly<Record<string, number>>
}
