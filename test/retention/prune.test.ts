/**
 * Pruning (src/retention/prune.ts) over a synthetic history in the memory
 * storage: 400 days of daily backups, two days of hourly ones, same-minute
 * repeats (~2) and a second host. For several policies, the kept set must
 * equal the one computed here independently, the way restic's rules read
 * (per period, newest first, the oldest while counts are left). Then the
 * same history on a local folder and on RGW, through their own Storage.
 * The CLI on both: test/cli/prune.test.ts.
 */
import { CreateBucketCommand, PutObjectCommand } from "@aws-sdk/client-s3"
import { Effect, Layer, Stream } from "effect"
import * as crypto from "node:crypto"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll, describe, expect, inject, it } from "vitest"
import { makeLocalStorage } from "../../src/storage/local.ts"
import { allKeys, rgwCommands, testS3Client, testS3Storage } from "../harness/rgw.ts"
import { requireCommands } from "../harness/tools.ts"
import { formatTimestamp, parseBackupId, withSequence } from "../../src/domain/names.ts"
import { layerMemory, type MemoryObject } from "../../src/storage/memory.ts"
import { parseCalendarSpan, type RetentionPolicy } from "../../src/retention/policy.ts"
import { prune } from "../../src/retention/prune.ts"
import { Storage } from "../../src/storage/Storage.ts"

const hour = 3_600_000
const day = 24 * hour
const newest = Date.UTC(2026, 11, 7, 1, 0)

const idAt = (time: number, host = "node1", sequence = 1) =>
  withSequence(`db/${formatTimestamp(new Date(time))}_${host}_db.sql.zst.age`, sequence)

/** 400 daily backups at 01:00, hourly ones over the last two days, two same-minute repeats, and host node2's three old ones. */
const history = (): Array<string> => {
  const ids = new Set<string>()
  for (let i = 0; i < 400; i++) ids.add(idAt(newest - i * day))
  for (let i = 1; i < 48; i++) ids.add(idAt(newest - i * hour))
  ids.add(idAt(newest - 3 * day, "node1", 2))
  ids.add(idAt(newest - 200 * day, "node1", 2))
  for (const i of [500, 501, 502]) ids.add(idAt(newest - i * day, "node2"))
  return [...ids]
}

// ---- restic's rules, written out another way: periods as text, weeks by their Monday ----

const mondayOf = (time: Date) => new Date(time.getTime() - ((time.getUTCDay() + 6) % 7) * day).toISOString().slice(0, 10)

const periodKeys: Record<string, (time: Date, index: number) => string> = {
  keepLast: (_, index) => String(index),
  keepHourly: (time) => time.toISOString().slice(0, 13),
  keepDaily: (time) => time.toISOString().slice(0, 10),
  keepWeekly: mondayOf,
  keepMonthly: (time) => time.toISOString().slice(0, 7),
  keepYearly: (time) => time.toISOString().slice(0, 4)
}

const expectedKept = (ids: ReadonlyArray<string>, policy: RetentionPolicy): Set<string> => {
  const series = new Map<string, Array<{ id: string; time: Date; sequence: number }>>()
  for (const id of ids) {
    const parsed = parseBackupId(id)!
    series.set(parsed.hostname, [...(series.get(parsed.hostname) ?? []), { id, time: parsed.time, sequence: parsed.sequence }])
  }
  const kept = new Set<string>()
  for (const backups of series.values()) {
    const list = backups.sort((a, b) => b.time.getTime() - a.time.getTime() || b.sequence - a.sequence)
    for (const [rule, key] of Object.entries(periodKeys)) {
      const count = policy[rule as keyof RetentionPolicy] as number | undefined
      if (count === undefined || count === 0) continue
      const seen = new Set<string>()
      list.forEach((backup, index) => {
        const period = key(backup.time, index)
        if (!seen.has(period) && (count === -1 || seen.size < count)) {
          seen.add(period)
          kept.add(backup.id)
        }
      })
      if (count === -1 || seen.size < count) kept.add(list[list.length - 1]!.id)
    }
    if (policy.keepWithin !== undefined) {
      const latest = list[0]!.time
      const span = policy.keepWithin
      const since = Date.UTC(
        latest.getUTCFullYear() - span.years,
        latest.getUTCMonth() - span.months,
        latest.getUTCDate() - span.days,
        latest.getUTCHours(),
        latest.getUTCMinutes()
      ) - span.hours * hour
      for (const backup of list) if (backup.time.getTime() > since) kept.add(backup.id)
    }
  }
  return kept
}

const withHistory = async (ids: ReadonlyArray<string>) => {
  const objects = new Map<string, MemoryObject>()
  await Effect.runPromise(
    Effect.gen(function*() {
      const storage = yield* Storage
      yield* Effect.forEach(ids, (id) => storage.put(id, Stream.make(Buffer.from(id))), { discard: true })
    }).pipe(Effect.provide(layerMemory(objects)))
  )
  return objects
}

const run = <A, E>(objects: Map<string, MemoryObject>, effect: Effect.Effect<A, E, Storage>) =>
  Effect.runPromise(effect.pipe(Effect.provide(layerMemory(objects))))

const policies: ReadonlyArray<readonly [string, RetentionPolicy]> = [
  ["7 daily, 4 weekly, 12 monthly, all yearly", { keepDaily: 7, keepWeekly: 4, keepMonthly: 12, keepYearly: -1 }],
  ["last 10", { keepLast: 10 }],
  ["24 hourly, 7 daily", { keepHourly: 24, keepDaily: 7 }],
  ["within 30d", { keepWithin: parseCalendarSpan("30d")! }],
  ["6 monthly, within 2m", { keepMonthly: 6, keepWithin: parseCalendarSpan("2m")! }],
  ["500 daily (more than there are: the oldest stays too)", { keepDaily: 500 }],
  ["2 weekly, 3 yearly", { keepWeekly: 2, keepYearly: 3 }]
]

describe("prune over 400 days of backups", () => {
  const ids = history()

  it.each(policies)("%s: keeps what restic's rules keep, deletes the rest, the newest of each host always", async (_, policy) => {
    const objects = await withHistory(ids)
    const result = await run(objects, prune({ policyFor: () => policy, dryRun: false }))
    const expected = expectedKept(ids, policy)
    expect(new Set(objects.keys())).toEqual(expected)
    expect(result.removed.length).toBe(ids.length - expected.size)
    expect(result.failed).toEqual([])
    expect(objects.has(idAt(newest))).toBe(true)
    expect(objects.has(idAt(newest - 500 * day, "node2"))).toBe(true)
    // the plan says why each was kept
    const plan = result.services[0]!
    expect(plan.keep.every((backup) => backup.reasons.length > 0)).toBe(true)
    expect(plan.keep.length + plan.remove.length).toBe(ids.length)
  })

  it("--dry-run plans the same and deletes nothing", async () => {
    const objects = await withHistory(ids)
    const policy = policies[0]![1]
    const result = await run(objects, prune({ policyFor: () => policy, dryRun: true }))
    expect(objects.size).toBe(ids.length)
    expect(result.removed).toEqual([])
    expect(new Set(result.services[0]!.keep.map((backup) => backup.id))).toEqual(expectedKept(ids, policy))
  })

  it("names that are not backup IDs are left alone; only the services asked for are pruned", async () => {
    const objects = await withHistory([...ids, "web/2020-01-01 0100Z_node1_web.tar.zst.age", "web/2020-01-02 0100Z_node1_web.tar.zst.age"])
    objects.set("db/README.txt", { bytes: Buffer.from("notes"), modified: new Date() })
    const result = await run(objects, prune({ services: ["db"], policyFor: () => ({ keepLast: 1 }), dryRun: false }))
    expect(result.services.map((plan) => plan.service)).toEqual(["db"])
    expect(result.services[0]!.ignored).toEqual(["db/README.txt"])
    expect([...objects.keys()].sort()).toEqual(
      ["db/README.txt", idAt(newest), idAt(newest - 500 * day, "node2"), "web/2020-01-01 0100Z_node1_web.tar.zst.age", "web/2020-01-02 0100Z_node1_web.tar.zst.age"].sort()
    )
  })

  it("an empty or bad policy for any service stops the prune before anything is deleted", async () => {
    const objects = await withHistory([...ids, "web/2020-01-01 0100Z_node1_web.tar.zst.age"])
    const failure = await run(objects, Effect.flip(prune({ policyFor: (service) => (service === "web" ? {} : { keepLast: 1 }), dryRun: false })))
    expect(failure).toMatchObject({ _tag: "RetentionError", service: "web" })
    expect(failure.message).toMatch(/retention for web: no keep rule is set/)
    expect(objects.size).toBe(ids.length + 1)
  })
})

const s3 = inject("s3")
const s3Ready = requireCommands("prune on RGW", ...rgwCommands) && s3 !== null
const dir = fs.mkdtempSync(path.join(os.tmpdir(), "ubackup-prune-lib-"))
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }))

interface RealBackend {
  readonly name: string
  /** The storage, with the history planted in it. */
  readonly plant: (ids: ReadonlyArray<string>) => Promise<{ storage: Storage["Service"]; ids: () => Promise<Array<string>> }>
}

const realBackends: Array<RealBackend> = [{
  name: "local",
  plant: async (ids) => {
    const root = path.join(dir, "local")
    for (const id of ids) {
      fs.mkdirSync(path.join(root, path.dirname(id)), { recursive: true, mode: 0o700 })
      fs.writeFileSync(path.join(root, id), id)
    }
    return { storage: makeLocalStorage(root), ids: async () => fs.readdirSync(path.join(root, "db")).map((name) => `db/${name}`) }
  }
}]
if (s3Ready) {
  realBackends.push({
    name: "s3 (radosgw)",
    plant: async (ids) => {
      const bucket = `ubackup-prune400-${crypto.randomBytes(4).toString("hex")}`
      const client = testS3Client(s3!)
      await client.send(new CreateBucketCommand({ Bucket: bucket }))
      for (let start = 0; start < ids.length; start += 32) {
        await Promise.all(ids.slice(start, start + 32).map((id) => client.send(new PutObjectCommand({ Bucket: bucket, Key: id, Body: id }))))
      }
      return { storage: await testS3Storage(s3!, bucket), ids: () => allKeys(client, bucket) }
    }
  })
}

describe.each(realBackends)("prune over 400 days of backups: $name", (backend) => {
  it("dry run deletes nothing; the real run keeps exactly what restic's rules keep, the newest of each host", async () => {
    const ids = history()
    const policy = policies[0]![1]
    const { storage, ids: listed } = await backend.plant(ids)
    const layer = Layer.succeed(Storage, storage)
    const dry = await Effect.runPromise(prune({ policyFor: () => policy, dryRun: true }).pipe(Effect.provide(layer)))
    expect((await listed()).length).toBe(ids.length)
    const expected = expectedKept(ids, policy)
    expect(new Set(dry.services[0]!.keep.map((backup) => backup.id))).toEqual(expected)
    const real = await Effect.runPromise(prune({ policyFor: () => policy, dryRun: false }).pipe(Effect.provide(layer)))
    expect(real.failed).toEqual([])
    expect(new Set(await listed())).toEqual(expected)
    expect(expected.has(idAt(newest)) && expected.has(idAt(newest - 500 * day, "node2"))).toBe(true)
  }, 120_000)
})

