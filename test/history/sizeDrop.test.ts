/** The size-drop check (src/history/sizeDrop.ts): the median of the recent sizes, the ratio, too little history. */
import { describe, expect, it } from "vitest"
import { median, sizeDrop } from "../../src/history/sizeDrop.ts"

const backup = (bytes: number) => ({ service: "db", backupId: "db/2026-12-07 0100Z_h_t.zst.age", bytes })

describe("sizeDrop", () => {
  it("median of odd and even counts", () => {
    expect(median([3, 1, 2])).toBe(2)
    expect(median([4, 1, 3, 2])).toBe(2.5)
  })

  it("warns below half the median of the last 7, with the figures", () => {
    const warning = sizeDrop(backup(400), [9_000, 1_000, 1_000, 1_100, 900, 1_050, 950, 1_000])
    expect(warning?.kind).toBe("SizeDrop")
    expect(warning?.figures).toEqual({ size_bytes: 400, median_bytes: 1_000, ratio: 0.5, window: 7 })
    expect(warning?.message).toMatch(/is 400 B, 40% of the median 1000 B of the last 7 backups \(warned below 50%\)/)
  })

  it("normal variation, one odd backup in the history and growth do not warn", () => {
    expect(sizeDrop(backup(600), [1_000, 1_200, 800, 1_100, 900])).toBeUndefined()
    expect(sizeDrop(backup(900), [1_000, 1_000, 10, 1_000, 1_000])).toBeUndefined()
    expect(sizeDrop(backup(50_000), [1_000, 1_000, 1_000])).toBeUndefined()
  })

  it("fewer than three earlier backups say nothing; the ratio and window are the caller's", () => {
    expect(sizeDrop(backup(1), [1_000, 1_000])).toBeUndefined()
    expect(sizeDrop(backup(850), [1_000, 1_000, 1_000], { ratio: 0.9, window: 3 })?.figures.ratio).toBe(0.9)
    // only the last `window` count: an old, much larger era is forgotten
    expect(sizeDrop(backup(400), [10_000, 10_000, 10_000, 500, 500, 500], { ratio: 0.5, window: 3 })).toBeUndefined()
  })
})
