/**
 * The bandwidth limit on the wire: `manual-backup` of random bytes (they do
 * not compress; 5 s worth at the limit) to the real RGW, with
 * `bandwidth_limit` in the config and then `--limit-upload` over it. The
 * rate (stored bytes over the backup's own duration, as the CLI prints
 * them, claim and completion included) is within 10 % of the limit.
 */
import { CreateBucketCommand } from "@aws-sdk/client-s3"
import * as crypto from "node:crypto"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest"
import { initKeys, ubackup } from "../harness/cli.ts"
import { rgwCommands, s3StorageConfig, testS3Client } from "../harness/rgw.ts"
import { requireCommands } from "../harness/tools.ts"

const s3 = inject("s3")
const ready = requireCommands("upload limit (radosgw)", ...rgwCommands) && s3 !== null
const MiB = 1024 * 1024

describe.runIf(ready)("bandwidth_limit and --limit-upload (radosgw)", () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "ubackup-limit-"))
  const bucket = `ubackup-limit-${crypto.randomBytes(4).toString("hex")}`
  let config: string

  beforeAll(async () => {
    await testS3Client(s3!).send(new CreateBucketCommand({ Bucket: bucket }))
    const keys = await initKeys(path.join(dir, "keys"))
    config = path.join(dir, "config.json")
    fs.writeFileSync(config, JSON.stringify({ ...keys.config, storage: s3StorageConfig(s3!, bucket, { part_size_mb: 5 }), bandwidth_limit: "8MiB/s" }))
  })
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }))

  /** MiB/s of one backup: its stored size over its duration, from the line the CLI prints. */
  const rateOf = async (mib: number, args: ReadonlyArray<string>) => {
    const run = await ubackup(["manual-backup", "limited", "t", "--config", config, ...args], { input: crypto.randomBytes(mib * MiB) })
    expect(run.code, run.stderr.toString()).toBe(0)
    const [, out, seconds] = /MiB in, ([\d.]+) MiB out, ([\d.]+) s/.exec(run.stderr.toString()) ?? []
    return Number(out) / Number(seconds)
  }

  it("the config's 8 MiB/s, then --limit-upload 16MiB/s over it: each within 10 %", async () => {
    const configured = await rateOf(40, [])
    expect(configured).toBeGreaterThan(8 * 0.9)
    expect(configured).toBeLessThan(8 * 1.1)
    const flagged = await rateOf(80, ["--limit-upload", "16MiB/s"])
    expect(flagged).toBeGreaterThan(16 * 0.9)
    expect(flagged).toBeLessThan(16 * 1.1)
  }, 60_000)

  it("a bad --limit-upload is refused by name, and nothing is stored", async () => {
    const run = await ubackup(["manual-backup", "refused", "t", "--config", config, "--limit-upload", "lots"], { input: "x" })
    expect(run.code).toBe(1)
    expect(run.stderr.toString()).toMatch(/--limit-upload: "lots" is not a rate/)
    const listed = await ubackup(["storage", "ls", "refused", "--config", config])
    expect(listed.stdout.toString()).toBe("")
  })
})
