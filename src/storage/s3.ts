/**
 * S3 and S3-compatible storage. Uploads stream through a multipart upload
 * with a bounded number of part buffers (s3Upload.ts: never over an
 * existing object); when the backup stream fails or the run is interrupted,
 * the multipart upload is aborted and no object appears. Nothing touches
 * the disk.
 */
import type { ListObjectsV2CommandOutput, S3Client } from "@aws-sdk/client-s3"
import * as NodeStream from "@effect/platform-node/NodeStream"
import { Clock, Effect, Layer, type Scope, Stream } from "effect"
import type { Readable } from "node:stream"
import { compareBackupIds, isBackupId, isSafeName } from "../domain/names.ts"
import { isAccessDenied, loadS3Sdk, makeS3Client, type S3Sdk, s3Failure, type S3StorageOptions, sendRaw, sendWith, statusOf } from "./s3Client.ts"
import { makeObjectLock } from "./s3ObjectLock.ts"
import { makeUploader } from "./s3Upload.ts"
import { type RemoveFailure, type RemoveResult, Storage, StorageError, type StorageFailure } from "./Storage.ts"
import type { StoredBackup } from "../domain/Outcome.ts"

export { defaultPartSize, loadS3Sdk, makeS3Client, type S3Sdk, type S3StorageOptions } from "./s3Client.ts"

// the service this module implements, so that `ubackup/storage/local` and `ubackup/storage/s3` are complete on their own
export {
  type CleanupOptions,
  type CleanupResult,
  type RemoveFailure,
  type RemoveResult,
  Storage,
  StorageError,
  StorageFailure
} from "./Storage.ts"

/** S3 deletes at most this many keys per DeleteObjects call. */
const deleteBatch = 1000

const deleteFailure = (code: string | undefined): StorageFailure =>
  code === "AccessDenied" ? "AccessDenied" : code === "NoSuchKey" ? "NotFound" : "Failed"

/** An Object Lock retention shows as AccessDenied on the key: say that it may be the lock. */
const deleteDetail = (code: string | undefined, message: string | undefined): string =>
  code === "AccessDenied"
    ? "access denied by S3: the object is under an Object Lock retention or legal hold, or these credentials may not delete"
    : `${code ?? "Error"}: ${message ?? "not deleted"}`

export const makeS3Storage = (sdk: S3Sdk, client: S3Client, options: S3StorageOptions): Storage["Service"] => {
  const { bucket } = options
  const send = sendWith(options)
  const objectLock = makeObjectLock(sdk, client, options)
  const uploader = makeUploader({ sdk, client, options, objectLock })

  const put = <E>(id: string, body: Stream.Stream<Uint8Array, E>): Effect.Effect<StoredBackup, E | StorageError> =>
    isBackupId(id)
      ? uploader.put(id, body)
      : Effect.fail(new StorageError({ reason: "InvalidId", operation: "put", subject: JSON.stringify(id), detail: "not a backup ID" }))

  const get = (id: string): Stream.Stream<Uint8Array, StorageError> =>
    !isBackupId(id)
      ? Stream.fail(new StorageError({ reason: "InvalidId", operation: "get", subject: JSON.stringify(id), detail: "not a backup ID (<service>/<file>)" }))
      : Stream.unwrap(
        send("get", id, (signal) => client.send(new sdk.GetObjectCommand({ Bucket: bucket, Key: id }), { abortSignal: signal })).pipe(
          Effect.map((response) =>
            NodeStream.fromReadable<Uint8Array, StorageError>({
              evaluate: () => response.Body as Readable,
              onError: s3Failure("get", id, options)
            })
          )
        )
      )

  const listPages = (operation: string, subject: string, prefix: string, delimiter?: string) =>
    Effect.gen(function*() {
      const pages: Array<ListObjectsV2CommandOutput> = []
      let token: string | undefined
      do {
        const page = yield* send(operation, subject, (signal) =>
          client.send(
            new sdk.ListObjectsV2Command({
              Bucket: bucket,
              Prefix: prefix,
              ...(delimiter !== undefined ? { Delimiter: delimiter } : {}),
              ...(token !== undefined ? { ContinuationToken: token } : {})
            }),
            { abortSignal: signal }
          ))
        pages.push(page)
        token = page.IsTruncated ? page.NextContinuationToken : undefined
      } while (token !== undefined)
      return pages
    })

  const list = (service: string): Effect.Effect<ReadonlyArray<StoredBackup>, StorageError> =>
    !isSafeName(service)
      ? Effect.fail(new StorageError({ reason: "InvalidId", operation: "ls", subject: JSON.stringify(service), detail: "not a service name" }))
      : listPages("ls", service, `${service}/`, "/").pipe(
        Effect.map((pages) =>
          pages
            .flatMap((page) => page.Contents ?? [])
            .flatMap((object) =>
              object.Key !== undefined
                ? [{ id: object.Key, size: object.Size ?? 0, modified: object.LastModified ?? new Date(0) }]
                : []
            )
            .sort((a, b) => compareBackupIds(a.id, b.id))
        )
      )

  const listServices = listPages("ls-services", `s3://${bucket}`, "", "/").pipe(
    Effect.map((pages) =>
      pages
        .flatMap((page) => page.CommonPrefixes ?? [])
        .flatMap((prefix) => (prefix.Prefix ? [prefix.Prefix.replace(/\/$/, "")] : []))
        .sort()
    )
  )

  /**
   * In a bucket with Object Lock, each backup's current version is looked
   * at first: a locked one is left (reason "Locked", with its date), the
   * others are deleted by version, so that the bytes go and not just the
   * name (a delete marker). Elsewhere, keys are deleted as they are.
   */
  const deletable = (ids: ReadonlyArray<string>, failed: Array<RemoveFailure>) =>
    Effect.gen(function*() {
      if ((yield* objectLock.bucketState) !== "enabled") return { objects: ids.map((Key) => ({ Key })), gone: [] as Array<string> }
      const now = yield* Clock.currentTimeMillis
      const heads = yield* Effect.forEach(ids, (id) =>
        sendRaw((abortSignal) => client.send(new sdk.HeadObjectCommand({ Bucket: bucket, Key: id }), { abortSignal })).pipe(
          Effect.map((head) => ({ id, head, status: 200 })),
          Effect.catch((cause) =>
            statusOf(cause) === 404 || isAccessDenied(cause)
              ? Effect.succeed({ id, head: undefined, status: statusOf(cause) ?? 403 })
              : Effect.fail(s3Failure("rm", id, options)(cause))
          )
        ), { concurrency: 8 })
      const objects: Array<{ Key: string; VersionId?: string }> = []
      const gone: Array<string> = []
      for (const { id, head, status } of heads) {
        if (status === 404) {
          gone.push(id)
          continue
        }
        const locked = head === undefined ? undefined : objectLock.lockedBy(head, now)
        if (locked !== undefined) failed.push({ id, reason: "Locked", detail: locked })
        else objects.push(head?.VersionId === undefined ? { Key: id } : { Key: id, VersionId: head.VersionId })
      }
      return { objects, gone }
    })

  /** DeleteObjects, 1000 keys a call (S3's limit); each key's error (a lock, a denial) reported, not raised. */
  const remove = (ids: ReadonlyArray<string>): Effect.Effect<RemoveResult, StorageError> =>
    Effect.gen(function*() {
      const failed: Array<RemoveFailure> = []
      const valid = ids.filter((id) => {
        if (isBackupId(id)) return true
        failed.push({ id, reason: "InvalidId", detail: "not a backup ID (<service>/<file>)" })
        return false
      })
      const { objects, gone } = yield* deletable(valid, failed)
      const removed: Array<string> = [...gone]
      for (let start = 0; start < objects.length; start += deleteBatch) {
        const batch = objects.slice(start, start + deleteBatch)
        const response = yield* send("rm", `${batch.length} backup(s) in s3://${bucket}`, (signal) =>
          client.send(new sdk.DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: batch, Quiet: false } }), { abortSignal: signal }))
        const errors = new Map((response.Errors ?? []).flatMap((error) => (error.Key === undefined ? [] : [[error.Key, error] as const])))
        for (const { Key: id } of batch) {
          const error = errors.get(id)
          if (error === undefined) removed.push(id)
          else failed.push({ id, reason: deleteFailure(error.Code), detail: deleteDetail(error.Code, error.Message) })
        }
      }
      return { removed, failed }
    })

  return {
    location: `s3://${bucket}${options.endpoint ? ` at ${options.endpoint}` : ""}`,
    put,
    get,
    list,
    listServices,
    cleanup: uploader.cleanup,
    remove
  }
}

/** The S3 client lives as long as the layer. */
/** The S3 storage, its client living as long as the scope. */
export const scopedS3Storage = (options: S3StorageOptions): Effect.Effect<Storage["Service"], never, Scope.Scope> =>
  Effect.gen(function*() {
    const sdk = yield* Effect.promise(loadS3Sdk)
    const client = yield* Effect.acquireRelease(
      Effect.sync(() => makeS3Client(sdk, options)),
      (client) => Effect.sync(() => client.destroy())
    )
    return makeS3Storage(sdk, client, options)
  })

export const layerS3 = (options: S3StorageOptions) => Layer.effect(Storage, scopedS3Storage(options))
