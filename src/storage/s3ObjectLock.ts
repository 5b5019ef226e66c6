/**
 * S3 Object Lock: a retention on every upload (`storage.s3.object_lock`),
 * and the check that keeps prune off locked backups.
 *
 * The retention is asked for when the multipart upload is created (AWS
 * applies it from there) and set again on the completed version with
 * PutObjectRetention, because Ceph RGW 16 ignores it on multipart uploads
 * (measured: the object came out with no retention, and its version could
 * be deleted). A bucket without Object Lock is found before any byte is
 * sent where the credentials may read the bucket's lock configuration, and
 * otherwise by the retention call: either way the error names the bucket
 * and the config field.
 */
import type { HeadObjectCommandOutput, S3Client } from "@aws-sdk/client-s3"
import { Effect } from "effect"
import { isAccessDenied, type S3Sdk, s3Failure, type S3StorageOptions, type SdkError, sendRaw, statusOf } from "./s3Client.ts"
import { StorageError } from "./Storage.ts"

const day = 86_400_000

export type LockState = "enabled" | "disabled" | "unknown"

export const noObjectLock = (bucket: string, subject: string) =>
  new StorageError({
    reason: "Failed",
    operation: "put",
    subject,
    detail: `storage.s3.object_lock is set, but bucket "${bucket}" does not have Object Lock enabled: ` +
      "create the bucket with Object Lock on (most stores cannot turn it on later), or remove storage.s3.object_lock"
  })

export const makeObjectLock = (sdk: S3Sdk, client: S3Client, options: S3StorageOptions) => {
  const { bucket } = options
  let state: LockState | undefined

  /** Whether the bucket has Object Lock on; "unknown" when the credentials may not ask. Asked once. */
  const bucketState: Effect.Effect<LockState, StorageError> = Effect.suspend(() =>
    state !== undefined ? Effect.succeed(state) : sendRaw((abortSignal) => client.send(new sdk.GetObjectLockConfigurationCommand({ Bucket: bucket }), { abortSignal })).pipe(
      Effect.map((answer): LockState => (answer.ObjectLockConfiguration?.ObjectLockEnabled === "Enabled" ? "enabled" : "disabled")),
      Effect.catch((cause): Effect.Effect<LockState, StorageError> => {
        const name = (cause as SdkError | undefined)?.name
        if (name === "ObjectLockConfigurationNotFoundError") return Effect.succeed("disabled")
        if (isAccessDenied(cause) || statusOf(cause) === 501 || name === "NotImplemented") return Effect.succeed("unknown")
        return Effect.fail(s3Failure("put", `s3://${bucket}`, options)(cause))
      }),
      Effect.tap((learned) => Effect.sync(() => void (state = learned)))
    )
  )

  /** Fails at once when a retention is configured and the bucket is known to have no Object Lock. */
  const checkBeforeUpload = (id: string) =>
    options.objectLock === undefined
      ? Effect.void
      : Effect.flatMap(bucketState, (known) => (known === "disabled" ? Effect.fail(noObjectLock(bucket, id)) : Effect.void))

  /** The headers for CreateMultipartUpload. */
  const createParameters = (now: number) =>
    options.objectLock === undefined
      ? {}
      : { ObjectLockMode: options.objectLock.mode, ObjectLockRetainUntilDate: new Date(now + options.objectLock.days * day) }

  /** Sets the retention on the completed version (see the module comment). */
  const retain = (key: string, versionId: string | undefined, now: number) =>
    options.objectLock === undefined
      ? Effect.void
      : sendRaw((abortSignal) =>
        client.send(
          new sdk.PutObjectRetentionCommand({
            Bucket: bucket,
            Key: key,
            ...(versionId === undefined ? {} : { VersionId: versionId }),
            Retention: { Mode: options.objectLock!.mode, RetainUntilDate: new Date(now + options.objectLock!.days * day) }
          }),
          { abortSignal }
        )
      ).pipe(
        Effect.asVoid,
        Effect.mapError((cause) => {
          const name = (cause as SdkError | undefined)?.name
          if (name === "InvalidRequest" || name === "ObjectLockConfigurationNotFoundError") return noObjectLock(bucket, key)
          const failure = s3Failure("put", key, options)(cause)
          return new StorageError({
            reason: failure.reason,
            operation: "put",
            subject: key,
            detail: `stored as ${key}, but its Object Lock retention could not be set${
              isAccessDenied(cause) ? " (these credentials need s3:PutObjectRetention)" : ""
            }: ${failure.detail}`
          })
        })
      )

  /**
   * Why `head`'s version may not be deleted now (a retention date ahead, a
   * legal hold), or undefined.
   */
  const lockedBy = (head: HeadObjectCommandOutput, now: number): string | undefined => {
    if (head.ObjectLockLegalHoldStatus === "ON") return "under an S3 Object Lock legal hold"
    const until = head.ObjectLockRetainUntilDate
    if (until !== undefined && until.getTime() > now) {
      return `locked by S3 Object Lock (${(head.ObjectLockMode ?? "retention").toLowerCase()}) until ${until.toISOString()}`
    }
    return undefined
  }

  return { bucketState, checkBeforeUpload, createParameters, retain, lockedBy }
}

export type ObjectLock = ReturnType<typeof makeObjectLock>
