/**
 * 3-2-1 with the real CLI: a config whose storage is a local folder and
 * RGW. `manual-backup` writes both, byte-identical. With RGW failing every
 * attempt of the second part (through the fault proxy), the local copy is
 * complete, published and restores, the command fails naming the
 * destination that did not take it, and RGW holds no object and no open
 * multipart upload. `storage ls/get --from` pick the destination.
 */
import { CreateBucketCommand, ListMultipartUploadsCommand, ListObjectsV2Command } from "@aws-sdk/client-s3"
import * as crypto from "node:crypto"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest"
import { initKeys, ubackup } from "../harness/cli.ts"
import { type S3FaultProxy, startS3FaultProxy } from "../harness/faultProxy.ts"
import { rgwCommands, s3StorageConfig, testS3Client } from "../harness/rgw.ts"
import { requireCommands } from "../harness/tools.ts"

const s3 = inject("s3")
const ready = requireCommands("several destinations (radosgw)", ...rgwCommands) && s3 !== null
const MiB = 1024 * 1024

describe.runIf(ready)("storage as a list: local + RGW", () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "ubackup-dest-"))
  const bucket = `ubackup-dest-${crypto.randomBytes(4).toString("hex")}`
  const local = path.join(dir, "nas")
  let proxy: S3FaultProxy
  let config: string
  let keyFile: string

  const keysIn = async (prefix: string) =>
    ((await testS3Client(s3!).send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix }))).Contents ?? []).map((object) => object.Key)
  const uploadsIn = async (prefix: string) =>
    ((await testS3Client(s3!).send(new ListMultipartUploadsCommand({ Bucket: bucket, Prefix: prefix }))).Uploads ?? []).map((upload) => upload.Key)

  beforeAll(async () => {
    await testS3Client(s3!).send(new CreateBucketCommand({ Bucket: bucket }))
    proxy = await startS3FaultProxy(s3!.endpoint)
    const keys = await initKeys(path.join(dir, "keys"))
    keyFile = keys.keyFile
    config = path.join(dir, "config.json")
    const offsite = s3StorageConfig({ ...s3!, endpoint: proxy.url }, bucket, { part_size_mb: 5, request_timeout: "2s" })
    fs.writeFileSync(config, JSON.stringify({ ...keys.config, storage: [{ name: "nas", local: { path: local } }, { name: "offsite", ...offsite }] }))
  })
  afterAll(async () => {
    await proxy?.close()
    fs.rmSync(dir, { recursive: true, force: true })
  })

  it("both destinations hold byte-identical objects; ls and get --from pick one", async () => {
    const input = crypto.randomBytes(12 * MiB)
    const backup = await ubackup(["manual-backup", "db", "t", "--config", config], { input })
    expect(backup.code, backup.stderr.toString()).toBe(0)
    const id = backup.stdout.toString().trim()
    const nas = await ubackup(["storage", "get", id, "--config", config])
    const offsite = await ubackup(["storage", "get", id, "--from", "offsite", "--config", config])
    expect(nas.stdout.equals(fs.readFileSync(path.join(local, id)))).toBe(true)
    expect(offsite.stdout.equals(nas.stdout)).toBe(true)
    expect((await ubackup(["storage", "ls", "db", "--from", "offsite", "--config", config])).stdout.toString().trim()).toBe(id)
    const restored = await ubackup(["decrypt", keyFile], { input: offsite.stdout })
    expect(restored.stdout.equals(input)).toBe(true)
    const unknown = await ubackup(["storage", "ls", "db", "--from", "tape", "--config", config])
    expect([unknown.code, unknown.stderr.toString()]).toEqual([1, expect.stringContaining(`no destination "tape" (it has: nas, offsite)`)])
  }, 60_000)

  it("RGW failing mid-stream: the local copy is complete and published, RGW has no object and no open upload", async () => {
    proxy.reset()
    proxy.rule = ({ operation, part }) => (operation === "UploadPart" && part !== undefined && part >= 2 ? "internalError" : undefined)
    const input = crypto.randomBytes(12 * MiB)
    const backup = await ubackup(["manual-backup", "app", "t", "--config", config], { input })
    proxy.rule = () => undefined
    expect(backup.code).toBe(1)
    const stderr = backup.stderr.toString()
    expect(stderr).toMatch(/app: stored on nas \(app\/\S.*\), but not on offsite: /)
    const [id] = fs.readdirSync(path.join(local, "app"))
    expect(id).toMatch(/\.zst\.age$/)
    const restored = await ubackup(["decrypt", keyFile], { input: fs.readFileSync(path.join(local, "app", id!)) })
    expect(restored.code, restored.stderr.toString()).toBe(0)
    expect(restored.stdout.equals(input)).toBe(true)
    expect(await keysIn("app/")).toEqual([])
    expect(await uploadsIn("app/")).toEqual([])
  }, 120_000)
})
