/**
 * A real S3-compatible server for the tests: Ceph's RADOS Gateway on
 * 127.0.0.1, a throwaway single-node cluster started from
 * scripts/rgw/start-rgw.sh and removed afterwards.
 */
import { ListObjectsV2Command, S3Client } from "@aws-sdk/client-s3"
import { Redacted } from "effect"
import { execFile } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { promisify } from "node:util"
import { loadS3Sdk, makeS3Client, makeS3Storage, type S3StorageOptions } from "../../src/storage/s3.ts"
import { freePort } from "./tools.ts"

const run = promisify(execFile)
const scripts = path.resolve(import.meta.dirname, "../../scripts/rgw")

export interface S3Endpoint {
  readonly endpoint: string
  readonly region: string
  readonly accessKeyId: string
  readonly secretAccessKey: string
  /** For radosgw-admin (more users): CEPH_CONF=<this> */
  readonly cephConf: string
}

/** An SDK client for the test server (radosgw answers 411 to a streamed PutObject with the SDK's default checksums). */
export const testS3Client = (s3: S3Endpoint, credentials?: { readonly accessKeyId: string; readonly secretAccessKey: string }) =>
  new S3Client({
    endpoint: s3.endpoint,
    region: s3.region,
    forcePathStyle: true,
    credentials: credentials ?? { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey },
    requestChecksumCalculation: "WHEN_REQUIRED",
    responseChecksumValidation: "WHEN_REQUIRED"
  })

/** ubackup's `storage` config for `bucket` on the test server. */
export const s3StorageConfig = (s3: S3Endpoint, bucket: string, extra: Record<string, unknown> = {}) => ({
  s3: {
    bucket,
    bucket_region: s3.region,
    access_key_id: s3.accessKeyId,
    access_key_secret: s3.secretAccessKey,
    endpoint: s3.endpoint,
    force_path_style: true,
    ...extra
  }
})

/** ubackup's S3 Storage for `bucket` on the test server, through the library; `extra` adds or overrides options. */
export const testS3Storage = async (s3: S3Endpoint, bucket: string, extra: Partial<S3StorageOptions> = {}) => {
  const options: S3StorageOptions = {
    bucket,
    region: s3.region,
    accessKeyId: s3.accessKeyId,
    secretAccessKey: Redacted.make(s3.secretAccessKey),
    endpoint: s3.endpoint,
    forcePathStyle: true,
    ...extra
  }
  const sdk = await loadS3Sdk()
  return makeS3Storage(sdk, makeS3Client(sdk, options), options)
}

/** Every key in `bucket` (under `prefix`), past S3's page of 1000, in the store's order. */
export const allKeys = async (client: S3Client, bucket: string, prefix?: string): Promise<Array<string>> => {
  const keys: Array<string> = []
  let token: string | undefined
  do {
    const page = await client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }))
    keys.push(...(page.Contents ?? []).flatMap((object) => (object.Key === undefined ? [] : [object.Key])))
    token = page.IsTruncated ? page.NextContinuationToken : undefined
  } while (token !== undefined)
  return keys
}

export const rgwCommands = ["radosgw", "ceph-mon", "ceph-osd", "curl"]

export const startRgw = async (): Promise<{ readonly s3: S3Endpoint; readonly stop: () => Promise<void> }> => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "ubackup-rgw-"))
  const port = await freePort()
  const monPort = await freePort()
  const env = {
    ...process.env,
    RGW_DIR: dir,
    RGW_PORT: String(port),
    MON_PORT: String(monPort),
    // bluestore keeps object data in a sparse file rather than in the OSD's memory; 32 GiB (only what
    // is written takes disk) so that test/load's 10 GiB stream does not fill the OSD, which stalls RGW
    OSD_STORE: "bluestore",
    BLUESTORE_BYTES: String(32 * 1024 ** 3)
  }
  try {
    await run("bash", [path.join(scripts, "start-rgw.sh")], { env, timeout: 120_000 })
  } catch (error) {
    const output = error as { stdout?: string; stderr?: string }
    await run("bash", [path.join(scripts, "stop-rgw.sh")], { env }).catch(() => undefined)
    throw new Error(`radosgw did not start:\n${output.stdout ?? ""}\n${output.stderr ?? ""}`)
  }
  return {
    s3: {
      endpoint: `http://127.0.0.1:${port}`,
      region: "us-east-1",
      accessKeyId: "AKIAIOSFODNN7EXAMPLE",
      secretAccessKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
      cephConf: path.join(dir, "ceph.conf")
    },
    stop: async () => {
      await run("bash", [path.join(scripts, "stop-rgw.sh")], { env }).catch(() => undefined)
    }
  }
}
