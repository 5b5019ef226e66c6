/**
 * What every Storage must do (test/storage/conformance.test.ts), through the
 * real CLI for the two a config can name (a local folder, Ceph RGW):
 *
 * - a backup never replaces another: `manual-backup` of the same service
 *   and task twice, or 20 at once, gives distinct IDs, all listed, all
 *   restoring (storage get | decrypt) to their own input;
 * - `storage cleanup`, and the next `now` on its own, remove only this
 *   host's leftovers of killed backups, once they have been quiet long
 *   enough, and say how many.
 */
import { CreateBucketCommand, CreateMultipartUploadCommand, UploadPartCommand } from "@aws-sdk/client-s3"
import * as crypto from "node:crypto"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest"
import { initKeys, ubackup } from "../harness/cli.ts"
import { rgwCommands, s3StorageConfig, testS3Client } from "../harness/rgw.ts"
import { requireCommands, sleep } from "../harness/tools.ts"

const s3 = inject("s3")
const s3Ready = requireCommands("storage conformance (radosgw)", ...rgwCommands) && s3 !== null

type Backend = {
  readonly name: string
  /** The config's `storage` for this backend. */
  readonly storageConfig: () => Record<string, unknown>
}

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "ubackup-conformance-"))
const bucket = `ubackup-conf-${crypto.randomBytes(4).toString("hex")}`

// the CLI's config names local or S3 storage, never memory
const backends: Array<Backend> = [{
  name: "local",
  storageConfig: () => ({ local: { path: path.join(dir, "cli-local") } })
}]
if (s3Ready) {
  backends.push({
    name: "s3 (radosgw)",
    storageConfig: () => s3StorageConfig(s3!, bucket, { part_size_mb: 5 })
  })
}

beforeAll(async () => {
  if (s3Ready) await testS3Client(s3!).send(new CreateBucketCommand({ Bucket: bucket }))
})
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }))

describe.each(backends)("storage conformance: $name", (backend) => {
  describe("through the CLI", () => {
    let config: string
    let keyFile: string
    beforeAll(async () => {
      const keys = await initKeys(path.join(dir, `keys-${backend.name.split(" ")[0]}`))
      keyFile = keys.keyFile
      config = path.join(dir, `config-${backend.name.split(" ")[0]}.json`)
      fs.writeFileSync(config, JSON.stringify({ ...keys.config, storage: backend.storageConfig() }))
    })

    const restore = async (id: string) => {
      const get = await ubackup(["storage", "get", id, "--config", config])
      expect(get.code, get.stderr).toBe(0)
      const decrypted = await ubackup(["decrypt", keyFile], { input: get.stdout })
      expect(decrypted.code, decrypted.stderr).toBe(0)
      return decrypted.stdout.toString()
    }

    it("echo first | manual-backup coll t; echo second | manual-backup coll t: two backups, both restore", async () => {
      const first = await ubackup(["manual-backup", "coll", "t", "--config", config], { input: "first\n" })
      const second = await ubackup(["manual-backup", "coll", "t", "--config", config], { input: "second\n" })
      expect(first.code, first.stderr).toBe(0)
      expect(second.code, second.stderr).toBe(0)
      const ids = [first.stdout.toString().trim(), second.stdout.toString().trim()]
      expect(ids[0]).not.toBe(ids[1])
      const listed = await ubackup(["storage", "ls", "coll", "--config", config])
      expect(listed.stdout.toString().trim().split("\n")).toEqual(ids)
      expect(await restore(ids[0]!)).toBe("first\n")
      expect(await restore(ids[1]!)).toBe("second\n")
    })

    it("20 concurrent manual-backups of one service and task: all kept, each restores to its own input", async () => {
      const runs = await Promise.all(Array.from({ length: 20 }, (_, i) =>
        ubackup(["manual-backup", "crowd", "t", "--config", config], { input: `backup number ${i}\n` })
      ))
      for (const result of runs) expect(result.code, result.stderr).toBe(0)
      const ids = runs.map((result) => result.stdout.toString().trim())
      expect(new Set(ids).size).toBe(20)
      const listed = (await ubackup(["storage", "ls", "crowd", "--config", config])).stdout.toString().trim().split("\n")
      expect([...listed].sort()).toEqual([...ids].sort())
      const restored = await Promise.all(ids.map(restore))
      expect(restored).toEqual(ids.map((_, i) => `backup number ${i}\n`))
    })

    it("storage cleanup and the next now remove this host's quiet leftovers of killed backups, and say how many", async () => {
      // the CLI's host name, as the Hostname default makes it
      const host = os.hostname().replace(/[^A-Za-z0-9.-]/g, "-").replace(/^[.-]+/, "") || "host"
      const leave = async (id: string) => {
        if (backend.name === "local") {
          const folder = path.join(dir, "cli-local", path.dirname(id))
          fs.mkdirSync(folder, { recursive: true, mode: 0o700 })
          fs.writeFileSync(path.join(folder, `.${path.basename(id)}.0123456789ab.partial`), "partial")
        } else {
          const client = testS3Client(s3!)
          const { UploadId } = await client.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: id }))
          await client.send(new UploadPartCommand({ Bucket: bucket, Key: id, UploadId, PartNumber: 1, Body: Buffer.from("part") }))
        }
      }
      const mine = `killed/2026-12-04 2108Z_${host}_t.zst.age`
      const theirs = "killed/2026-12-04 2108Z_otherhost_t.zst.age"
      await leave(mine)
      await leave(theirs)

      const young = await ubackup(["storage", "cleanup", "--older-than", "1h", "--config", config])
      expect(young.code, young.stderr).toBe(0)
      expect(young.stdout.toString()).toBe("0 incomplete backup(s) removed; 2 left (still active, or another host's)\n")
      const bad = await ubackup(["storage", "cleanup", "--older-than", "soon", "--config", config])
      expect(bad.code).toBe(1)
      expect(bad.stderr).toMatch(/--older-than: "soon" is not a duration/)

      await sleep(1100)
      const cleaned = await ubackup(["storage", "cleanup", "--older-than", "1s", "--config", config])
      expect(cleaned.code, cleaned.stderr).toBe(0)
      expect(cleaned.stdout.toString()).toBe(`removed leftovers of ${mine}\n1 incomplete backup(s) removed; 1 left (still active, or another host's)\n`)

      // a run cleans up first, on its own, after abort_incomplete_uploads_after
      await leave(mine)
      await sleep(1100)
      const withTarget = path.join(dir, `config-${backend.name.split(" ")[0]}-cleanup.json`)
      fs.writeFileSync(withTarget, JSON.stringify({
        ...JSON.parse(fs.readFileSync(config, "utf8")),
        abort_incomplete_uploads_after: "1s",
        static_targets: [{ service_name: "cleanup-run", backup_command: ["echo", "fresh"] }]
      }))
      const now = await ubackup(["now", "--config", withTarget])
      expect(now.code, now.stderr).toBe(0)
      expect(now.stderr).toContain(`removed what 1 stopped backup(s) left behind (incomplete uploads or temporary files): ${mine}`)

      const everyone = await ubackup(["storage", "cleanup", "--all-hosts", "--older-than", "1s", "--config", config])
      expect(everyone.stdout.toString()).toBe(`removed leftovers of ${theirs}\n1 incomplete backup(s) removed; 0 left (still active, or another host's)\n`)
    })
  })
})
