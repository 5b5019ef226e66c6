/**
 * S3 storage against a real server (Ceph radosgw, started by globalSetup),
 * through the library (makeS3Storage): failed, interrupted or timed-out
 * puts leave no object and no open multipart upload behind; and what RGW
 * does with conditional writes, as docs/FORMAT.md says. The same storage
 * through the CLI is tested in test/cli/storageS3.test.ts.
 */
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  DeleteBucketCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  ListPartsCommand,
  PutObjectCommand,
  S3Client,
  UploadPartCommand
} from "@aws-sdk/client-s3"
import { Cause, Data, Effect, Fiber, Redacted, Stream } from "effect"
import * as crypto from "node:crypto"
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest"
import { loadS3Sdk, makeS3Client, makeS3Storage, type S3StorageOptions } from "../../src/storage/s3.ts"
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

describe.runIf(ready)("S3 storage (radosgw)", () => {
  const bucket = `ubackup-s3-${crypto.randomBytes(4).toString("hex")}`
  let client: S3Client

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

  const exists = (key: string) =>
    client.send(new HeadObjectCommand({ Bucket: bucket, Key: key })).then(
      () => true,
      (error: { readonly name?: string }) => {
        if (error.name === "NotFound" || error.name === "NoSuchKey") return false
        throw error
      }
    )

  const libraryOptions = (): S3StorageOptions => ({
    bucket,
    region: server().region,
    accessKeyId: server().accessKeyId,
    secretAccessKey: Redacted.make(server().secretAccessKey),
    endpoint: server().endpoint,
    forcePathStyle: true
  })

  beforeAll(async () => {
    client = sdk()
    await client.send(new CreateBucketCommand({ Bucket: bucket }))
  })

  afterAll(async () => {
    if (client === undefined) return
    // the server is thrown away after the run; emptying the bucket still frees its disk early
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
    await remove(bucket).catch((error: unknown) => console.warn(`could not remove bucket ${bucket}: ${String(error)}`))
    client.destroy()
  })

  describe("a failed or interrupted put leaves nothing", () => {
    class SnapshotFailed extends Data.TaggedError("SnapshotFailed")<{ readonly afterBytes: number }> {}

    /** `chunks` MiB of random bytes (one buffer, repeated). */
    const mebibytes = (chunks: number) => {
      const chunk = crypto.randomBytes(MiB)
      return Stream.fromIterable(Array.from({ length: chunks }, () => chunk))
    }

    /** Waits until the multipart upload of `key` holds at least one part. */
    const partUploaded = async (key: string) => {
      const upload = await waitFor(`a multipart upload of ${key}`, async () => (await openUploads(key))[0])
      await waitFor(`an uploaded part of ${key}`, async () => {
        const parts = await client.send(new ListPartsCommand({ Bucket: bucket, Key: key, UploadId: upload.UploadId }))
        return (parts.Parts ?? []).length > 0 ? true : undefined
      })
    }

    const withStorage = <A>(f: (storage: ReturnType<typeof makeS3Storage>) => Promise<A>) => {
      const options = libraryOptions()
      return loadS3Sdk().then((sdk) => {
        const s3Client = makeS3Client(sdk, options)
        return f(makeS3Storage(sdk, s3Client, options)).finally(() => s3Client.destroy())
      })
    }

    it("a stream that fails after ~20 MiB: put fails with that error, no object, no multipart upload", () =>
      withStorage(async (storage) => {
        const id = "failing/2024-01-01 0000Z_host_task.zst.age"
        const body = mebibytes(20).pipe(
          // fail only once the upload holds parts, so that there is something to abort
          Stream.concat(Stream.fromEffectDrain(Effect.promise(() => partUploaded(id)))),
          Stream.concat(Stream.fail(new SnapshotFailed({ afterBytes: 20 * MiB })))
        )
        const error = await Effect.runPromise(Effect.flip(storage.put(id, body)))
        expect(error).toBeInstanceOf(SnapshotFailed)
        expect(error).toEqual(new SnapshotFailed({ afterBytes: 20 * MiB }))
        expect(await exists(id)).toBe(false)
        expect(await openUploadKeys()).toEqual([])
      }))

    it("a put interrupted while its stream is stalled, after parts were uploaded: no object, no multipart upload", () =>
      withStorage(async (storage) => {
        const id = "stalled/2024-01-01 0000Z_host_task.zst.age"
        const fiber = Effect.runFork(storage.put(id, mebibytes(20).pipe(Stream.concat(Stream.never))))
        await partUploaded(id)
        const exit = await Effect.runPromise(Fiber.interrupt(fiber).pipe(Effect.andThen(Fiber.await(fiber))))
        expect(exit._tag === "Failure" && Cause.hasInterruptsOnly(exit.cause)).toBe(true)
        expect(await exists(id)).toBe(false)
        expect(await openUploadKeys()).toEqual([])
      }))

    it("a put that times out while its stream is stalled: no object, no multipart upload", () =>
      withStorage(async (storage) => {
        const id = "timeout/2024-01-01 0000Z_host_task.zst.age"
        const error = await Effect.runPromise(
          storage.put(id, mebibytes(20).pipe(Stream.concat(Stream.never))).pipe(Effect.timeout("3 seconds"), Effect.flip)
        )
        expect(Cause.isTimeoutError(error)).toBe(true)
        expect(await exists(id)).toBe(false)
        expect(await openUploadKeys()).toEqual([])
      }))
  })
})

/** What docs/FORMAT.md says of RGW's conditional writes, pinned: if an RGW upgrade changes it, this fails and the docs need a look. */
describe.runIf(ready)("radosgw and If-None-Match: * (docs/FORMAT.md)", () => {
  const bucket = `ubackup-inm-${crypto.randomBytes(4).toString("hex")}`
  beforeAll(async () => {
    await sdk().send(new CreateBucketCommand({ Bucket: bucket }))
  })

  it("refuses a PutObject over an existing key (412), but completes a multipart upload over one", async () => {
    const client = sdk()
    await client.send(new PutObjectCommand({ Bucket: bucket, Key: "k", Body: "first" }))
    const refused = await client.send(new PutObjectCommand({ Bucket: bucket, Key: "k", Body: "second", IfNoneMatch: "*" })).then(() => 200, (error: { $metadata?: { httpStatusCode?: number } }) => error.$metadata?.httpStatusCode)
    expect(refused).toBe(412)

    const { UploadId } = await client.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: "k" }))
    const part = await client.send(new UploadPartCommand({ Bucket: bucket, Key: "k", UploadId, PartNumber: 1, Body: "third" }))
    const completed = await client.send(new CompleteMultipartUploadCommand({
      Bucket: bucket, Key: "k", UploadId, IfNoneMatch: "*", MultipartUpload: { Parts: [{ PartNumber: 1, ETag: part.ETag }] }
    })).then(() => 200, (error: { $metadata?: { httpStatusCode?: number } }) => error.$metadata?.httpStatusCode)
    expect(completed).toBe(200)
    const body = await (await client.send(new GetObjectCommand({ Bucket: bucket, Key: "k" }))).Body!.transformToString()
    expect(body).toBe("third")
  })
})
