/**
 * Which backups a retention policy keeps: restic's `forget` rules, as restic
 * implements them (`ApplyPolicy` in restic's internal/data/snapshot_policy.go),
 * checked against restic's own expected results in
 * test/retention/policy.test.ts.
 *
 * The backups are taken newest first. Each count rule (last, hourly, daily,
 * weekly, monthly, yearly) keeps the newest backup of each of the last N
 * periods that have one (for `last`: the N newest backups), and also the
 * oldest backup of all while the rule still has counts left, so a young
 * history is kept whole. A count of -1 keeps every period. `within` keeps
 * every backup newer than the newest one (not in the future) minus the
 * duration, calendar-wise. A backup kept by any rule is kept.
 *
 * Differences from restic, all deliberate (docs/RETENTION.md):
 * - times are the backup ID's, in UTC, to the minute (restic uses each
 *   snapshot's own time zone, to the nanosecond);
 * - no tag rules and no `within-hourly` … `within-yearly` rules;
 * - an empty policy is refused instead of removing everything
 *   (`policyProblem`), and the newest backup is kept even if no rule
 *   would keep it (it always is, with any rule restic has: belt and braces).
 */

/** A calendar span, as restic writes it: `1y2m3d4h` (m is months). */
export interface CalendarSpan {
  readonly years: number
  readonly months: number
  readonly days: number
  readonly hours: number
}

export interface RetentionPolicy {
  /** The N newest backups; -1 keeps all. */
  readonly keepLast?: number | undefined
  /** The newest backup of each of the last N hours that have one; -1: of every hour. */
  readonly keepHourly?: number | undefined
  readonly keepDaily?: number | undefined
  /** Weeks are ISO 8601 weeks (Monday to Sunday). */
  readonly keepWeekly?: number | undefined
  readonly keepMonthly?: number | undefined
  readonly keepYearly?: number | undefined
  /** Every backup within this span of the newest one. */
  readonly keepWithin?: CalendarSpan | undefined
}

export type KeepRule = "last" | "hourly" | "daily" | "weekly" | "monthly" | "yearly"

export const keepRules: ReadonlyArray<KeepRule> = ["last", "hourly", "daily", "weekly", "monthly", "yearly"]

const countOf = (policy: RetentionPolicy, rule: KeepRule): number | undefined => {
  switch (rule) {
    case "last":
      return policy.keepLast
    case "hourly":
      return policy.keepHourly
    case "daily":
      return policy.keepDaily
    case "weekly":
      return policy.keepWeekly
    case "monthly":
      return policy.keepMonthly
    case "yearly":
      return policy.keepYearly
  }
}

/** `1y2m3d4h` (units in any order, each once, as restic reads them) → the span; undefined unless it is one with something in it. */
export const parseCalendarSpan = (text: string): CalendarSpan | undefined => {
  const trimmed = text.trim()
  if (!/^(\d+[ymdh])+$/.test(trimmed)) return undefined
  const amounts: Record<string, number> = {}
  for (const [, amount, unit] of trimmed.matchAll(/(\d+)([ymdh])/g)) {
    if (amounts[unit!] !== undefined) return undefined
    amounts[unit!] = Number(amount)
  }
  const span = { years: amounts.y ?? 0, months: amounts.m ?? 0, days: amounts.d ?? 0, hours: amounts.h ?? 0 }
  return span.years + span.months + span.days + span.hours > 0 ? span : undefined
}

export const formatCalendarSpan = (span: CalendarSpan): string =>
  [[span.years, "y"], [span.months, "m"], [span.days, "d"], [span.hours, "h"]]
    .filter(([amount]) => amount !== 0)
    .map(([amount, unit]) => `${amount}${unit}`)
    .join("")

/** Why `policy` cannot be applied (no rule at all, a bad count), or undefined. */
export const policyProblem = (policy: RetentionPolicy): string | undefined => {
  for (const rule of keepRules) {
    const count = countOf(policy, rule)
    if (count !== undefined && !(Number.isInteger(count) && count >= -1)) {
      return `keep ${rule} must be a whole number, or -1 for all (got ${count})`
    }
  }
  const counts = keepRules.some((rule) => (countOf(policy, rule) ?? 0) !== 0)
  return counts || policy.keepWithin !== undefined
    ? undefined
    : "no keep rule is set: give at least one of keep last, hourly, daily, weekly, monthly, yearly or within (an empty policy would remove every backup)"
}

/** `1 of 7 daily`-style description, for plans and logs. */
export const describePolicy = (policy: RetentionPolicy): string => {
  const parts = keepRules.flatMap((rule) => {
    const count = countOf(policy, rule) ?? 0
    return count === 0 ? [] : [count === -1 ? `all ${rule}` : `${count} ${rule}`]
  })
  if (policy.keepWithin !== undefined) parts.push(`within ${formatCalendarSpan(policy.keepWithin)}`)
  return parts.length === 0 ? "nothing" : `keep ${parts.join(", ")}`
}

// ---- periods: each rule's bucket of a time, in UTC ----

const isoWeek = (time: Date): number => {
  // the Thursday of the time's week decides its ISO year
  const day = new Date(Date.UTC(time.getUTCFullYear(), time.getUTCMonth(), time.getUTCDate()))
  const weekday = day.getUTCDay() === 0 ? 7 : day.getUTCDay()
  day.setUTCDate(day.getUTCDate() + 4 - weekday)
  const year = day.getUTCFullYear()
  const week = Math.floor((day.getTime() - Date.UTC(year, 0, 1)) / 86_400_000 / 7) + 1
  return year * 100 + week
}

const periodOf = (rule: KeepRule, time: Date, position: number): number => {
  const year = time.getUTCFullYear()
  const month = time.getUTCMonth() + 1
  switch (rule) {
    case "last":
      return position
    case "hourly":
      return year * 1_000_000 + month * 10_000 + time.getUTCDate() * 100 + time.getUTCHours()
    case "daily":
      return year * 10_000 + month * 100 + time.getUTCDate()
    case "weekly":
      return isoWeek(time)
    case "monthly":
      return year * 100 + month
    case "yearly":
      return year
  }
}

/** `time` less `span`, the calendar way (Go's AddDate: 31 March less a month is 3 March). */
const minusSpan = (time: Date, span: CalendarSpan): Date =>
  new Date(
    Date.UTC(
      time.getUTCFullYear() - span.years,
      time.getUTCMonth() - span.months,
      time.getUTCDate() - span.days,
      time.getUTCHours(),
      time.getUTCMinutes(),
      time.getUTCSeconds(),
      time.getUTCMilliseconds()
    ) - span.hours * 3_600_000
  )

// ---- the rules applied ----

export interface Dated {
  readonly time: Date
}

export interface Kept<A> {
  readonly item: A
  /** Why: `daily`, `oldest monthly`, `within 30d`, `newest` (the safety rule). */
  readonly reasons: ReadonlyArray<string>
}

export interface PolicyResult<A> {
  /** Newest first. */
  readonly keep: ReadonlyArray<Kept<A>>
  /** Newest first. */
  readonly remove: ReadonlyArray<A>
}

/**
 * Applies `policy` to one group of backups (one service's, or one host and
 * task's). `items` may come in any order; backups with the same time keep
 * the given order (as restic's stable sort), so pass same-minute backups
 * newest first. `now` only matters for `within`: backups from the future
 * do not count as the newest. Call `policyProblem` first: an empty policy
 * keeps only the newest backup here.
 */
export const applyPolicy = <A extends Dated>(items: ReadonlyArray<A>, policy: RetentionPolicy, now: Date): PolicyResult<A> => {
  const list = [...items].sort((a, b) => b.time.getTime() - a.time.getTime())
  const buckets = keepRules.map((rule) => ({ rule, count: countOf(policy, rule) ?? 0, last: Number.NaN }))
  let latest: number | undefined
  for (const item of list) {
    const t = item.time.getTime()
    if (t < now.getTime() && (latest === undefined || t > latest)) latest = t
  }
  const withinSince = policy.keepWithin === undefined
    ? undefined
    : latest === undefined
    ? Number.NEGATIVE_INFINITY
    : minusSpan(new Date(latest), policy.keepWithin).getTime()

  const keep: Array<Kept<A>> = []
  const remove: Array<A> = []
  list.forEach((item, position) => {
    const reasons: Array<string> = []
    if (withinSince !== undefined && item.time.getTime() > withinSince) reasons.push(`within ${formatCalendarSpan(policy.keepWithin!)}`)
    const oldest = position === list.length - 1
    for (const bucket of buckets) {
      if (bucket.count === 0) continue
      const period = periodOf(bucket.rule, item.time, position)
      // a new period, or the oldest backup of all while the rule has counts left
      if (period !== bucket.last || oldest) {
        reasons.push(period === bucket.last ? `oldest ${bucket.rule}` : bucket.rule)
        bucket.last = period
        if (bucket.count > 0) bucket.count--
      }
    }
    if (position === 0 && reasons.length === 0) reasons.push("newest")
    if (reasons.length > 0) keep.push({ item, reasons })
    else remove.push(item)
  })
  return { keep, remove }
}
