/** Cron expressions (5 fields, as crontab) and time zones, on Effect's Cron. */
import { Cron, Result } from "effect"

let canonicalZones: ReadonlySet<string> | undefined

/**
 * True for an IANA time zone. Every config load checks `schedule_timezone`,
 * and the first Intl.DateTimeFormat of a process loads ICU's locale data:
 * ~8 MiB of RSS that a backup to stdout or a folder has no use for. The
 * list of canonical zones costs ~0.25 MiB; only aliases (`US/Eastern`) take
 * the DateTimeFormat path.
 */
export const isTimeZone = (zone: string): boolean => {
  if (zone === "UTC" || zone === "Etc/UTC") return true
  canonicalZones ??= new Set(Intl.supportedValuesOf("timeZone"))
  if (canonicalZones.has(zone)) return true
  try {
    new Intl.DateTimeFormat("en-US", { timeZone: zone })
    return true
  } catch {
    return false
  }
}

/** True for a valid 5-field cron expression (Effect's Cron also takes 6, with seconds: not here). */
export const isCron = (text: string): boolean => text.trim().split(/\s+/).length === 5 && Result.isSuccess(Cron.parse(text))

export const parseCron = (text: string, timeZone: string): Cron.Cron => Cron.parseUnsafe(text, timeZone)
