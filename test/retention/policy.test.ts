/**
 * The retention rules (src/retention/policy.ts) against restic's own
 * expected results: every count and `within` policy of restic's
 * TestApplyPolicy, over its list of 103 snapshots, must keep the same
 * snapshots for the same reasons (restic's "daily snapshot" is our
 * "daily"). Then what restic leaves to the caller: bad and empty policies,
 * spans, and the newest backup always kept.
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { describe, expect, it } from "vitest"
import {
  applyPolicy,
  describePolicy,
  formatCalendarSpan,
  parseCalendarSpan,
  policyProblem,
  type RetentionPolicy
} from "../../src/retention/policy.ts"

interface GoldenCase {
  readonly golden: string
  readonly policy: Record<string, number | string>
  readonly keep: ReadonlyArray<readonly [string, ReadonlyArray<string>]>
}

const fixture = JSON.parse(fs.readFileSync(path.join(import.meta.dirname, "fixtures/restic-policy.json"), "utf8")) as {
  readonly snapshots: ReadonlyArray<string>
  readonly cases: ReadonlyArray<GoldenCase>
}

const toPolicy = (raw: GoldenCase["policy"]): RetentionPolicy =>
  Object.fromEntries(Object.entries(raw).map(([key, value]) => [key, typeof value === "string" ? parseCalendarSpan(value) : value]))

/** restic's reason texts in ours. */
const ours = (match: string) => match.replace(/ snapshot$/, "")

describe("retention policy: restic's golden results", () => {
  const snapshots = fixture.snapshots.map((time, index) => ({ index, time: new Date(time) }))
  const later = new Date("2030-01-01T00:00:00Z")

  it.each(fixture.cases.map((c) => [c.golden, c] as const))("%s", (_, c) => {
    const policy = toPolicy(c.policy)
    expect(policyProblem(policy)).toBeUndefined()
    const result = applyPolicy(snapshots, policy, later)
    expect(result.keep.map((kept) => [kept.item.time.toISOString(), kept.reasons])).toEqual(
      c.keep.map(([time, matches]) => [new Date(time).toISOString(), matches.map(ours)])
    )
    expect(result.keep.length + result.remove.length).toBe(snapshots.length)
  })

  it("covers every count rule, -1, the oldest-backup rule and calendar spans", () => {
    const keys = new Set(fixture.cases.flatMap((c) => Object.keys(c.policy)))
    expect([...keys].sort()).toEqual(["keepDaily", "keepHourly", "keepLast", "keepMonthly", "keepWeekly", "keepWithin", "keepYearly"])
    const reasons = new Set(fixture.cases.flatMap((c) => c.keep.flatMap(([, matches]) => matches)))
    expect([...reasons].some((reason) => reason.startsWith("oldest "))).toBe(true)
    expect(fixture.cases.some((c) => Object.values(c.policy).includes(-1))).toBe(true)
  })
})

describe("retention policy: what ubackup adds", () => {
  const at = (iso: string) => ({ time: new Date(iso) })

  it("an empty policy or a bad count is refused, naming the rule", () => {
    expect(policyProblem({})).toMatch(/no keep rule is set/)
    expect(policyProblem({ keepDaily: 0 })).toMatch(/no keep rule is set/)
    expect(policyProblem({ keepDaily: 1.5 })).toMatch(/keep daily must be a whole number/)
    expect(policyProblem({ keepWeekly: -2 })).toMatch(/keep weekly/)
    expect(policyProblem({ keepLast: -1 })).toBeUndefined()
  })

  it("the newest backup is kept even by a rule that keeps nothing else (a `within` that reaches nothing: all in the future)", () => {
    const now = new Date("2026-01-01T00:00:00Z")
    const future = [at("2026-02-01T00:00:00Z"), at("2026-03-01T00:00:00Z")]
    // everything is in the future, so `within` counts from the start of time and keeps both, as restic does
    expect(applyPolicy(future, { keepWithin: parseCalendarSpan("1d")! }, now).remove).toEqual([])
    // with no rule at all (policyProblem refuses that first), the newest is still kept
    const result = applyPolicy([at("2025-01-01T00:00:00Z"), at("2025-06-01T00:00:00Z")], {}, now)
    expect(result.keep.map((kept) => [kept.item.time.toISOString(), kept.reasons])).toEqual([["2025-06-01T00:00:00.000Z", ["newest"]]])
  })

  it("ISO weeks: a week runs Monday to Sunday, across the new year", () => {
    // Sun 2026-01-04 ends ISO week 1 of 2026, which began on Mon 2025-12-29; Mon 2026-01-05 starts week 2
    const backups = ["2025-12-28T12:00:00Z", "2025-12-29T12:00:00Z", "2026-01-04T12:00:00Z", "2026-01-05T12:00:00Z"].map(at)
    const kept = applyPolicy(backups, { keepWeekly: 3 }, new Date("2027-01-01T00:00:00Z")).keep.map((k) => k.item.time.toISOString().slice(0, 10))
    expect(kept).toEqual(["2026-01-05", "2026-01-04", "2025-12-28"])
  })

  it("spans read restic's way (m is months, any order) and print back", () => {
    expect(parseCalendarSpan("1y2m3d4h")).toEqual({ years: 1, months: 2, days: 3, hours: 4 })
    expect(parseCalendarSpan("1d1y")).toEqual({ years: 1, months: 0, days: 1, hours: 0 })
    expect(parseCalendarSpan("30d")).toEqual({ years: 0, months: 0, days: 30, hours: 0 })
    for (const bad of ["", "0d", "1w", "1d1d", "d", "1.5d", "-1d"]) expect(parseCalendarSpan(bad), bad).toBeUndefined()
    expect(formatCalendarSpan(parseCalendarSpan("2m1y")!)).toBe("1y2m")
    expect(describePolicy({ keepDaily: 7, keepMonthly: -1, keepWithin: parseCalendarSpan("30d") })).toBe("keep 7 daily, all monthly, within 30d")
  })
})
