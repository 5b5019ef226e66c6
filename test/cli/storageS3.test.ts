/**
 * S3 storage against a real server (Ceph radosgw, started by globalSetup),
 * through the real CLI: a large backup through manual-backup and back
 * through storage get and decrypt, listings past one page, credential
 * errors that name the field without leaking secrets, and failed or killed
 * backups that leave no object and no open multipart upload behind. The
 * library's S3 storage is tested in test/storage/s3.test.ts.
 */
import {
  AbortMultipartUploadCommand,
  CreateBucketCommand,
  DeleteBucketCommand,
  DeleteObjectsCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  GetObjectCommand,
  PutObjectCommand,
  S3Client
} from "@aws-sdk/client-s3"
import { spawn } from "node:child_process"
import * as crypto from "node:crypto"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { Readable } from "node:stream"
import { pipeline } from "node:stream/promises"
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest"
import { defaultPartSize } from "../../src/storage/s3.ts"
import { binary, start, ubackup } from "../harness/cli.ts"
import { rgwCommands, type S3Endpoint, testS3Client } from "../harness/rgw.ts"
import { requireCommands, waitFor } from "../harness/tools.ts"

const s3 = inject("s3")
const ready = requireCommands("S3 storage tests (radosgw)", ...rgwCommands) && s3 !== null

const MiB = 1024 * 1024

/** The server; only called inside hooks and tests, which run only when it is up. */
const server = (): S3Endpoint => {
  if (s3 === null) throw new Error("no S3 server (globalSetup did not start radosgw)")
  return s3
}

const sdk = (credentials?: { readonly accessKeyId: string; readonly secretAccessKey: string }) => testS3Client(server(), credentials)

/** Runs `f` over `items` with at most `limit` at once. */
const forEachLimited = async <A>(items: ReadonlyArray<A>, limit: number, f: (item: A) => Promise<unknown>) => {
  let next = 0
  const worker = async () => {
    while (next < items.length) {
      const item = items[next++] as A
      await f(item)
    }
  }
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker))
}

/**
 * `total` deterministic bytes in 1 MiB chunks, compressible-ish: each 64 KiB
 * block is either pseudo-random (an AES-CTR keystream), a repeat of a recent
 * block, or text-like rows. Chunks are made on demand, so only the SHA-256
 * (`digest()` once the stream ended) is kept, never the data.
 */
const generatedData = (total: number, seed: string) => {
  const hash = crypto.createHash("sha256")
  const keystream = crypto.createCipheriv("aes-256-ctr", crypto.createHash("sha256").update(seed).digest(), Buffer.alloc(16))
  let state = crypto.createHash("sha256").update(`choices ${seed}`).digest().readUInt32LE(0) || 1
  const nextChoice = () => {
    // xorshift32
    state ^= state << 13
    state ^= state >>> 17
    state ^= state << 5
    state >>>= 0
    return state
  }
  const blockSize = 64 * 1024
  const recent: Array<Buffer> = []
  function* chunks(): Generator<Buffer> {
    for (let offset = 0; offset < total; offset += MiB) {
      const size = Math.min(MiB, total - offset)
      const chunk = Buffer.allocUnsafe(size)
      for (let at = 0; at < size; at += blockSize) {
        const length = Math.min(blockSize, size - at)
        const choice = nextChoice() % 4
        let block: Buffer
        if (choice <= 1 || recent.length === 0) {
          block = keystream.update(Buffer.alloc(length))
        } else if (choice === 2) {
          block = recent[nextChoice() % recent.length] as Buffer
        } else {
          const row = `row ${nextChoice()} value ${nextChoice() % 1000} status ok\n`
          block = Buffer.from(row.repeat(Math.ceil(length / row.length)))
        }
        block.copy(chunk, at, 0, length)
        recent.push(chunk.subarray(at, at + length))
        if (recent.length > 16) recent.shift()
      }
      hash.update(chunk)
      yield chunk
    }
  }
  return { stream: Readable.from(chunks(), { objectMode: false }), digest: () => hash.digest("hex") }
}

describe.runIf(ready)("S3 storage (radosgw)", () => {
  const bucket = `ubackup-s3-${crypto.randomBytes(4).toString("hex")}`
  /** A second bucket holding only the listing test's objects, so its listings are exact. */
  const listBucket = `${bucket}-ls`
  const wrongSecret = "Wrong/Secret+Key/ThatMustNeverBePrinted0"
  const unknownKeyId = "AKIAUNKNOWNKEY000TEST"
  let client: S3Client
  let dir: string
  let keyFile: string
  let recipient: string
  /** The config every CLI run uses unless a test needs another. */
  let config: string

  /** Writes a config for `bucket`, with `s3Config` overriding fields of storage.s3, and returns its path. */
  const writeConfig = (name: string, s3Config: Record<string, unknown> = {}) => {
    const file = path.join(dir, name)
    const config = {
      encryption_recipients: [recipient],
      storage: {
        s3: {
          bucket,
          bucket_region: server().region,
          access_key_id: server().accessKeyId,
          access_key_secret: server().secretAccessKey,
          endpoint: server().endpoint,
          force_path_style: true,
          ...s3Config
        }
      }
    }
    fs.writeFileSync(file, JSON.stringify(config, null, 2), { mode: 0o600 })
    return file
  }

  const keysUnder = async (inBucket: string, prefix: string) => {
    const keys: Array<string> = []
    let token: string | undefined
    do {
      const page = await client.send(
        new ListObjectsV2Command({ Bucket: inBucket, Prefix: prefix, ...(token !== undefined ? { ContinuationToken: token } : {}) })
      )
      keys.push(...(page.Contents ?? []).flatMap((object) => (object.Key !== undefined ? [object.Key] : [])))
      token = page.IsTruncated ? page.NextContinuationToken : undefined
    } while (token !== undefined)
    return keys
  }

  const openUploads = async (prefix = "") =>
    (await client.send(new ListMultipartUploadsCommand({ Bucket: bucket, ...(prefix !== "" ? { Prefix: prefix } : {}) }))).Uploads ?? []

  /** The keys of open multipart uploads: a failing test names what was left behind. */
  const openUploadKeys = async (prefix = "") => (await openUploads(prefix)).map((upload) => upload.Key)

  beforeAll(async () => {
    client = sdk()
    await client.send(new CreateBucketCommand({ Bucket: bucket }))
    await client.send(new CreateBucketCommand({ Bucket: listBucket }))
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "ubackup-s3-test-"))
    const key = await ubackup(["decryption-key-generate", "--type", "x25519"])
    expect(key.code, key.stderr).toBe(0)
    keyFile = path.join(dir, "backups.key")
    fs.writeFileSync(keyFile, key.stdout, { mode: 0o600 })
    const pub = await ubackup(["decryption-key-to-encryption-key"], { input: key.stdout })
    expect(pub.code, pub.stderr).toBe(0)
    recipient = pub.stdout.toString().trim()
    expect(recipient).toMatch(/^age1[a-z0-9]+$/)
    config = writeConfig("config.json")
  })

  afterAll(async () => {
    if (dir !== undefined) fs.rmSync(dir, { recursive: true, force: true })
    if (client === undefined) return
    // the server is thrown away after the run; emptying the buckets still frees its disk early
    const remove = async (name: string) => {
      for (const upload of (await client.send(new ListMultipartUploadsCommand({ Bucket: name }))).Uploads ?? []) {
        await client.send(new AbortMultipartUploadCommand({ Bucket: name, Key: upload.Key, UploadId: upload.UploadId }))
      }
      const keys = await keysUnder(name, "")
      for (let i = 0; i < keys.length; i += 1000) {
        await client.send(
          new DeleteObjectsCommand({ Bucket: name, Delete: { Objects: keys.slice(i, i + 1000).map((Key) => ({ Key })), Quiet: true } })
        )
      }
      await client.send(new DeleteBucketCommand({ Bucket: name }))
    }
    for (const name of [bucket, listBucket]) {
      await remove(name).catch((error: unknown) => console.warn(`could not remove bucket ${name}: ${String(error)}`))
    }
    client.destroy()
  })

  it("a 200 MiB backup round-trips through manual-backup, storage get and decrypt", async () => {
    const total = 200 * MiB
    const data = generatedData(total, "round trip")
    const backup = await ubackup(["manual-backup", "roundtrip", "task1", "--config", config], { input: data.stream })
    expect(backup.code, backup.stderr).toBe(0)
    const expected = data.digest()
    const id = backup.stdout.toString().trim()
    expect(id).toMatch(/^roundtrip\/\d{4}-\d{2}-\d{2} \d{4}Z_.+_task1\.zst\.age$/)
    expect(backup.stderr).toContain(`stored ${id}`)

    const head = await client.send(new HeadObjectCommand({ Bucket: bucket, Key: id }))
    // more than one part: it went through a multipart upload (the ETag of one says how many parts)
    expect(head.ContentLength ?? 0).toBeGreaterThan(defaultPartSize)
    expect(head.ETag ?? "").toMatch(/-\d+"?$/)
    expect(await keysUnder(bucket, "roundtrip/")).toEqual([id])
    expect(await openUploadKeys()).toEqual([])

    // storage get | decrypt, streamed through this process and hashed on the fly
    const get = spawn(binary, ["storage", "get", id, "--config", config], { stdio: ["ignore", "pipe", "pipe"] })
    const decrypt = spawn(binary, ["decrypt", keyFile], { stdio: ["pipe", "pipe", "pipe"] })
    const stderr = { get: "", decrypt: "" }
    get.stderr.on("data", (chunk: Buffer) => (stderr.get += chunk.toString()))
    decrypt.stderr.on("data", (chunk: Buffer) => (stderr.decrypt += chunk.toString()))
    const exited = (child: ReturnType<typeof spawn>) =>
      new Promise<number | null>((resolve, reject) => {
        child.on("error", reject)
        child.on("close", (code) => resolve(code))
      })
    const codes = Promise.all([exited(get), exited(decrypt)])
    const hash = crypto.createHash("sha256")
    let restored = 0
    await Promise.all([
      pipeline(get.stdout, decrypt.stdin),
      pipeline(decrypt.stdout, async (source: AsyncIterable<Buffer>) => {
        for await (const chunk of source) {
          restored += chunk.length
          hash.update(chunk)
        }
      })
    ])
    const [getCode, decryptCode] = await codes
    expect(getCode, stderr.get).toBe(0)
    expect(decryptCode, stderr.decrypt).toBe(0)
    expect(restored).toBe(total)
    expect(hash.digest("hex")).toBe(expected)
  })

  it("verify and drill on RGW: a good object passes; a flipped byte, a truncation, the wrong key and not a backup each fail with their own message", async () => {
    const input = Buffer.concat([Buffer.from("a table row\n".repeat(200_000)), crypto.randomBytes(MiB)])
    const backup = await ubackup(["manual-backup", "verify-s3", "t1", "--config", config], { input })
    expect(backup.code, backup.stderr).toBe(0)
    const id = backup.stdout.toString().trim()
    const good = await ubackup(["verify", id, "--key", keyFile, "--config", config])
    expect(good.code, good.stderr).toBe(0)
    expect(good.stdout.toString().split("\t").slice(0, 4)).toEqual([
      "ok",
      id,
      `${input.length} bytes`,
      `sha256 ${crypto.createHash("sha256").update(input).digest("hex")}`
    ])
    const drill = await ubackup(["drill", "--key", keyFile, "--config", config, "--service", "verify-s3", "--json"])
    expect(drill.code, drill.stderr).toBe(0)
    expect(JSON.parse(drill.stdout.toString())[0]).toMatchObject({ ok: true, backup_id: id, plaintext_bytes: input.length })

    const original = Buffer.from(await (await client.send(new GetObjectCommand({ Bucket: bucket, Key: id }))).Body!.transformToByteArray())
    const damagedAs = async (key: string, bytes: Buffer, keyPath = keyFile) => {
      await client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: bytes }))
      return ubackup(["verify", key, "--key", keyPath, "--config", config])
    }
    const flipped = Buffer.from(original)
    flipped[Math.floor(flipped.length * 0.6)]! ^= 1
    const otherKey = path.join(dir, "other.key")
    fs.writeFileSync(otherKey, (await ubackup(["decryption-key-generate", "--type", "x25519"])).stdout)
    const results = [
      await damagedAs("verify-s3/2026-01-01 0000Z_h_flipped.zst.age", flipped),
      await damagedAs("verify-s3/2026-01-01 0000Z_h_cut.zst.age", original.subarray(0, Math.floor(original.length * 0.7))),
      await damagedAs("verify-s3/2026-01-01 0000Z_h_wrongkey.zst.age", original, otherKey),
      await damagedAs("verify-s3/2026-01-01 0000Z_h_text.zst.age", Buffer.from("just some text, not a backup\n"))
    ]
    expect(results.map((run) => run.code)).toEqual([1, 1, 1, 1])
    expect(results[0]!.stderr).toMatch(/chunk \d+ failed authentication/)
    expect(results[1]!.stderr).toMatch(/truncated/)
    expect(results[2]!.stderr).toMatch(/no key opens this backup/)
    expect(results[3]!.stderr).toMatch(/the input is not a backup/)
  })

  describe("storage ls over more than 1000 keys", () => {
    const count = 1500
    // IDs as ubackup names them, created in a shuffled order
    const ids = Array.from({ length: count }, (_, i) => {
      const day = String(1 + (i % 28)).padStart(2, "0")
      const hour = String(Math.floor(i / 28) % 24).padStart(2, "0")
      return `svc/2024-03-${day} ${hour}00Z_host-${i % 3}_task${i}.sql.zst.age`
    })
    const bodySize = (id: string) => 1 + (crypto.createHash("sha256").update(id).digest().readUInt16LE(0) % 512)
    const others = ["othersvc/2024-01-01 0000Z_host_a.zst.age", "othersvc/2024-01-02 0000Z_host_a.zst.age"]
    let listConfig: string
    let started: number

    beforeAll(async () => {
      listConfig = writeConfig("list.json", { bucket: listBucket })
      started = Date.now()
      const shuffled = [...ids].sort((a, b) => crypto.createHash("md5").update(a).digest().compare(crypto.createHash("md5").update(b).digest()))
      await forEachLimited([...shuffled, ...others], 32, (Key) =>
        client.send(new PutObjectCommand({ Bucket: listBucket, Key, Body: Buffer.alloc(bodySize(Key), 7) })))
    })

    it("prints exactly the service's IDs, sorted", async () => {
      const run = await ubackup(["storage", "ls", "svc", "--config", listConfig])
      expect(run.code, run.stderr).toBe(0)
      expect(run.stderr).toBe("")
      const lines = run.stdout.toString().split("\n")
      expect(lines.pop()).toBe("")
      expect(lines).toHaveLength(count)
      expect(lines).toEqual([...ids].sort())
    })

    it("--long adds the size and an ISO time, tab-separated", async () => {
      const run = await ubackup(["storage", "ls", "--long", "svc", "--config", listConfig])
      expect(run.code, run.stderr).toBe(0)
      const lines = run.stdout.toString().trimEnd().split("\n")
      expect(lines).toHaveLength(count)
      const sorted = [...ids].sort()
      lines.forEach((line, i) => {
        const fields = line.split("\t")
        expect(fields).toHaveLength(3)
        const [id, size, time] = fields as [string, string, string]
        expect(id).toBe(sorted[i])
        expect(Number(size)).toBe(bodySize(id))
        expect(time).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/)
        // S3 keeps whole seconds; the server runs on this machine
        expect(Date.parse(time)).toBeGreaterThanOrEqual(Math.floor(started / 1000) * 1000 - 60_000)
        expect(Date.parse(time)).toBeLessThanOrEqual(Date.now() + 60_000)
      })
    })

    it("ls-services lists both services; ls of a service without backups prints nothing", async () => {
      const services = await ubackup(["storage", "ls-services", "--config", listConfig])
      expect(services.code, services.stderr).toBe(0)
      expect(services.stdout.toString()).toBe("othersvc\nsvc\n")
      const other = await ubackup(["storage", "ls", "othersvc", "--config", listConfig])
      expect(other.stdout.toString()).toBe(others.map((id) => `${id}\n`).join(""))
      const none = await ubackup(["storage", "ls", "nobackups", "--config", listConfig])
      expect(none.code, none.stderr).toBe(0)
      expect(none.stdout.toString()).toBe("")
      expect(none.stderr).toBe("")
    })
  })

  describe("wrong credentials", () => {
    const secrets = () => [wrongSecret, server().secretAccessKey]

    const expectRejected = (run: { readonly code: number | null; readonly stdout: Buffer; readonly stderr: string }, field: string) => {
      expect(run.code, run.stderr).toBe(1)
      expect(run.stderr).toContain(field)
      expect(run.stderr).toMatch(/^ubackup: error: /)
      for (const secret of secrets()) {
        expect(run.stdout.toString()).not.toContain(secret)
        expect(run.stderr).not.toContain(secret)
      }
    }

    it("a wrong secret key: manual-backup and storage ls exit 1 and name storage.s3.access_key_secret", async () => {
      const wrong = writeConfig("wrong-secret.json", { access_key_secret: wrongSecret })
      const backup = await ubackup(["manual-backup", "creds", "task1", "--config", wrong], { input: "some data\n" })
      expectRejected(backup, "storage.s3.access_key_secret")
      expect(backup.stdout.length).toBe(0)
      const ls = await ubackup(["storage", "ls", "creds", "--config", wrong])
      expectRejected(ls, "storage.s3.access_key_secret")
      // a backup bigger than one part fails the same way, and leaves nothing
      const big = await ubackup(["manual-backup", "creds", "task2", "--config", wrong], { input: crypto.randomBytes(20 * MiB) })
      expectRejected(big, "storage.s3.access_key_secret")
      expect(await keysUnder(bucket, "creds/")).toEqual([])
      expect(await openUploadKeys("creds/")).toEqual([])
    })

    it("an unknown access key: manual-backup and storage ls exit 1 and name storage.s3.access_key_id", async () => {
      const unknown = writeConfig("unknown-key.json", { access_key_id: unknownKeyId })
      const backup = await ubackup(["manual-backup", "creds", "task1", "--config", unknown], { input: "some data\n" })
      expectRejected(backup, "storage.s3.access_key_id")
      const ls = await ubackup(["storage", "ls", "creds", "--config", unknown])
      expectRejected(ls, "storage.s3.access_key_id")
      expect(await keysUnder(bucket, "creds/")).toEqual([])
    })
  })

  it("SIGTERM during a streamed backup: exits non-zero, no object, the multipart upload is aborted", async () => {
    const { child, output, exited } = start(["manual-backup", "sigterm", "task1", "--config", config])
    try {
      // incompressible, so the encrypted output passes the part size; stdin stays open
      child.stdin.write(crypto.randomBytes(30 * MiB))
      await waitFor("the backup's multipart upload", async () => (await openUploads("sigterm/"))[0])
      child.kill("SIGTERM")
      const exit = await Promise.race([
        exited,
        new Promise<"hung">((resolve) => setTimeout(() => resolve("hung"), 15_000))
      ])
      expect(exit, `the backup did not exit after SIGTERM; stderr: ${output().stderr}`).not.toBe("hung")
      if (exit === "hung") return
      expect(exit.signal).toBeNull()
      expect(exit.code).not.toBe(0)
      expect(exit.code).not.toBeNull()
      expect(output().stdout).toBe("")
      expect(await keysUnder(bucket, "sigterm/")).toEqual([])
      expect(await openUploadKeys()).toEqual([])
    } finally {
      child.stdin.destroy()
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL")
    }
  })

  it("an empty stdin fails and stores nothing", async () => {
    const backup = await ubackup(["manual-backup", "empty", "task1", "--config", config], { input: "" })
    expect(backup.code).toBe(1)
    expect(backup.stdout.length).toBe(0)
    expect(backup.stderr).toContain("produced no data")
    expect(await keysUnder(bucket, "empty/")).toEqual([])
    expect(await openUploadKeys("empty/")).toEqual([])
  })

  it("a bucket that does not exist: exit 1, the message names storage.s3.bucket", async () => {
    const missing = writeConfig("missing-bucket.json", { bucket: `${bucket}-missing` })
    for (const args of [["storage", "ls", "svc"], ["manual-backup", "svc", "task1"]]) {
      const run = await ubackup([...args, "--config", missing], { input: "data\n" })
      expect(run.code, run.stderr).toBe(1)
      expect(run.stderr).toContain("storage.s3.bucket")
    }
  })

  it("storage get: a missing ID exits 1 with 'no such backup'; an invalid ID is rejected", async () => {
    const missing = await ubackup(["storage", "get", "roundtrip/2000-01-01 0000Z_host_none.zst.age", "--config", config])
    expect(missing.code).toBe(1)
    expect(missing.stdout.length).toBe(0)
    expect(missing.stderr).toMatch(/^ubackup: error: .*no such backup/)
    for (const invalid of ["../x", "x", "svc/../../etc/passwd", "/etc/passwd", "svc/.hidden"]) {
      const run = await ubackup(["storage", "get", invalid, "--config", config])
      expect(run.code, invalid).toBe(1)
      expect(run.stdout.length).toBe(0)
      expect(run.stderr, invalid).toContain("not a backup ID")
    }
  })
})
