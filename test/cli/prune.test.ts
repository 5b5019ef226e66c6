/**
 * `storage prune` through the real CLI, on a local folder and on Ceph RGW:
 * a history of 90 daily backups of two services (planted directly, as the
 * IDs' times must be in the past), pruned by flags and by the config's
 * retention section with a per-service override. --dry-run deletes
 * nothing; --json parses; the newest backup of every service stays; bad
 * flags and a missing policy exit non-zero and delete nothing.
 */
import { CreateBucketCommand, PutObjectCommand } from "@aws-sdk/client-s3"
import * as crypto from "node:crypto"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest"
import { formatTimestamp } from "../../src/domain/names.ts"
import { binary, initKeys, ubackup } from "../harness/cli.ts"
import { execFileSync } from "node:child_process"
import { allKeys, rgwCommands, s3StorageConfig, testS3Client } from "../harness/rgw.ts"
import { requireCommands } from "../harness/tools.ts"

const s3 = inject("s3")
const s3Ready = requireCommands("storage prune (radosgw)", ...rgwCommands) && s3 !== null

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "ubackup-prune-"))
const bucket = `ubackup-prune-${crypto.randomBytes(4).toString("hex")}`
const day = 86_400_000
const newest = Date.UTC(2026, 10, 30, 1, 0) // Mon 30 Nov 2026
const idOf = (service: string, daysBack: number) => `${service}/${formatTimestamp(new Date(newest - daysBack * day))}_node1_${service}.sql.zst.age`
const history = [...Array.from({ length: 90 }, (_, i) => idOf("db", i)), ...Array.from({ length: 90 }, (_, i) => idOf("web", i))]

interface Backend {
  readonly name: string
  readonly storage: () => Record<string, unknown>
  /** Puts the history back, whatever an earlier test removed. */
  readonly plant: () => Promise<void>
  readonly ids: () => Promise<Array<string>>
}

const local = path.join(dir, "local")
const backends: Array<Backend> = [{
  name: "local",
  storage: () => ({ local: { path: local } }),
  plant: async () => {
    for (const id of history) {
      fs.mkdirSync(path.join(local, path.dirname(id)), { recursive: true, mode: 0o700 })
      fs.writeFileSync(path.join(local, id), id)
    }
  },
  ids: async () => ["db", "web"].flatMap((service) => fs.readdirSync(path.join(local, service)).map((name) => `${service}/${name}`)).sort()
}]
if (s3Ready) {
  backends.push({
    name: "s3 (radosgw)",
    storage: () => s3StorageConfig(s3!, bucket),
    plant: async () => {
      const client = testS3Client(s3!)
      for (const id of history) await client.send(new PutObjectCommand({ Bucket: bucket, Key: id, Body: id }))
    },
    ids: async () => (await allKeys(testS3Client(s3!), bucket)).sort()
  })
}

beforeAll(async () => {
  if (s3Ready) await testS3Client(s3!).send(new CreateBucketCommand({ Bucket: bucket }))
})
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }))

describe.each(backends)("storage prune: $name", (backend) => {
  let keys: Awaited<ReturnType<typeof initKeys>>
  const configWith = (extra: Record<string, unknown>) => {
    const file = path.join(dir, `config-${crypto.randomBytes(4).toString("hex")}.json`)
    fs.writeFileSync(file, JSON.stringify({ ...keys.config, storage: backend.storage(), ...extra }))
    return file
  }
  beforeAll(async () => {
    keys = await initKeys(path.join(dir, `keys-${backend.name.split(" ")[0]}`))
    await backend.plant()
  })

  it("--dry-run prints the plan with the rule that kept each, and deletes nothing; --json parses", async () => {
    const config = configWith({})
    const dry = await ubackup(["storage", "prune", "--keep-daily", "7", "--keep-weekly", "4", "--dry-run", "--config", config])
    expect(dry.code, dry.stderr).toBe(0)
    const text = dry.stdout.toString()
    expect(text).toContain("db: keep 7 daily, 4 weekly (1 series)")
    expect(text).toMatch(/keep +db\/2026-11-30 0100Z_node1_db\.sql\.zst\.age +daily, weekly/)
    expect(text).toMatch(/would remove +db\/2026-09-02 0100Z_node1_db\.sql\.zst\.age/)
    // per service: 24-30 Nov (daily; 29 Nov and 30 Nov are also weekly), then the Sundays 22 and 15 Nov: 9 kept of 90
    expect(text).toContain("dry run: would remove 162 backup(s)")
    expect(text).toMatch(/keep +db\/2026-11-15 0100Z_node1_db\.sql\.zst\.age +weekly/)
    expect(await backend.ids()).toEqual([...history].sort())

    const json = await ubackup(["storage", "prune", "db", "--keep-last", "3", "--dry-run", "--json", "--config", config])
    expect(json.code, json.stderr).toBe(0)
    const plan = JSON.parse(json.stdout.toString())
    expect(plan.dry_run).toBe(true)
    expect(plan.services.map((service: { service: string }) => service.service)).toEqual(["db"])
    expect(plan.services[0].keep.map((backup: { id: string; reasons: Array<string> }) => [backup.id, backup.reasons])).toEqual([
      [idOf("db", 2), ["last"]],
      [idOf("db", 1), ["last"]],
      [idOf("db", 0), ["last"]]
    ])
    expect(plan.services[0].remove).toHaveLength(87)
    expect(plan.removed).toEqual([])
  })

  it("a reader that is gone (| true, which exits before ubackup writes): code 1 and no stack trace (any verb that prints)", () => {
    const stderr = path.join(dir, "stderr.txt")
    const script = `"$0" storage prune --keep-last 1 --dry-run --config "$1" 2>"$2" | true; echo "exit=\${PIPESTATUS[0]}"`
    const output = execFileSync("bash", ["-c", script, binary, configWith({}), stderr], { encoding: "utf8" })
    expect(output.trim()).toBe("exit=1")
    expect(fs.readFileSync(stderr, "utf8")).toBe("")
  })

  it("by flags: deletes what no rule keeps, prints it; the config's policy with a per-service override", async () => {
    const flags = await ubackup(["storage", "prune", "web", "--keep-last", "5", "--config", configWith({})])
    expect(flags.code, flags.stderr).toBe(0)
    expect(flags.stdout.toString()).toContain("removed 85 backup(s), kept 5")
    expect((await backend.ids()).filter((id) => id.startsWith("web/"))).toEqual([4, 3, 2, 1, 0].map((i) => idOf("web", i)))

    await backend.plant()
    const config = configWith({ retention: { keep_weekly: 2, services: { web: { keep_within: "10d" } } } })
    const byConfig = await ubackup(["storage", "prune", "--config", config])
    expect(byConfig.code, byConfig.stderr).toBe(0)
    const ids = await backend.ids()
    // db: the newest (Monday) and the Sunday before; web: the last 10 days' (within 10d of the newest, exclusive)
    expect(ids.filter((id) => id.startsWith("db/"))).toEqual([idOf("db", 1), idOf("db", 0)])
    expect(ids.filter((id) => id.startsWith("web/"))).toEqual([9, 8, 7, 6, 5, 4, 3, 2, 1, 0].map((i) => idOf("web", i)))
  })

  it("no policy, a bad count or span, or a config policy with no rule: non-zero, named, nothing deleted", async () => {
    await backend.plant()
    const before = await backend.ids()
    const none = await ubackup(["storage", "prune", "--config", configWith({})])
    expect(none.code).not.toBe(0)
    expect(none.stderr.toString()).toMatch(/no keep rule: give --keep-last/)
    const count = await ubackup(["storage", "prune", "--keep-daily", "seven", "--config", configWith({})])
    expect([count.code, count.stderr.toString()]).toEqual([1, expect.stringMatching(/--keep-daily: "seven" is not a count/)])
    const span = await ubackup(["storage", "prune", "--keep-within", "2w", "--config", configWith({})])
    expect([span.code, span.stderr.toString()]).toEqual([1, expect.stringMatching(/--keep-within: "2w" is not a span/)])
    const emptyOverride = await ubackup(["storage", "prune", "--config", configWith({ retention: { keep_daily: 7, services: { db: {} } } })])
    expect(emptyOverride.code).not.toBe(0)
    expect(emptyOverride.stderr.toString()).toMatch(/retention.*services.*db[\s\S]*no keep rule is set/)
    expect(await backend.ids()).toEqual(before)
  })
})
