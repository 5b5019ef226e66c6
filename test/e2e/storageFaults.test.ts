/**
 * Storage faults against the real servers (docs/RELIABILITY.md): the real
 * CLI writes to the real Ceph RGW through test/harness/faultProxy.ts,
 * which throttles, fails, resets, stalls and loses answers on the way.
 *
 * - Every kind of fault on some request of one backup: each request is
 *   retried, the backup is stored once, and it restores byte-exact.
 * - The store throttling every request for a whole run, or refusing
 *   connections: the target fails with the reason in the summary and the
 *   alert, nothing is stored and no multipart upload stays open.
 * - A backup SIGKILLed mid-upload: the next run aborts the upload it left,
 *   and no other tool's.
 * - Local storage on a full disk (a 4 MiB tmpfs): a clear message, no file.
 */
import { AbortMultipartUploadCommand, CreateBucketCommand, CreateMultipartUploadCommand, ListMultipartUploadsCommand, ListObjectsV2Command } from "@aws-sdk/client-s3"
import { execFileSync } from "node:child_process"
import * as crypto from "node:crypto"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest"
import { initKeys, start, ubackup } from "../harness/cli.ts"
import { closedPort, startRecordingServer } from "../harness/alerts.ts"
import { type S3Fault, type S3FaultProxy, startS3FaultProxy } from "../harness/faultProxy.ts"
import { rgwCommands, s3StorageConfig, testS3Client } from "../harness/rgw.ts"
import { inCI, requireCommands, sleep, waitFor } from "../harness/tools.ts"

const MiB = 1024 * 1024
const s3 = inject("s3")
const s3Ready = requireCommands("storage faults (radosgw)", ...rgwCommands) && s3 !== null
const sha256 = (bytes: Uint8Array) => crypto.createHash("sha256").update(bytes).digest("hex")

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "ubackup-faults-"))
const bucket = `ubackup-faults-${crypto.randomBytes(4).toString("hex")}`
const killBucket = `${bucket}-kill`

describe.runIf(s3Ready)("S3 faults (radosgw behind a fault-injecting proxy)", () => {
  let proxy: S3FaultProxy
  let keyFile: string
  let base: Record<string, unknown>
  /** Through the proxy: what the tests fault. */
  let faulty: string
  /** Straight to the store: to read back what was stored. */
  let direct: string
  const client = () => testS3Client(s3!)

  const keysUnder = async (prefix: string) =>
    ((await client().send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix }))).Contents ?? []).map((object) => object.Key)
  const uploadsUnder = async (prefix: string) =>
    ((await client().send(new ListMultipartUploadsCommand({ Bucket: bucket, Prefix: prefix }))).Uploads ?? []).map((upload) => upload.Key)
  const writeConfig = (name: string, fields: Record<string, unknown>) => {
    const file = path.join(dir, `${name}.json`)
    fs.writeFileSync(file, JSON.stringify({ ...base, ...fields }, null, 2))
    return file
  }
  const restore = async (id: string, config = direct) => {
    const stored = await ubackup(["storage", "get", id, "--config", config])
    expect(stored.code, stored.stderr).toBe(0)
    const plain = await ubackup(["decrypt", keyFile], { input: stored.stdout })
    expect(plain.code, plain.stderr).toBe(0)
    return plain.stdout
  }

  beforeAll(async () => {
    await client().send(new CreateBucketCommand({ Bucket: bucket }))
    proxy = await startS3FaultProxy(s3!.endpoint)
    const keys = await initKeys(path.join(dir, "keys"))
    keyFile = keys.keyFile
    base = keys.config
    const storage = { part_size_mb: 5, request_timeout: "2s" }
    faulty = writeConfig("faulty", { storage: s3StorageConfig({ ...s3!, endpoint: proxy.url }, bucket, storage) })
    direct = writeConfig("direct", { storage: s3StorageConfig(s3!, bucket, storage) })
  })
  afterAll(async () => {
    await proxy?.close()
  })

  it("throttling, 500s, resets mid-part, a stall and lost answers on one 12 MiB backup: all retried, stored once, restores byte-exact", async () => {
    const planned: Array<[string, S3Fault]> = [
      ["CreateMultipartUpload 1", "internalError"],
      ["UploadPart 1 1", "slowDown"],
      ["UploadPart 2 1", "resetMidBody"],
      ["UploadPart 2 2", "stall"],
      ["UploadPart 3 1", "dropResponse"],
      // the store completed the upload, the answer is lost: the retry must not call that a failure
      ["CompleteMultipartUpload 1", "dropResponse"]
    ]
    const faults = new Map(planned)
    proxy.reset()
    proxy.rule = ({ operation, part, attempt }) => faults.get([operation, part, attempt].filter((field) => field !== undefined).join(" "))
    // incompressible: three parts of 5, 5 and ~2 MiB
    const input = crypto.randomBytes(12 * MiB)
    const started = Date.now()
    const backup = await ubackup(["manual-backup", "flaky", "t", "--config", faulty], { input })
    const ms = Date.now() - started
    proxy.rule = () => undefined
    expect(backup.code, backup.stderr).toBe(0)
    const id = backup.stdout.toString().trim()

    const seen = proxy.requests.filter((request) => request.fault !== undefined)
    expect(seen.map((request) => request.fault).sort()).toEqual(planned.map(([, fault]) => fault).sort())
    // every faulted request was sent again
    for (const faulted of seen) {
      expect(proxy.requests.some((request) => request.url === faulted.url && request.method === faulted.method && request.attempt === faulted.attempt + 1), `${faulted.operation} ${faulted.part ?? ""} retried`).toBe(true)
    }
    expect(await keysUnder("flaky/")).toEqual([id])
    expect(await uploadsUnder("flaky/")).toEqual([])
    expect(sha256(await restore(id))).toBe(sha256(input))

    const requests = proxy.requests.length
    // and back: the download stalls, then is throttled, before it starts
    proxy.reset()
    proxy.rule = ({ operation, attempt }) => (operation !== "GetObject" ? undefined : attempt === 1 ? "stall" : attempt === 2 ? "slowDown" : undefined)
    expect(sha256(await restore(id, faulty))).toBe(sha256(input))
    proxy.rule = () => undefined
    expect(proxy.requests.filter((request) => request.operation === "GetObject").map((request) => request.fault)).toEqual(["stall", "slowDown", undefined])
    console.log(`s3 faults: ${seen.length} faults on one backup (${[...new Set(planned.map(([, fault]) => fault))].join(", ")}), ${requests} requests, stored in ${ms} ms, restored byte-exact (also through a stalled and a throttled download)`)
  })

  it("S3 throttling every request for the whole run, or refusing connections: the target fails, the summary and the alert say why, no object, no open upload", async () => {
    const hook = await startRecordingServer()
    try {
      const config = writeConfig("down", {
        storage: s3StorageConfig({ ...s3!, endpoint: proxy.url }, bucket, { part_size_mb: 5, request_timeout: "2s" }),
        static_targets: [{ service_name: "s3down", backup_command: ["head", "-c", "3000000", "/dev/urandom"] }],
        alerts: { webhooks: [{ url: `${hook.url}/hook` }] }
      })
      proxy.reset()
      proxy.rule = () => "slowDown"
      const run = await ubackup(["now", "--config", config])
      proxy.rule = () => undefined
      const text = run.stdout.toString()
      expect(run.code, `${text}\n${run.stderr}`).toBe(1)
      const line = text.split("\n").find((candidate) => candidate.startsWith("s3down "))
      expect(line, text).toMatch(/FAILED.*SlowDown \(HTTP 503\)/)
      // the SDK retried with backoff before giving up
      expect(proxy.requests.filter((request) => request.attempt > 1).length).toBeGreaterThanOrEqual(4)
      const failed = hook.requests.map((request) => JSON.parse(request.body.toString()) as Record<string, unknown>)
        .find((event) => event.event === "backup_failed" && event.service === "s3down")
      expect(failed, JSON.stringify(hook.requests.map((request) => request.body.toString()))).toBeDefined()
      expect(JSON.stringify(failed)).toMatch(/SlowDown \(HTTP 503\)/)
      expect(await keysUnder("s3down/")).toEqual([])
      expect(await uploadsUnder("s3down/")).toEqual([])

      // the store not there at all: refused connections
      const unreachable = writeConfig("unreachable", {
        storage: s3StorageConfig({ ...s3!, endpoint: `http://127.0.0.1:${await closedPort()}` }, bucket, { part_size_mb: 5, request_timeout: "2s" }),
        static_targets: [{ service_name: "s3gone", backup_command: ["head", "-c", "3000000", "/dev/urandom"] }],
        alerts: { webhooks: [{ url: `${hook.url}/hook` }] }
      })
      const gone = await ubackup(["now", "--config", unreachable])
      expect(gone.code, gone.stderr).toBe(1)
      expect(gone.stdout.toString().split("\n").find((candidate) => candidate.startsWith("s3gone "))).toMatch(/FAILED.*cannot reach http:\/\/127\.0\.0\.1:\d+ \(ECONNREFUSED\)/)
      expect(hook.requests.some((request) => request.body.toString().includes("ECONNREFUSED"))).toBe(true)
    } finally {
      await hook.close()
    }
  })

  it("SIGKILL during an upload: the next run aborts the upload it left, and leaves another tool's alone", async () => {
    // a bucket of its own: the run cleans up the whole bucket
    const bucket = killBucket
    await client().send(new CreateBucketCommand({ Bucket: bucket }))
    const uploadsUnder = async (prefix: string) =>
      ((await client().send(new ListMultipartUploadsCommand({ Bucket: bucket, Prefix: prefix }))).Uploads ?? []).map((upload) => upload.Key)
    const keysUnder = async (prefix: string) =>
      ((await client().send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix }))).Contents ?? []).map((object) => object.Key)
    const killed = writeConfig("killed", { storage: s3StorageConfig(s3!, bucket, { part_size_mb: 5 }) })
    const { child, exited } = start(["manual-backup", "sigkilled", "t", "--config", killed])
    try {
      child.stdin.write(crypto.randomBytes(12 * MiB))
      await waitFor("the backup's multipart upload with a part in it", async () => {
        const listed = await client().send(new ListMultipartUploadsCommand({ Bucket: bucket, Prefix: "sigkilled/" }))
        return (listed.Uploads ?? [])[0]
      })
      child.kill("SIGKILL")
      expect((await exited).signal).toBe("SIGKILL")
    } finally {
      child.stdin.destroy()
    }
    const left = await uploadsUnder("sigkilled/")
    expect(left).toHaveLength(1)
    const foreign = await client().send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: "other-tool/dump.bin" }))

    await sleep(1_100)
    const config = writeConfig("after-kill", {
      storage: s3StorageConfig(s3!, bucket, { part_size_mb: 5 }),
      abort_incomplete_uploads_after: "1s",
      static_targets: [{ service_name: "afterkill", backup_command: ["echo", "next run"] }]
    })
    const run = await ubackup(["now", "--config", config])
    expect(run.code, run.stderr).toBe(0)
    expect(run.stderr).toContain(`removed what 1 stopped backup(s) left behind (incomplete uploads or temporary files): ${left[0]}`)
    expect(await uploadsUnder("sigkilled/")).toEqual([])
    expect(await keysUnder("sigkilled/")).toEqual([])
    expect(await uploadsUnder("other-tool/")).toEqual(["other-tool/dump.bin"])
    await client().send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: "other-tool/dump.bin", UploadId: foreign.UploadId }))
  })
})

const canMount = os.platform() === "linux" && process.getuid?.() === 0
if (!canMount) {
  if (inCI) throw new Error("CI=true but the disk-full test needs root, to mount a tmpfs")
  console.warn("skipping the disk-full test: it needs root, to mount a tmpfs")
}

describe.runIf(canMount)("local storage on a full disk", () => {
  const mount = path.join(dir, "tiny")
  beforeAll(() => {
    fs.mkdirSync(mount, { mode: 0o700 })
    execFileSync("mount", ["-t", "tmpfs", "-o", "size=4m,mode=0700", "tmpfs", mount])
  })
  afterAll(() => {
    try {
      execFileSync("umount", [mount])
    } catch {
      // already gone
    }
  })

  it("a backup larger than the free space: exit 1, a message that says the disk is full, no file left", async () => {
    const { config } = await initKeys(path.join(dir, "tiny-keys"))
    const file = path.join(dir, "tiny.json")
    fs.writeFileSync(file, JSON.stringify({ ...config, storage: { local: { path: path.join(mount, "backups") } } }))
    const backup = await ubackup(["manual-backup", "full", "t", "--config", file], { input: crypto.randomBytes(8 * MiB) })
    expect(backup.code).toBe(1)
    expect(backup.stdout.length).toBe(0)
    expect(backup.stderr).toMatch(/ENOSPC|no space/i)
    const files = fs.readdirSync(mount, { recursive: true, withFileTypes: true }).filter((entry) => entry.isFile())
    expect(files.map((entry) => entry.name)).toEqual([])
  })
})
