/**
 * S3 and S3-compatible storage. Uploads stream through a multipart upload
 * (@aws-sdk/lib-storage) with a bounded number of part buffers; when the
 * backup stream fails or the run is interrupted, the multipart upload is
 * aborted and no object appears. Nothing touches the disk.
 */
import type { ListObjectsV2CommandOutput, S3Client, S3ClientConfig } from "@aws-sdk/client-s3"
import * as NodeStream from "@effect/platform-node/NodeStream"
import { Effect, Layer, Redacted, Stream } from "effect"
import type { Readable } from "node:stream"
import { isBackupId, isSafeName } from "../pipeline/names.ts"
import { countBytes } from "../stream/bytes.ts"
import type * as Sdk from "../vendor/s3.ts"
import { Storage, type StoredBackup, StorageError } from "./Storage.ts"

export type S3Sdk = typeof Sdk

/** Loads the AWS SDK (its own file in the CLI build). */
export const loadS3Sdk = (): Promise<S3Sdk> => import("../vendor/s3.ts")

export interface S3StorageOptions {
  readonly bucket: string
  readonly region?: string | undefined
  /** Both or neither; neither means the standard AWS credential chain. */
  readonly accessKeyId?: string | undefined
  readonly secretAccessKey?: Redacted.Redacted<string> | undefined
  /** For S3-compatible stores: `https://minio.example.com:9000`. */
  readonly endpoint?: string | undefined
  readonly forcePathStyle?: boolean | undefined
  /** Bytes per multipart part (default 8 MiB; S3 allows 10,000 parts). */
  readonly partSize?: number | undefined
  /** Parts uploaded at once (default 2). Memory held is about (queueSize + 1) × partSize. */
  readonly queueSize?: number | undefined
}

export const defaultPartSize = 8 * 1024 * 1024

interface SdkError {
  readonly name?: string
  readonly message?: string
  readonly code?: string
  readonly $metadata?: { readonly httpStatusCode?: number }
}

/** Maps SDK and network errors to messages a user can act on; never includes credentials. */
const failure = (operation: string, subject: string, options: S3StorageOptions) => (cause: unknown): StorageError => {
  const error = (cause ?? {}) as SdkError
  const name = error.name ?? "Error"
  const status = error.$metadata?.httpStatusCode
  const where = options.endpoint ?? "AWS S3"
  const make = (reason: StorageError["reason"], detail: string) => new StorageError({ reason, operation, subject, detail })
  switch (name) {
    case "NoSuchKey":
    case "NotFound":
      return make("NotFound", "no such backup")
    case "NoSuchBucket":
      return make("Unavailable", `bucket "${options.bucket}" does not exist (storage.s3.bucket)`)
    case "SignatureDoesNotMatch":
      return make("AccessDenied", "S3 rejected the request signature: the secret key is wrong (storage.s3.access_key_secret)")
    case "InvalidAccessKeyId":
      return make("AccessDenied", "S3 does not know the access key (storage.s3.access_key_id)")
    case "AccessDenied":
    case "Forbidden":
      return make("AccessDenied", `access denied by S3 for ${operation} (check the credentials' permissions)`)
    case "CredentialsProviderError":
      return make("AccessDenied", "no S3 credentials: set storage.s3.access_key_id and access_key_secret, or provide AWS credentials in the environment")
  }
  if (error.code === "ECONNREFUSED" || error.code === "ENOTFOUND" || error.code === "ETIMEDOUT" || error.code === "ECONNRESET") {
    return make("Unavailable", `cannot reach ${where} (${error.code})`)
  }
  return make(
    status === 403 ? "AccessDenied" : "Failed",
    `${name}${status ? ` (HTTP ${status})` : ""}: ${error.message ?? String(cause)}`
  )
}

export const makeS3Client = (sdk: S3Sdk, options: S3StorageOptions): S3Client => {
  const config: S3ClientConfig = {
    region: options.region ?? "us-east-1",
    forcePathStyle: options.forcePathStyle ?? options.endpoint !== undefined,
    maxAttempts: 5
  }
  if (options.endpoint !== undefined) {
    config.endpoint = options.endpoint
    // S3-compatible stores ignore or reject the SDK's default flexible checksums
    config.requestChecksumCalculation = "WHEN_REQUIRED"
    config.responseChecksumValidation = "WHEN_REQUIRED"
  }
  if (options.accessKeyId !== undefined && options.secretAccessKey !== undefined) {
    config.credentials = { accessKeyId: options.accessKeyId, secretAccessKey: Redacted.value(options.secretAccessKey) }
  }
  return new sdk.S3Client(config)
}

export const makeS3Storage = (sdk: S3Sdk, client: S3Client, options: S3StorageOptions): Storage["Service"] => {
  const { bucket } = options
  const send = <A>(operation: string, subject: string, f: (signal: AbortSignal) => Promise<A>) =>
    Effect.tryPromise({ try: f, catch: failure(operation, subject, options) })

  const put = <E>(id: string, body: Stream.Stream<Uint8Array, E>): Effect.Effect<StoredBackup, E | StorageError> => {
    if (!isBackupId(id)) {
      return Effect.fail(new StorageError({ reason: "InvalidId", operation: "put", subject: JSON.stringify(id), detail: "not a backup ID" }))
    }
    return Effect.gen(function*() {
      let size = 0
      let bodyFailure: { readonly error: E } | undefined
      const counted = body.pipe(
        countBytes((bytes) => void (size += bytes)),
        // remember the stream's own error: lib-storage only sees "the Body failed"
        Stream.tapError((error) => Effect.sync(() => void (bodyFailure = { error })))
      )
      const readable: Readable = yield* NodeStream.toReadable(counted)
      const uploaded = yield* Effect.callback<void, StorageError>((resume) => {
        const upload = new sdk.Upload({
          client,
          params: { Bucket: bucket, Key: id, Body: readable },
          partSize: options.partSize ?? defaultPartSize,
          queueSize: options.queueSize ?? 2,
          leavePartsOnError: false
        })
        const done = upload.done()
        done.then(
          () => resume(Effect.void),
          (cause) => resume(Effect.fail(failure("put", id, options)(cause)))
        )
        // Interrupted (SIGTERM, a timeout): fail the Body. lib-storage then
        // sends AbortMultipartUpload and only afterwards settles done(), so
        // awaiting it proves the abort went out. (upload.abort() settles at
        // once and may never send the abort while the Body is stalled.)
        return Effect.promise(async () => {
          readable.destroy(new Error("backup interrupted"))
          await done.catch(() => undefined)
        })
      }).pipe(Effect.result)
      if (uploaded._tag === "Failure") {
        // the backup stream's own failure (a failed command, a bad key) says more than the upload's
        return yield* (bodyFailure !== undefined ? Effect.fail(bodyFailure.error) : Effect.fail(uploaded.failure))
      }
      return { id, size, modified: new Date() }
    })
  }

  const get = (id: string): Stream.Stream<Uint8Array, StorageError> =>
    !isBackupId(id)
      ? Stream.fail(new StorageError({ reason: "InvalidId", operation: "get", subject: JSON.stringify(id), detail: "not a backup ID (<service>/<file>)" }))
      : Stream.unwrap(
        send("get", id, (signal) => client.send(new sdk.GetObjectCommand({ Bucket: bucket, Key: id }), { abortSignal: signal })).pipe(
          Effect.map((response) =>
            NodeStream.fromReadable<Uint8Array, StorageError>({
              evaluate: () => response.Body as Readable,
              onError: failure("get", id, options)
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
            .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
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

  return { location: `s3://${bucket}${options.endpoint ? ` at ${options.endpoint}` : ""}`, put, get, list, listServices }
}

/** The S3 client lives as long as the layer. */
export const layerS3 = (options: S3StorageOptions) =>
  Layer.effect(
    Storage,
    Effect.gen(function*() {
      const sdk = yield* Effect.promise(loadS3Sdk)
      const client = yield* Effect.acquireRelease(
        Effect.sync(() => makeS3Client(sdk, options)),
        (client) => Effect.sync(() => client.destroy())
      )
      return makeS3Storage(sdk, client, options)
    })
  )
