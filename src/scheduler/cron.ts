/** Cron expressions (5 fields, as crontab) and time zones, on Effect's Cron. */
import { Cron, Result } from "effect"

export const isTimeZone = (zone: string): boolean => {
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
