/** Time zones and wall-clock minutes, the pieces the scheduler matches crons with. */
import { describe, expect, it } from "vitest"
import { isCron, isTimeZone } from "../../src/domain/cron.ts"
import { wallMinute } from "../../src/scheduler/scheduler.ts"

describe("isTimeZone", () => {
  it("takes UTC, canonical IANA zones and their aliases; refuses the rest", () => {
    for (const zone of ["UTC", "Etc/UTC", "Europe/Helsinki", "America/New_York", "US/Eastern"]) expect(isTimeZone(zone), zone).toBe(true)
    for (const zone of ["Mars/Olympus", "", "Europe/", "utc+2"]) expect(isTimeZone(zone), zone).toBe(false)
  })
})

describe("isCron", () => {
  it("takes 5 fields only", () => {
    expect(isCron("0 1 * * *")).toBe(true)
    expect(isCron("*/15 2-5 * * 1-5")).toBe(true)
    expect(isCron("0 0 1 * * *")).toBe(false)
    expect(isCron("61 * * * *")).toBe(false)
  })
})

describe("wallMinute", () => {
  const wall = (iso: string, zone: string) => new Date(wallMinute(Date.parse(iso), zone)).toISOString().slice(0, 16)

  it("is the zone's wall-clock time, written as if it were UTC", () => {
    expect(wall("2026-07-01T00:00:30Z", "Europe/Helsinki")).toBe("2026-07-01T03:00")
    expect(wall("2026-07-01T00:00:30Z", "UTC")).toBe("2026-07-01T00:00")
  })

  it("repeats an hour when clocks go back and skips one when they go forward", () => {
    // New York 2025-11-02: 05:30Z and 06:30Z are both 01:30
    expect(wall("2025-11-02T05:30:00Z", "America/New_York")).toBe("2025-11-02T01:30")
    expect(wall("2025-11-02T06:30:00Z", "America/New_York")).toBe("2025-11-02T01:30")
    // New York 2025-03-09: 06:59Z is 01:59, 07:00Z is 03:00
    expect(wall("2025-03-09T06:59:00Z", "America/New_York")).toBe("2025-03-09T01:59")
    expect(wall("2025-03-09T07:00:00Z", "America/New_York")).toBe("2025-03-09T03:00")
  })
})
