/**
 * S3 Object Lock and storage classes on the real RGW, through the library:
 *
 * - with `objectLock`, every backup is stored under that retention, even
 *   multipart ones (RGW 16 ignores the retention given at creation:
 *   src/storage/s3ObjectLock.ts sets it on the completed version);
 * - the same credentials then cannot delete the locked version before its
 *   date, and a write to the same key cannot replace it (a new version;
 *   the locked one stays, byte for byte);
 * - `remove` (prune) skips locked backups, saying until when, and deletes
 *   the others by version, leaving no version behind;
 * - a bucket without Object Lock, or a storage class the store does not
 *   offer, fails the first upload with an error naming the config field,
 *   leaving no object and no open upload.
 */
import {
  CreateBucketCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  ListObjectVersionsCommand,
  PutObjectCommand,
  type S3Client
} from "@aws-sdk/client-s3"
import { Effect, Stream } from "effect"
import * as crypto from "node:crypto"
import { beforeAll, describe, expect, inject, it } from "vitest"
import type { S3StorageOptions } from "../../src/storage/s3.ts"
import { rgwCommands, testS3Client, testS3Storage } from "../harness/rgw.ts"
import { requireCommands } from "../harness/tools.ts"

const s3 = inject("s3")
const ready = requireCommands("S3 Object Lock tests (radosgw)", ...rgwCommands) && s3 !== null
const MiB = 1024 * 1024
const day = 86_400_000

describe.runIf(ready)("S3 Object Lock and storage classes (radosgw)", () => {
  const suffix = crypto.randomBytes(4).toString("hex")
  const lockedBucket = `ubackup-lock-${suffix}`
  const plainBucket = `ubackup-nolock-${suffix}`
  let client: S3Client

  const storageFor = (bucket: string, extra: Partial<S3StorageOptions>) => testS3Storage(s3!, bucket, { partSize: 5 * MiB, ...extra })
  const run = <A, E>(effect: Effect.Effect<A, E>) => Effect.runPromise(effect)
  const versionsOf = async (bucket: string, key: string) =>
    ((await client.send(new ListObjectVersionsCommand({ Bucket: bucket, Prefix: key }))).Versions ?? []).filter((version) => version.Key === key)
  const openUploads = async (bucket: string) => (await client.send(new ListMultipartUploadsCommand({ Bucket: bucket }))).Uploads ?? []

  beforeAll(async () => {
    client = testS3Client(s3!)
    await client.send(new CreateBucketCommand({ Bucket: lockedBucket, ObjectLockEnabledForBucket: true }))
    await client.send(new CreateBucketCommand({ Bucket: plainBucket }))
  })

  it("a multipart backup is stored under the retention; its version cannot be deleted or replaced before the date", async () => {
    const storage = await storageFor(lockedBucket, { objectLock: { mode: "GOVERNANCE", days: 2 } })
    const body = crypto.randomBytes(12 * MiB) // three parts
    const before = Date.now()
    const stored = await run(storage.put("db/2026-12-07 0100Z_node1_db.sql.zst.age", Stream.make(body)))
    const head = await client.send(new HeadObjectCommand({ Bucket: lockedBucket, Key: stored.id }))
    expect(head.ObjectLockMode).toBe("GOVERNANCE")
    expect(head.ObjectLockRetainUntilDate!.getTime()).toBeGreaterThanOrEqual(before + 2 * day - 60_000)
    expect(head.ObjectLockRetainUntilDate!.getTime()).toBeLessThanOrEqual(Date.now() + 2 * day + 60_000)

    // the same credentials, no bypass: the version stays
    await expect(client.send(new DeleteObjectCommand({ Bucket: lockedBucket, Key: stored.id, VersionId: head.VersionId }))).rejects.toMatchObject({
      name: "AccessDenied"
    })
    // a plain write to the key is a new version on top; the locked one is still there, byte for byte
    await client.send(new PutObjectCommand({ Bucket: lockedBucket, Key: stored.id, Body: "overwritten?" }))
    const original = await client.send(new GetObjectCommand({ Bucket: lockedBucket, Key: stored.id, VersionId: head.VersionId }))
    expect(Buffer.from(await original.Body!.transformToByteArray()).equals(body)).toBe(true)
    expect((await versionsOf(lockedBucket, stored.id)).length).toBe(2)
  }, 60_000)

  it("prune's remove skips a locked backup, saying until when, and deletes an unlocked one by version", async () => {
    const locking = await storageFor(lockedBucket, { objectLock: { mode: "COMPLIANCE", days: 1 } })
    const locked = await run(locking.put("web/2026-12-01 0100Z_node1_web.tar.zst.age", Stream.make(Buffer.from("locked"))))
    // one without a retention, as an older ubackup (or another writer) left it
    const unlockedId = "web/2026-11-01 0100Z_node1_web.tar.zst.age"
    await client.send(new PutObjectCommand({ Bucket: lockedBucket, Key: unlockedId, Body: "unlocked" }))
    const plain = await storageFor(lockedBucket, {})
    const result = await run(plain.remove([locked.id, unlockedId, "web/2026-10-01 0100Z_node1_web.tar.zst.age"]))
    expect([...result.removed].sort()).toEqual([unlockedId, "web/2026-10-01 0100Z_node1_web.tar.zst.age"].sort())
    expect(result.failed).toEqual([{ id: locked.id, reason: "Locked", detail: expect.stringMatching(/^locked by S3 Object Lock \(compliance\) until 20\d\d-/) }])
    expect(await versionsOf(lockedBucket, unlockedId)).toEqual([])
    expect((await versionsOf(lockedBucket, locked.id)).length).toBe(1)
  })

  it("object_lock on a bucket without Object Lock: the first upload fails, naming the bucket and the field; nothing left", async () => {
    const storage = await storageFor(plainBucket, { objectLock: { mode: "GOVERNANCE", days: 1 } })
    const failure = await run(Effect.flip(storage.put("db/2026-12-07 0100Z_node1_db.sql.zst.age", Stream.make(crypto.randomBytes(6 * MiB)))))
    expect(failure).toMatchObject({ _tag: "StorageError", reason: "Failed" })
    expect(failure.message).toContain(`bucket "${plainBucket}" does not have Object Lock enabled`)
    expect(failure.message).toContain("storage.s3.object_lock")
    expect(await versionsOf(plainBucket, "db/")).toEqual([])
    expect(await openUploads(plainBucket)).toEqual([])
  })

  it("a storage class: one the store offers is used; one it does not fails naming storage.s3.storage_class, nothing left", async () => {
    const standard = await storageFor(plainBucket, { storageClass: "STANDARD" })
    const stored = await run(standard.put("files/2026-12-07 0100Z_node1_files.tar.zst.age", Stream.make(Buffer.from("standard"))))
    const head = await client.send(new HeadObjectCommand({ Bucket: plainBucket, Key: stored.id }))
    expect(head.StorageClass ?? "STANDARD").toBe("STANDARD")

    const unknown = await storageFor(plainBucket, { storageClass: "GLACIER_IR" })
    const failure = await run(Effect.flip(unknown.put("files/2026-12-08 0100Z_node1_files.tar.zst.age", Stream.make(Buffer.from("x")))))
    expect(failure.message).toMatch(/refused storage class "GLACIER_IR" \(InvalidArgument; storage\.s3\.storage_class\)/)
    expect((await versionsOf(plainBucket, "files/2026-12-08")).length).toBe(0)
    expect(await openUploads(plainBucket)).toEqual([])
  })
})
