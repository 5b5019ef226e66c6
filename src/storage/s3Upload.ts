/**
 * A backup into S3 as a multipart upload, written for one property: a new
 * backup never replaces an object, and a failed one leaves nothing.
 *
 * 1. Claim a free ID. The backups of the ID's service and minute (objects
 *    and open multipart uploads) are listed, the first free numbered
 *    variant is taken, its multipart upload created, and the listing
 *    repeated: if another upload or an object for the same key shows up,
 *    this upload is aborted (it holds no data yet) and the claim starts
 *    over after a random pause. Listings are strongly consistent, so of two
 *    writers racing for one key at least one sees the other: never both win.
 * 2. Stream the parts, a few at once, each retried by the SDK (backoff with
 *    jitter) on throttling, 5xx, resets and stalls.
 * 3. Complete with `If-None-Match: *`, after checking once more that the key
 *    is free: AWS S3 refuses a completion over an existing object (412);
 *    stores that ignore the header (Ceph RGW 16) are covered by the claim
 *    against other ubackups and by the check against other writers.
 *
 * Any failure or interruption aborts the multipart upload. Credentials that
 * may not list (a put-only key) skip the listings and rely on the
 * conditional completion alone (docs/FORMAT.md says what each store does).
 */
import type { CompletedPart, ObjectCannedACL, S3Client, StorageClass } from "@aws-sdk/client-s3"
import { Clock, Effect, Random, Stream } from "effect"
import * as crypto from "node:crypto"
import { minutePrefix, parseBackupId, withSequence } from "../domain/names.ts"
import { countBytes, transformBytes } from "../stream/bytes.ts"
import { isAccessDenied, type S3Sdk, s3Failure, type S3StorageOptions, sendRaw, statusOf, defaultPartSize } from "./s3Client.ts"
import type { ObjectLock } from "./s3ObjectLock.ts"
import { type CleanupOptions, type CleanupResult, StorageError } from "./Storage.ts"
import type { StoredBackup } from "../domain/Outcome.ts"

/** S3's limit on the parts of one upload. */
const maxParts = 10_000
/** Claims lost to other writers before the backup gives up (20 concurrent backups of one ID need at most ~20). */
const maxClaimAttempts = 40
/** More backups of one ID in one minute than this is a runaway loop. */
const maxSequence = 10_000
/** Metadata on every object ubackup writes. (Open multipart uploads cannot be listed with their metadata: the key's form marks ubackup's.) */
const metadata = { writer: "ubackup" }

export interface Uploader {
  readonly sdk: S3Sdk
  readonly client: S3Client
  readonly options: S3StorageOptions
  readonly objectLock: ObjectLock
}

interface OpenUpload {
  readonly key: string
  readonly uploadId: string
  readonly initiated: Date | undefined
}

/** Listings this key is not allowed (a put-only key), learned once and then skipped. */
interface Denied {
  objects: boolean
  uploads: boolean
}

export const makeUploader = ({ sdk, client, options, objectLock }: Uploader) => {
  const { bucket } = options
  const denied: Denied = { objects: false, uploads: false }
  // on AWS (no custom endpoint) parts carry the SDK's CRC32 checksums, which the upload must declare
  const checksum = options.endpoint === undefined ? { ChecksumAlgorithm: "CRC32" as const } : {}

  /** Keys of the objects under `prefix`, or undefined when listing is not allowed. */
  const objectKeys = (prefix: string) =>
    Effect.gen(function*() {
      if (denied.objects) return undefined
      const keys = new Set<string>()
      let token: string | undefined
      do {
        const page = yield* sendRaw((abortSignal) =>
          client.send(
            new sdk.ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ...(token === undefined ? {} : { ContinuationToken: token }) }),
            { abortSignal }
          )
        ).pipe(Effect.catchIf(isAccessDenied, () => Effect.sync(() => void (denied.objects = true))))
        if (page === undefined) return undefined
        for (const object of page.Contents ?? []) if (object.Key !== undefined) keys.add(object.Key)
        token = page.IsTruncated ? page.NextContinuationToken : undefined
      } while (token !== undefined)
      return keys
    }).pipe(Effect.mapError(s3Failure("list", prefix, options)))

  /** The open multipart uploads under `prefix`, or undefined when listing them is not allowed. */
  const openUploads = (prefix: string, requireAllowed = false) =>
    Effect.gen(function*() {
      if (denied.uploads && !requireAllowed) return undefined
      const uploads: Array<OpenUpload> = []
      let keyMarker: string | undefined
      let uploadIdMarker: string | undefined
      for (;;) {
        const page = yield* sendRaw((abortSignal) =>
          client.send(
            new sdk.ListMultipartUploadsCommand({
              Bucket: bucket,
              Prefix: prefix,
              ...(keyMarker === undefined ? {} : { KeyMarker: keyMarker }),
              ...(uploadIdMarker === undefined ? {} : { UploadIdMarker: uploadIdMarker })
            }),
            { abortSignal }
          )
        ).pipe(Effect.catchIf((cause) => isAccessDenied(cause) && !requireAllowed, () => Effect.sync(() => void (denied.uploads = true))))
        if (page === undefined) return undefined
        for (const upload of page.Uploads ?? []) {
          if (upload.Key !== undefined && upload.UploadId !== undefined) {
            uploads.push({ key: upload.Key, uploadId: upload.UploadId, initiated: upload.Initiated })
          }
        }
        if (!page.IsTruncated) return uploads
        keyMarker = page.NextKeyMarker
        uploadIdMarker = page.NextUploadIdMarker
      }
    }).pipe(Effect.mapError(s3Failure("list uploads", prefix, options)))

  /** Whether `key` exists; undefined when the key may neither list nor read. */
  const objectExists = (key: string) =>
    Effect.gen(function*() {
      const keys = yield* objectKeys(key)
      if (keys !== undefined) return keys.has(key)
      return yield* sendRaw((abortSignal) => client.send(new sdk.HeadObjectCommand({ Bucket: bucket, Key: key }), { abortSignal })).pipe(
        Effect.as(true as boolean | undefined),
        Effect.catchIf((cause) => statusOf(cause) === 404, () => Effect.succeed(false)),
        Effect.catchIf(isAccessDenied, () => Effect.succeed(undefined)),
        Effect.mapError(s3Failure("check", key, options))
      )
    })

  const abort = (key: string, uploadId: string) =>
    sendRaw((abortSignal) => client.send(new sdk.AbortMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId: uploadId }), { abortSignal })).pipe(
      // already gone is what we wanted
      Effect.catchIf((cause) => statusOf(cause) === 404, () => Effect.void),
      Effect.mapError(s3Failure("abort", key, options))
    )

  /** Abort that must not fail or be interrupted (a release): logged when the store cannot be told. */
  const abortQuietly = (key: string, uploadId: string) =>
    abort(key, uploadId).pipe(
      Effect.timeoutOrElse({ duration: "60 seconds", orElse: () => Effect.fail(new StorageError({ reason: "Unavailable", operation: "abort", subject: key, detail: "no answer" })) }),
      Effect.catch((error) =>
        Effect.logWarning(`could not abort the multipart upload of ${key} (${error.detail}); \`ubackup storage cleanup\` removes it later, or, for a key that may not abort uploads, a lifecycle rule (AbortIncompleteMultipartUpload)`)
      ),
      Effect.uninterruptible
    )

  const create = (key: string) =>
    Effect.flatMap(Clock.currentTimeMillis, (now) =>
      sendRaw((abortSignal) =>
        client.send(
          new sdk.CreateMultipartUploadCommand({
            Bucket: bucket,
            Key: key,
            ContentType: "application/octet-stream",
            Metadata: metadata,
            ...(options.acl === undefined ? {} : { ACL: options.acl as ObjectCannedACL }),
            ...(options.storageClass === undefined ? {} : { StorageClass: options.storageClass as StorageClass }),
            ...objectLock.createParameters(now),
            ...checksum
          }),
          { abortSignal }
        )
      )
    ).pipe(
      Effect.mapError(storageClassFailure(key)),
      Effect.flatMap((created) =>
        created.UploadId === undefined
          ? Effect.fail(new StorageError({ reason: "Failed", operation: "put", subject: key, detail: "the store returned no upload ID" }))
          : Effect.succeed(created.UploadId)
      )
    )

  /** A store that does not know the configured storage class answers InvalidArgument or InvalidStorageClass: say which field. */
  const storageClassFailure = (key: string) => (cause: unknown): StorageError => {
    const name = (cause as { readonly name?: string } | undefined)?.name
    if (options.storageClass !== undefined && (name === "InvalidStorageClass" || name === "InvalidArgument")) {
      return new StorageError({
        reason: "Failed",
        operation: "put",
        subject: key,
        detail: `the store refused storage class "${options.storageClass}" (${name}; storage.s3.storage_class): use one it offers, or remove the field for its default`
      })
    }
    return s3Failure("put", key, options)(cause)
  }

  /** Step 1 (see the module comment): a key nobody else writes, with its open upload. */
  const claim = (id: string) =>
    Effect.gen(function*() {
      const minute = minutePrefix(id)
      for (let attempt = 1; ; attempt++) {
        const taken = yield* objectKeys(minute)
        const busy = new Set([...(taken ?? []), ...((yield* openUploads(minute)) ?? []).map((upload) => upload.key)])
        let key: string | undefined
        for (let n = 1; n <= maxSequence && key === undefined; n++) {
          const candidate = withSequence(id, n)
          if (busy.has(candidate)) continue
          // without the right to list, a read tells whether the plain ID is taken
          if (taken === undefined && (yield* objectExists(candidate)) === true) continue
          key = candidate
        }
        if (key === undefined) {
          return yield* new StorageError({ reason: "Failed", operation: "put", subject: id, detail: `${maxSequence} backups of this ID in one minute: refusing more` })
        }
        const claimed = key
        const uploadId = yield* create(claimed)
        const won = yield* Effect.gen(function*() {
          const rivals = ((yield* openUploads(claimed)) ?? []).filter((upload) => upload.key === claimed && upload.uploadId !== uploadId)
          return rivals.length === 0 && (yield* objectExists(claimed)) !== true
        }).pipe(Effect.onError(() => abortQuietly(claimed, uploadId)), Effect.onInterrupt(() => abortQuietly(claimed, uploadId)))
        if (won) return { key: claimed, uploadId }
        yield* abortQuietly(claimed, uploadId)
        if (attempt >= maxClaimAttempts) {
          return yield* new StorageError({
            reason: "Conflict",
            operation: "put",
            subject: id,
            detail: `other writers took every ID tried, ${maxClaimAttempts} times in a row`
          })
        }
        yield* Effect.sleep(yield* Random.nextIntBetween(10, 40 * Math.min(attempt, 10)))
      }
    })

  /** Cuts the stream into part-sized buffers; a buffer goes back into `spare` once its part is uploaded. */
  const toParts = (partSize: number, spare: Array<Buffer>) =>
    transformBytes(() => {
      let part: Buffer | undefined
      let filled = 0
      return {
        push: (bytes) => {
          const full: Array<Uint8Array> = []
          let offset = 0
          while (offset < bytes.length) {
            part ??= spare.pop() ?? Buffer.allocUnsafeSlow(partSize)
            const n = Math.min(partSize - filled, bytes.length - offset)
            part.set(bytes.subarray(offset, offset + n), filled)
            filled += n
            offset += n
            if (filled === partSize) {
              full.push(part)
              part = undefined
              filled = 0
            }
          }
          return full
        },
        finish: () => (part !== undefined && filled > 0 ? [part.subarray(0, filled)] : [])
      }
    })

  const uploadPart = (key: string, uploadId: string, partNumber: number, body: Uint8Array) =>
    sendRaw((abortSignal) =>
      client.send(
        new sdk.UploadPartCommand({ Bucket: bucket, Key: key, UploadId: uploadId, PartNumber: partNumber, Body: body, ContentLength: body.length }),
        { abortSignal }
      )
    ).pipe(
      Effect.mapError(s3Failure("put", key, options)),
      Effect.flatMap((result): Effect.Effect<CompletedPart, StorageError> =>
        result.ETag === undefined
          ? Effect.fail(new StorageError({ reason: "Failed", operation: "put", subject: key, detail: `the store returned no ETag for part ${partNumber}` }))
          : Effect.succeed({
            PartNumber: partNumber,
            ETag: result.ETag,
            ...(result.ChecksumCRC32 === undefined ? {} : { ChecksumCRC32: result.ChecksumCRC32 }),
            ...(result.ChecksumCRC32C === undefined ? {} : { ChecksumCRC32C: result.ChecksumCRC32C }),
            ...(result.ChecksumSHA1 === undefined ? {} : { ChecksumSHA1: result.ChecksumSHA1 }),
            ...(result.ChecksumSHA256 === undefined ? {} : { ChecksumSHA256: result.ChecksumSHA256 })
          })
      )
    )

  /** The ETag S3 gives a multipart object: MD5 of the parts' MD5s, `-`, the part count. */
  const multipartETag = (parts: ReadonlyArray<CompletedPart>) =>
    `"${crypto.createHash("md5").update(Buffer.concat(parts.map((part) => Buffer.from((part.ETag ?? "").replaceAll('"', ""), "hex")))).digest("hex")}-${parts.length}"`

  const taken = (key: string) =>
    new StorageError({
      reason: "Conflict",
      operation: "put",
      subject: key,
      detail: "another writer stored an object under this ID while the backup was uploading; it was left as it was, and this backup was not stored"
    })

  /** Step 3: publish, never over an existing object. */
  /** Completes the upload; gives the new object's version ID, where the bucket has versions. */
  const complete = (key: string, uploadId: string, parts: ReadonlyArray<CompletedPart>) =>
    Effect.gen(function*() {
      if ((yield* objectExists(key)) === true) return yield* taken(key)
      return yield* sendRaw((abortSignal) =>
        client.send(
          new sdk.CompleteMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId: uploadId, IfNoneMatch: "*", MultipartUpload: { Parts: [...parts] } }),
          { abortSignal }
        )
      ).pipe(
        Effect.map((completed): string | undefined => completed.VersionId),
        Effect.catch((cause) => {
          if (statusOf(cause) === 412) return Effect.fail(taken(key))
          // NoSuchUpload after the SDK retried a completion whose answer was lost: it may have gone through
          if (statusOf(cause) !== 404) return Effect.fail(s3Failure("put", key, options)(cause))
          return sendRaw((abortSignal) => client.send(new sdk.HeadObjectCommand({ Bucket: bucket, Key: key }), { abortSignal })).pipe(
            Effect.mapError(() => s3Failure("put", key, options)(cause)),
            Effect.flatMap((head) => (head.ETag === multipartETag(parts) ? Effect.succeed(head.VersionId) : Effect.fail(s3Failure("put", key, options)(cause))))
          )
        })
      )
    })

  const put = <E>(id: string, body: Stream.Stream<Uint8Array, E>): Effect.Effect<StoredBackup, E | StorageError> => {
    const partSize = options.partSize ?? defaultPartSize
    return Effect.acquireUseRelease(
      Effect.interruptible(Effect.andThen(objectLock.checkBeforeUpload(id), claim(id))),
      ({ key, uploadId }) =>
        Effect.gen(function*() {
          let size = 0
          const spare: Array<Buffer> = []
          const parts = yield* body.pipe(
            countBytes((bytes) => void (size += bytes)),
            toParts(partSize, spare),
            Stream.mapEffect((part, index) =>
              index >= maxParts
                ? Effect.fail(new StorageError({
                  reason: "Failed",
                  operation: "put",
                  subject: key,
                  detail: `the backup is larger than ${maxParts} parts of ${partSize / 1024 / 1024} MiB: raise storage.s3.part_size_mb`
                }))
                : uploadPart(key, uploadId, index + 1, part).pipe(
                  Effect.tap(() => Effect.sync(() => void (part.length === partSize && spare.length <= (options.partsInFlight ?? 2) && spare.push(part as Buffer))))
                ), { concurrency: options.partsInFlight ?? 2 }),
            Stream.runCollect
          )
          // a stream with no bytes at all is one empty part
          const all = parts.length > 0 ? parts : [yield* uploadPart(key, uploadId, 1, new Uint8Array(0))]
          const versionId = yield* Effect.uninterruptible(complete(key, uploadId, all))
          yield* objectLock.retain(key, versionId, yield* Clock.currentTimeMillis)
          return { id: key, size, modified: new Date(yield* Clock.currentTimeMillis) } satisfies StoredBackup
        }),
      ({ key, uploadId }, exit) => (exit._tag === "Success" ? Effect.void : abortQuietly(key, uploadId))
    )
  }

  /** The newest sign of life of an open upload: its last part, else its start. */
  const lastActivity = (upload: OpenUpload) =>
    Effect.gen(function*() {
      let newest = upload.initiated?.getTime() ?? 0
      let marker: string | undefined
      for (;;) {
        const page = yield* sendRaw((abortSignal) =>
          client.send(
            new sdk.ListPartsCommand({ Bucket: bucket, Key: upload.key, UploadId: upload.uploadId, ...(marker === undefined ? {} : { PartNumberMarker: marker }) }),
            { abortSignal }
          )
        ).pipe(Effect.mapError(s3Failure("cleanup", upload.key, options)))
        for (const part of page.Parts ?? []) newest = Math.max(newest, part.LastModified?.getTime() ?? 0)
        if (!page.IsTruncated || page.NextPartNumberMarker === undefined) return newest
        marker = page.NextPartNumberMarker
      }
    })

  /** Aborts ubackup's own multipart uploads (their keys are backup IDs) that have been quiet for `olderThanMs`. */
  const cleanup = (cleanupOptions: CleanupOptions): Effect.Effect<CleanupResult, StorageError> =>
    Effect.gen(function*() {
      const now = yield* Clock.currentTimeMillis
      const removed: Array<string> = []
      let kept = 0
      for (const upload of (yield* openUploads("", true)) ?? []) {
        const parsed = parseBackupId(upload.key)
        // another tool's upload in the same bucket is none of ubackup's business
        if (parsed === undefined || !/\.(zst|gz)\.age$/.test(parsed.rest)) continue
        if (cleanupOptions.hostname !== undefined && parsed.hostname !== cleanupOptions.hostname) {
          kept++
          continue
        }
        if (now - (yield* lastActivity(upload)) < cleanupOptions.olderThanMs) {
          kept++
          continue
        }
        yield* abort(upload.key, upload.uploadId)
        removed.push(upload.key)
      }
      return { removed, kept }
    })

  return { put, cleanup }
}
