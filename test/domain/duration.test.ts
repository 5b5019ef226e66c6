import { describe, expect, it } from "vitest"
import { parseDuration } from "../../src/domain/duration.ts"

describe("parseDuration", () => {
  it.each([
    ["90s", 90_000],
    ["5m", 300_000],
    ["1h30m", 5_400_000],
    ["2d", 172_800_000],
    ["500ms", 500],
    ["1.5h", 5_400_000],
    ["45", 45_000]
  ])("%s", (text, ms) => expect(parseDuration(text)).toBe(ms))

  it.each(["", "0", "0s", "5 minutes", "-5s", "5x", "m5", "1h 30m"])("rejects %j", (text) => {
    expect(parseDuration(text)).toBeUndefined()
  })
})
