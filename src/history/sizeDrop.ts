/**
 * The size-drop check: a backup much smaller than the service's recent ones
 * is suspicious, the classic silent failure being a dump of an empty or the
 * wrong database that still "succeeds". A backup is compared with the
 * median of the last `window` stored sizes, which one odd backup does not
 * move, and flagged below `ratio` times it. Fewer than `minimumHistory`
 * earlier backups say nothing yet.
 */
import { formatBytes } from "../domain/size.ts"
import type { Warning } from "../domain/Warning.ts"

export interface SizeDropOptions {
  /** Flag below this fraction of the median; default 0.5. */
  readonly ratio: number
  /** How many of the latest earlier backups the median is over; default 7. */
  readonly window: number
}

export const defaultSizeDrop: SizeDropOptions = { ratio: 0.5, window: 7 }

/** Below this many earlier backups there is no norm to compare with. */
export const minimumHistory = 3

export const median = (values: ReadonlyArray<number>): number => {
  const sorted = [...values].sort((a, b) => a - b)
  const middle = Math.floor(sorted.length / 2)
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2
}

/** The warning for a backup of `bytes` after `earlier` sizes (oldest first), if it dropped. */
export const sizeDrop = (
  backup: { readonly service: string; readonly backupId: string; readonly bytes: number },
  earlier: ReadonlyArray<number>,
  options: SizeDropOptions = defaultSizeDrop
): Warning | undefined => {
  const recent = earlier.slice(-options.window)
  if (recent.length < Math.min(minimumHistory, options.window)) return undefined
  const norm = median(recent)
  if (!(backup.bytes < options.ratio * norm)) return undefined
  const percent = norm === 0 ? 0 : Math.round((backup.bytes / norm) * 100)
  return {
    kind: "SizeDrop",
    service: backup.service,
    backupId: backup.backupId,
    message: `${backup.backupId} is ${formatBytes(backup.bytes)}, ${percent}% of the median ${formatBytes(norm)} of the ` +
      `last ${recent.length} backups (warned below ${Math.round(options.ratio * 100)}%): was the right thing backed up?`,
    figures: { size_bytes: backup.bytes, median_bytes: norm, ratio: options.ratio, window: recent.length }
  }
}
