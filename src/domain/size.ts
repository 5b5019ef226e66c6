/**
 * Sizes as people write them in configs and labels: `500MB`, `10GiB`,
 * `1.5T`, or a plain number of bytes. Units are decimal (kB, MB, GB, TB)
 * or binary (KiB, MiB, GiB, TiB); a bare K, M, G, T is binary, as Docker's.
 */
import { Schema } from "effect"

const units: Record<string, number> = {
  "": 1,
  b: 1,
  kb: 1e3,
  mb: 1e6,
  gb: 1e9,
  tb: 1e12,
  k: 1024,
  m: 1024 ** 2,
  g: 1024 ** 3,
  t: 1024 ** 4,
  kib: 1024,
  mib: 1024 ** 2,
  gib: 1024 ** 3,
  tib: 1024 ** 4
}

/** Bytes, or undefined when `value` is not a positive size. */
export const parseSize = (value: number | string): number | undefined => {
  if (typeof value === "number") return Number.isSafeInteger(value) && value > 0 ? value : undefined
  const match = /^\s*(\d+(?:\.\d+)?)\s*([A-Za-z]*)\s*$/.exec(value)
  const unit = match === null ? undefined : units[match[2]!.toLowerCase()]
  if (match === null || unit === undefined) return undefined
  const bytes = Math.floor(Number(match[1]) * unit)
  return Number.isSafeInteger(bytes) && bytes > 0 ? bytes : undefined
}

/** Bytes, or a size such as `500MB` or `10GiB`. */
export const SizeText = Schema.Union([Schema.Number, Schema.String]).check(
  Schema.makeFilter((value: number | string) => parseSize(value) !== undefined || "Expected a number of bytes or a size such as 500MB or 10GiB")
)

/** `1.5 MiB`, `12 B`: binary units, one decimal. */
export const formatBytes = (bytes: number): string => {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"]
  let value = bytes
  let unit = 0
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024
    unit++
  }
  return unit === 0 ? `${bytes} B` : `${value.toFixed(1)} ${units[unit]}`
}

/**
 * Bytes per second from a rate as people write it: `20MiB/s`, `500kB/s`
 * (the units of `parseSize`), or a bare number of KiB/s as restic's
 * `--limit-upload` takes it. Undefined when it is not a positive rate.
 */
export const parseRate = (value: number | string): number | undefined => {
  if (typeof value === "number") return value > 0 && Number.isFinite(value) ? value * 1024 : undefined
  const text = value.trim()
  if (/^\d+(\.\d+)?$/.test(text)) return parseRate(Number(text))
  const match = /^(.+?)\s*\/\s*s$/.exec(text)
  return match === null ? undefined : parseSize(match[1]!)
}

/** A rate as the config writes it. */
export const RateText = Schema.Union([Schema.Number, Schema.String]).check(
  Schema.makeFilter((value: number | string) =>
    parseRate(value) !== undefined || "Expected a rate such as 20MiB/s or 500kB/s (a bare number is KiB/s, as restic's --limit-upload)"
  )
)
