/**
 * BackupHistory (src/history/BackupHistory.ts): the state file survives a
 * restart, is written atomically with mode 0600, keeps the newest entries,
 * takes concurrent records, and a missing or corrupt one starts empty.
 */
import { Effect } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterEach, beforeEach, describe, expect, it } from "vitest"
import { BackupHistory, keptPerService } from "../../src/history/BackupHistory.ts"

const entry = (n: number) => ({ id: `db/${n}`, at: n * 1000, bytes: n * 10, durationMs: n })

describe("BackupHistory.layerFile", () => {
  let dir: string
  let file: string
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "ubackup-history-"))
    file = path.join(dir, "history.json")
  })
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }))

  const withHistory = <A>(use: (history: BackupHistory["Service"]) => Effect.Effect<A>) =>
    Effect.runPromise(Effect.flatMap(BackupHistory, use).pipe(Effect.provide(BackupHistory.layerFile(file))))

  it("records survive a restart; each record returns the entries before it", async () => {
    expect(await withHistory((history) => history.record("db", entry(1)))).toEqual([])
    expect(await withHistory((history) => history.record("db", entry(2)))).toEqual([entry(1)])
    expect(await withHistory((history) => history.entries("db"))).toEqual([entry(1), entry(2)])
    expect((fs.statSync(file).mode & 0o777).toString(8)).toBe("600")
    expect(fs.readdirSync(dir)).toEqual(["history.json"])
  })

  it("keeps the newest entries per service, and concurrent records all land", async () => {
    await withHistory((history) =>
      Effect.forEach(Array.from({ length: keptPerService + 5 }, (_, i) => i + 1), (n) => history.record(n % 2 ? "a" : "b", entry(n)), {
        concurrency: "unbounded"
      }))
    const saved = JSON.parse(fs.readFileSync(file, "utf8"))
    expect(saved.services.a.length + saved.services.b.length).toBe(keptPerService + 5)
    await withHistory((history) => Effect.forEach(Array.from({ length: keptPerService }, (_, i) => 100 + i), (n) => history.record("a", entry(n))))
    const entries = await withHistory((history) => history.entries("a"))
    expect(entries).toHaveLength(keptPerService)
    expect(entries.at(-1)).toEqual(entry(100 + keptPerService - 1))
  })

  it("a corrupt file or one of another version starts an empty history, rewritten on the next record", async () => {
    for (const text of ["{ not json", JSON.stringify({ version: 2, services: {} }), JSON.stringify({ version: 1, services: { db: [{ id: 1 }] } })]) {
      fs.writeFileSync(file, text)
      expect(await withHistory((history) => history.record("db", entry(1)))).toEqual([])
      expect(JSON.parse(fs.readFileSync(file, "utf8")).services.db).toEqual([{ id: "db/1", at: 1000, bytes: 10, duration_ms: 1 }])
    }
  })

  it("a file that cannot be written is logged, and the record still returns", async () => {
    fs.writeFileSync(path.join(dir, "a-file"), "")
    file = path.join(dir, "a-file", "history.json")
    expect(await withHistory((history) => history.record("db", entry(1)))).toEqual([])
    expect(fs.existsSync(file)).toBe(false)
  })
})
