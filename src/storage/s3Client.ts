/**
 * What every S3 request of ubackup shares: the options a config gives, the
 * SDK client made from them (timeouts, retries, checksums for
 * S3-compatible stores), and the mapping of SDK and network errors to
 * `StorageError`s a user can act on, never carrying a credential.
 */
import type { S3Client, S3ClientConfig } from "@aws-sdk/client-s3"
import { Effect, Redacted } from "effect"
import type * as Sdk from "../vendor/s3.ts"
import { StorageError } from "./Storage.ts"

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
  /** Parts uploaded at once (default 2). Memory held is about (partsInFlight + 1) × partSize. */
  readonly partsInFlight?: number | undefined
  /** A canned ACL for every upload, e.g. `bucket-owner-full-control` (a put-only user's objects, readable by the bucket's owner). */
  readonly acl?: string | undefined
  /**
   * A request with no traffic for this long (a stalled connection) is
   * abandoned and retried (default 60 s).
   */
  readonly requestTimeoutMs?: number | undefined
  /** Attempts per request, the first included (default 5), with exponential backoff and jitter between them. */
  readonly maxAttempts?: number | undefined
  /** The S3 storage class of every upload (`STANDARD_IA`, `GLACIER_IR`, or a store's own); the bucket's default when absent. */
  readonly storageClass?: string | undefined
  /**
   * An S3 Object Lock retention on every upload, from its completion: the
   * bucket must have Object Lock enabled. Until then, no one can delete the
   * backup (governance: only with the bypass permission).
   */
  readonly objectLock?: { readonly mode: "GOVERNANCE" | "COMPLIANCE"; readonly days: number } | undefined
}

export const defaultPartSize = 8 * 1024 * 1024
export const defaultRequestTimeoutMs = 60_000

export interface SdkError {
  readonly name?: string
  readonly message?: string
  readonly code?: string
  readonly $metadata?: { readonly httpStatusCode?: number }
}

/** The HTTP status of a failed SDK call, if the store answered. */
export const statusOf = (cause: unknown): number | undefined => (cause as SdkError | undefined)?.$metadata?.httpStatusCode

/** The store refused the request for lack of permission (a put-only key asking to list, say). */
export const isAccessDenied = (cause: unknown): boolean => {
  const name = (cause as SdkError | undefined)?.name
  return name === "AccessDenied" || name === "Forbidden" || statusOf(cause) === 403
}

/** Maps SDK and network errors to messages a user can act on; never includes credentials. */
export const s3Failure = (operation: string, subject: string, options: S3StorageOptions) => (cause: unknown): StorageError => {
  if (cause instanceof StorageError) return cause
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
    case "TimeoutError":
      return make("Unavailable", `${where} stopped answering (no traffic for storage.s3.request_timeout, on every attempt)`)
  }
  const code = error.code ?? (error as { readonly cause?: SdkError }).cause?.code
  if (code === "ECONNREFUSED" || code === "ENOTFOUND" || code === "ETIMEDOUT" || code === "ECONNRESET" || code === "EPIPE") {
    return make("Unavailable", `cannot reach ${where} (${code})`)
  }
  return make(
    status === 403 ? "AccessDenied" : "Failed",
    `${name}${status ? ` (HTTP ${status})` : ""}: ${error.message ?? String(cause)}`
  )
}

/**
 * The SDK client. Every request is retried by the SDK's standard strategy
 * (exponential backoff with full jitter, a bounded retry budget) on
 * throttling (SlowDown, 503), 5xx answers, resets and timeouts; a request
 * whose connection goes quiet for `requestTimeoutMs` counts as timed out.
 */
export const makeS3Client = (sdk: S3Sdk, options: S3StorageOptions): S3Client => {
  const config: S3ClientConfig = {
    region: options.region ?? "us-east-1",
    forcePathStyle: options.forcePathStyle ?? options.endpoint !== undefined,
    maxAttempts: options.maxAttempts ?? 5,
    retryMode: "standard",
    // socketTimeout is the idle timeout; the SDK's requestTimeout caps a whole request and only warns by default, so a
    // stalled connection would hang a backup for ever (found by test/e2e/storageFaults.test.ts)
    requestHandler: { socketTimeout: options.requestTimeoutMs ?? defaultRequestTimeoutMs, connectionTimeout: 10_000 }
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

/** One SDK call, aborted when the fiber is interrupted; its failure mapped by `s3Failure`. */
export const sendWith = (options: S3StorageOptions) =>
<A>(operation: string, subject: string, f: (signal: AbortSignal) => Promise<A>) =>
  Effect.tryPromise({ try: f, catch: s3Failure(operation, subject, options) })

/** The same call with the SDK's own error kept, for callers that decide on it (404, 403, 412). */
export const sendRaw = <A>(f: (signal: AbortSignal) => Promise<A>) => Effect.tryPromise({ try: f, catch: (cause) => cause })
