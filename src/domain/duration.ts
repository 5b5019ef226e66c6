/**
 * Durations as people write them in labels and configs, Go-style: `90s`,
 * `5m`, `1h30m`, `2d`, `500ms`. A bare number means seconds.
 */
import { Schema } from "effect"

const units: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }

/** Milliseconds, or undefined when `text` is not a positive duration. */
export const parseDuration = (text: string): number | undefined => {
  const trimmed = text.trim()
  if (/^\d+(\.\d+)?$/.test(trimmed)) return Number(trimmed) * 1000 || undefined
  if (!/^(\d+(\.\d+)?(ms|s|m|h|d))+$/.test(trimmed)) return undefined
  let total = 0
  for (const [, amount, unit] of trimmed.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h|d)/g)) total += Number(amount) * units[unit!]!
  return total > 0 ? total : undefined
}

export const formatDuration = (ms: number): string =>
  ms < 1000 ? `${Math.round(ms)}ms` : ms < 60_000 ? `${(ms / 1000).toFixed(1)}s` : `${Math.floor(ms / 60_000)}m${Math.round((ms % 60_000) / 1000)}s`

/** A duration as the config writes it. */
export const DurationText = Schema.String.check(
  Schema.makeFilter((text: string) => parseDuration(text) !== undefined || "Expected a duration such as 90s, 5m or 1h30m")
)
