/**
 * What every Storage must do, run against each one in-process (in memory, a
 * local folder, Ceph RGW through the S3 layer):
 *
 * - a backup never replaces another: the same ID twice, or 20 at once,
 *   gives distinct IDs, all kept, all restoring to their own bytes;
 * - listings sort oldest first, numbered variants in order, and go past
 *   S3's page of 1000 keys;
 * - cleanup removes only what ubackup's killed backups left, and only
 *   once it has been quiet long enough;
 * - remove deletes exactly the backups named, past S3's 1000 keys a call,
 *   counts a missing one as removed and reports a bad ID without failing.
 *
 * The same through the real CLI, for the two a config can name (local and
 * S3): test/cli/storageConformance.test.ts.
 */
import { CreateBucketCommand, CreateMultipartUploadCommand, ListMultipartUploadsCommand, UploadPartCommand } from "@aws-sdk/client-s3"
import { Effect, Stream } from "effect"
import * as crypto from "node:crypto"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest"
import { withSequence } from "../../src/domain/names.ts"
import { makeLocalStorage } from "../../src/storage/local.ts"
import { makeMemoryStorage } from "../../src/storage/memory.ts"
import type { Storage } from "../../src/storage/Storage.ts"
import { rgwCommands, testS3Client, testS3Storage } from "../harness/rgw.ts"
import { requireCommands, sleep } from "../harness/tools.ts"

const s3 = inject("s3")
const s3Ready = requireCommands("storage conformance (radosgw)", ...rgwCommands) && s3 !== null

type Backend = {
  readonly name: string
  readonly make: () => Promise<Storage["Service"]>
  /** Whether what a killed backup leaves outlives the process: not for memory. */
  readonly persistent: boolean
}

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "ubackup-conformance-"))
const bucket = `ubackup-conf-${crypto.randomBytes(4).toString("hex")}`

const backends: Array<Backend> = [{
  name: "memory",
  make: async () => makeMemoryStorage(),
  persistent: false
}, {
  name: "local",
  make: async () => makeLocalStorage(path.join(dir, "local")),
  persistent: true
}]
if (s3Ready) {
  backends.push({
    name: "s3 (radosgw)",
    make: () => testS3Storage(s3!, bucket, { partSize: 5 * 1024 * 1024 }),
    persistent: true
  })
}

const run = <A, E>(effect: Effect.Effect<A, E>) => Effect.runPromise(effect)
const bytesOf = (storage: Storage["Service"], id: string) => run(Stream.runCollect(storage.get(id))).then((chunks) => Buffer.concat(chunks))

beforeAll(async () => {
  if (s3Ready) await testS3Client(s3!).send(new CreateBucketCommand({ Bucket: bucket }))
})
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }))

describe.each(backends)("storage conformance: $name", (backend) => {
  let storage: Storage["Service"]
  beforeAll(async () => {
    storage = await backend.make()
  })

  it("the same ID twice: both kept under distinct IDs, each with its own bytes, listed in order", async () => {
    const id = "twice/2026-12-04 2108Z_host1_t.zst.age"
    const first = await run(storage.put(id, Stream.make(Buffer.from("first"))))
    const second = await run(storage.put(id, Stream.make(Buffer.from("second"))))
    expect(first.id).toBe(id)
    expect(second.id).toBe(withSequence(id, 2))
    expect((await bytesOf(storage, first.id)).toString()).toBe("first")
    expect((await bytesOf(storage, second.id)).toString()).toBe("second")
    expect((await run(storage.list("twice"))).map((backup) => backup.id)).toEqual([id, withSequence(id, 2)])
  })

  it("20 puts of one ID at once: 20 distinct IDs, all kept, none holding another's bytes", async () => {
    const id = "many/2026-12-04 2108Z_host1_t.zst.age"
    // bodies above one part on S3, so the claims race while parts are in flight
    const body = (i: number) => Buffer.concat([Buffer.from(`backup ${i}\n`), crypto.createHash("sha512").update(String(i)).digest(), Buffer.alloc(i === 0 ? 6 * 1024 * 1024 : 1000, i)])
    const results = await Promise.all(Array.from({ length: 20 }, (_, i) => run(storage.put(id, Stream.make(body(i))))))
    expect(new Set(results.map((result) => result.id)).size).toBe(20)
    for (const [i, result] of results.entries()) expect((await bytesOf(storage, result.id)).equals(body(i)), result.id).toBe(true)
    const listed = (await run(storage.list("many"))).map((backup) => backup.id)
    expect(listed).toEqual(Array.from({ length: 20 }, (_, i) => withSequence(id, i + 1)))
  })

  it("a failed or interrupted put leaves no backup; bad IDs and missing backups are typed errors", async () => {
    const id = "aborted/2026-12-04 2108Z_host1_t.zst.age"
    const failed = await run(Effect.flip(storage.put(id, Stream.concat(Stream.make(Buffer.alloc(100_000, 1)), Stream.fail("broken" as const)))))
    expect(failed).toBe("broken")
    await run(Effect.timeout(storage.put(id, Stream.concat(Stream.make(Buffer.alloc(1000, 2)), Stream.never)), "100 millis").pipe(Effect.flip))
    expect(await run(storage.list("aborted"))).toEqual([])
    const missing = await run(Effect.flip(Stream.runDrain(storage.get(id))))
    expect(missing).toMatchObject({ _tag: "StorageError", reason: "NotFound" })
    for (const bad of ["../etc/passwd", "no-slash", "a/../b"]) {
      expect(await run(Effect.flip(Stream.runDrain(storage.get(bad))))).toMatchObject({ reason: "InvalidId" })
      expect(await run(Effect.flip(storage.put(bad, Stream.make(Buffer.from("x")))))).toMatchObject({ reason: "InvalidId" })
    }
    expect(await run(Effect.flip(storage.list("../up")))).toMatchObject({ reason: "InvalidId" })
    expect(await run(storage.listServices)).toEqual(expect.arrayContaining(["many", "twice"]))
  })

  it("more than 1000 backups of a service, and more than 1000 services, are all listed (past S3's page of 1000)", async () => {
    const count = 1001
    /** A backup ID at minute `i` of 2026: distinct, and in time order. */
    const idAt = (service: string, i: number) => {
      const at = new Date(Date.UTC(2026, 0, 1) + i * 60_000).toISOString()
      return `${service}/${at.slice(0, 10)} ${at.slice(11, 13)}${at.slice(14, 16)}Z_host1_t.zst.age`
    }
    const ids = Array.from({ length: count }, (_, i) => idAt("bulk", i))
    const services = Array.from({ length: count }, (_, i) => `svc${String(i).padStart(4, "0")}`)
    // shuffled, so that the listing's order is the storage's doing
    const puts = [...ids.map((id) => [id, id] as const), ...services.map((service) => [idAt(service, 0), service] as const)]
      .sort(() => Math.random() - 0.5)
    await run(Effect.forEach(puts, ([id, body]) => storage.put(id, Stream.make(Buffer.from(body))), { concurrency: 32, discard: true }))
    expect((await run(storage.list("bulk"))).map((backup) => backup.id)).toEqual(ids)
    const listed = await run(storage.listServices)
    expect(listed.filter((service) => service.startsWith("svc"))).toEqual(services)
    expect(listed).toContain("bulk")
    // removed again in one call: past S3's 1000 keys per DeleteObjects, the others untouched
    const removal = await run(storage.remove([...ids.slice(0, count - 1), "bulk/../escape", idAt("bulk", 5000)]))
    expect(removal.removed).toHaveLength(count) // the missing one counts as removed
    expect(removal.failed).toEqual([expect.objectContaining({ id: "bulk/../escape", reason: "InvalidId" })])
    expect((await run(storage.list("bulk"))).map((backup) => backup.id)).toEqual([ids[count - 1]])
    expect((await run(storage.list("svc0000"))).map((backup) => backup.id)).toEqual([idAt("svc0000", 0)])
  }, 180_000)

  it("cleanup takes only ubackup's quiet leftovers of the given host", async () => {
    const cleanupOf = (options: { olderThanMs: number; hostname?: string }) => run(storage.cleanup(options))
    // nothing left over yet: everything above was published or aborted
    expect((await cleanupOf({ olderThanMs: 0 })).removed).toEqual([])
    // a memory storage dies with its process: a killed backup leaves nothing to plant here
    if (!backend.persistent) return
    const mine = "left/2026-12-04 2108Z_host1_t.zst.age"
    const theirs = "left/2026-12-04 2108Z_host2_t.zst.age"
    const foreign = "left/not-a-backup.bin"
    if (backend.name === "local") {
      const folder = path.join(dir, "local", "left")
      fs.mkdirSync(folder, { recursive: true, mode: 0o700 })
      for (const id of [mine, theirs]) fs.writeFileSync(path.join(folder, `.${path.basename(id)}.0123456789ab.partial`), "partial")
      fs.writeFileSync(path.join(folder, ".not-ours.partial"), "someone else's")
    } else {
      const client = testS3Client(s3!)
      for (const key of [mine, theirs, foreign]) {
        const { UploadId } = await client.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: key }))
        await client.send(new UploadPartCommand({ Bucket: bucket, Key: key, UploadId, PartNumber: 1, Body: Buffer.from("part") }))
      }
    }
    // young: kept
    expect(await cleanupOf({ olderThanMs: 60_000, hostname: "host1" })).toEqual({ removed: [], kept: 2 })
    await sleep(1100)
    expect(await cleanupOf({ olderThanMs: 1000, hostname: "host1" })).toEqual({ removed: [mine], kept: 1 })
    expect(await cleanupOf({ olderThanMs: 1000 })).toEqual({ removed: [theirs], kept: 0 })
    if (backend.name === "local") {
      expect(fs.readdirSync(path.join(dir, "local", "left"))).toEqual([".not-ours.partial"])
    } else {
      const open = (await testS3Client(s3!).send(new ListMultipartUploadsCommand({ Bucket: bucket }))).Uploads ?? []
      expect(open.map((upload) => upload.Key)).toEqual([foreign])
    }
  })
})
