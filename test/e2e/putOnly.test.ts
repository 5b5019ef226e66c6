/**
 * Put-only credentials for real, on Ceph RGW. A second RGW user, allowed by
 * the bucket's policy only what ubackup's backups need, runs `ubackup now`
 * through the real CLI; the bucket's owner (the first user) does the rest.
 * It proves:
 *
 * - `now` succeeds with `s3:PutObject` alone (the smallest policy that
 *   works), with cleanup rights added, and with µbackup's README policy; the
 *   cleanup a policy does not allow is a warning, never a failed backup;
 * - the owner lists, downloads and decrypts what the put-only user wrote, to
 *   the exact bytes, with either private key (X25519, RSA), given
 *   `storage.s3.acl: bucket-owner-full-control` (measured: without it the
 *   owner is refused, see below);
 * - with bucket versioning on, those credentials cannot destroy a backup:
 *   deleting it, or any version of it, is AccessDenied, so are switching
 *   versioning off, rewriting the policy and a lifecycle rule; an overwrite
 *   leaves the original version listed and restorable; an ACL change cannot
 *   lock the owner out for good;
 * - nothing a backup host holds (its config, the public key files) decrypts
 *   what it stored: `ubackup decrypt` (and `age`, when installed) with any of
 *   them exits non-zero with no plaintext.
 *
 * What RGW (Ceph 16.2) did, measured here, and why the policies look as they do:
 *
 * - The uploader owns the object and its ACL. Without an `x-amz-acl` on the
 *   upload, the bucket's owner is refused GetObject and HeadObject (403) on
 *   what the put-only user wrote; `bucket-owner-full-control` on
 *   CreateMultipartUpload fixes that, and RGW does not ask for
 *   `s3:PutObjectAcl` to send it. Alternatively the owner may grant itself
 *   `s3:GetObject`/`s3:GetObjectVersion` in the bucket policy, which RGW
 *   honours above object ACLs.
 * - Because it owns its objects, the put-only user may HeadObject and
 *   GetObject them, and PutObjectAcl them, through their ACL, whatever the
 *   policy says (an explicit Deny stops that). So ubackup's collision check
 *   (HeadObject when it may not list) works with `s3:PutObject` alone, and a
 *   second backup in the same minute gets `~2` instead of a new version.
 * - `s3:PutObject` covers CreateMultipartUpload, UploadPart and
 *   CompleteMultipartUpload (as on AWS). AbortMultipartUpload needs
 *   `s3:AbortMultipartUpload`, and listing open uploads (cleanup)
 *   `s3:ListBucketMultipartUploads` on the bucket; ListParts of one's own
 *   upload needed nothing more. Without the abort right a failed backup's
 *   parts stay until the owner (or a lifecycle rule) removes them.
 * - The overwrite of a key by PutObject is allowed (it is `s3:PutObject`):
 *   versioning, not the policy, keeps the original.
 */
import {
  AbortMultipartUploadCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  DeleteBucketPolicyCommand,
  DeleteObjectCommand,
  DeleteObjectsCommand,
  GetBucketVersioningCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListBucketsCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  ListObjectVersionsCommand,
  PutBucketLifecycleConfigurationCommand,
  PutBucketPolicyCommand,
  PutBucketVersioningCommand,
  PutObjectAclCommand,
  PutObjectCommand,
  type S3Client,
  UploadPartCommand
} from "@aws-sdk/client-s3"
import { execFile, spawnSync } from "node:child_process"
import * as crypto from "node:crypto"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { promisify } from "node:util"
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest"
import { initKeys, ubackup } from "../harness/cli.ts"
import { rgwCommands, s3StorageConfig, testS3Client } from "../harness/rgw.ts"
import { hasCommand, requireCommands, sleep } from "../harness/tools.ts"

const s3 = inject("s3")
const ready = requireCommands("put-only S3 credentials (radosgw)", ...rgwCommands, "radosgw-admin") && s3 !== null
const exec = promisify(execFile)

const tag = crypto.randomBytes(4).toString("hex")
const dir = fs.mkdtempSync(path.join(os.tmpdir(), "ubackup-putonly-"))
/** What the backup host holds: its configs and the public keys. */
const hostDir = path.join(dir, "host")
/** The private keys, kept off the backup host. */
const vaultDir = path.join(dir, "vault")
/** The data a target backs up: two parts of 5 MiB, random so that compression keeps it that big. */
const payloadFile = path.join(dir, "payload.bin")
const payload = crypto.randomBytes(6 * 1024 * 1024 + 12_345)
/** The CLI's host name, as the Hostname default makes it (the key of a killed backup of this host). */
const host = os.hostname().replace(/[^A-Za-z0-9.-]/g, "-").replace(/^[.-]+/, "") || "host"

interface Writer {
  readonly uid: string
  readonly accessKeyId: string
  readonly secretAccessKey: string
}

const writer: Writer = {
  uid: `putonly-${tag}`,
  accessKeyId: `PUTONLY${tag.toUpperCase()}KEY`,
  secretAccessKey: crypto.randomBytes(20).toString("hex")
}

interface Keys {
  readonly x25519Key: string
  readonly rsaKey: string
  /** The recipients every backup is encrypted to: both keys. */
  readonly recipients: Record<string, unknown>
}
let keys: Keys
let owner: S3Client
let asWriter: S3Client
/** The owner's RGW user ID, for statements about the owner itself. */
let ownerUid: string

// -- helpers ------------------------------------------------------------------------------------

type Statement = { readonly Effect: "Allow" | "Deny"; readonly Action: ReadonlyArray<string>; readonly Resource: string; readonly principal?: string }

const putPolicy = (bucket: string, statements: ReadonlyArray<Statement>) =>
  owner.send(new PutBucketPolicyCommand({
    Bucket: bucket,
    Policy: JSON.stringify({
      Version: "2012-10-17",
      Statement: statements.map(({ principal, ...statement }) => ({
        ...statement,
        Principal: { AWS: [`arn:aws:iam:::user/${principal ?? writer.uid}`] }
      }))
    })
  }))

/** As the owner: a bucket with versioning on and `statements` as its policy. */
const makeBucket = async (name: string, statements: ReadonlyArray<Statement>) => {
  const bucket = `putonly-${name}-${tag}`
  await owner.send(new CreateBucketCommand({ Bucket: bucket }))
  await owner.send(new PutBucketVersioningCommand({ Bucket: bucket, VersioningConfiguration: { Status: "Enabled" } }))
  expect((await owner.send(new GetBucketVersioningCommand({ Bucket: bucket }))).Status).toBe("Enabled")
  await putPolicy(bucket, statements)
  return bucket
}

/** A config on the backup host: the writer's credentials, the public keys, `targets`. */
const hostConfig = (
  name: string,
  bucket: string,
  targets: ReadonlyArray<{ service_name: string; backup_command: ReadonlyArray<string> }>,
  s3Extra: Record<string, unknown> = { acl: "bucket-owner-full-control" },
  extra: Record<string, unknown> = {}
) => {
  const file = path.join(hostDir, `${name}.json`)
  fs.writeFileSync(file, JSON.stringify({
    ...keys.recipients,
    storage: s3StorageConfig(s3!, bucket, { access_key_id: writer.accessKeyId, access_key_secret: writer.secretAccessKey, part_size_mb: 5, ...s3Extra }),
    static_targets: targets,
    ...extra
  }))
  return file
}

/** The owner's config (not on the backup host), for `storage ls` and `storage get`. */
const ownerConfig = (bucket: string) => {
  const file = path.join(dir, `owner-${bucket}.json`)
  fs.writeFileSync(file, JSON.stringify({ ...keys.recipients, storage: s3StorageConfig(s3!, bucket) }))
  return file
}

const backUp = { service_name: "data", backup_command: ["cat", payloadFile] }

const now = async (config: string) => {
  const run = await ubackup(["now", "--config", config])
  return { ...run, out: run.stdout.toString() }
}

const decrypt = async (ciphertext: Uint8Array, keyFile: string) => {
  const run = await ubackup(["decrypt", keyFile], { input: ciphertext })
  expect(run.code, run.stderr).toBe(0)
  return run.stdout
}

/** Decrypts to exactly the payload: with the X25519 key, or with each private key (X25519 and RSA). */
const expectPayload = async (ciphertext: Uint8Array, withEachKey = false) => {
  for (const keyFile of withEachKey ? [keys.x25519Key, keys.rsaKey] : [keys.x25519Key]) {
    expect((await decrypt(ciphertext, keyFile)).equals(payload), keyFile).toBe(true)
  }
}

const bodyOf = async (client: S3Client, bucket: string, key: string, versionId?: string) => {
  const got = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key, ...(versionId === undefined ? {} : { VersionId: versionId }) }))
  return Buffer.from(await got.Body!.transformToByteArray())
}

const failureOf = (promise: Promise<unknown>) =>
  promise.then(
    () => undefined,
    (error: unknown) => error as { readonly name?: string; readonly $metadata?: { readonly httpStatusCode?: number } }
  )

const expectAccessDenied = async (what: string, promise: Promise<unknown>) => {
  const error = await failureOf(promise)
  expect(error?.name, `${what}: expected AccessDenied`).toBe("AccessDenied")
  expect(error?.$metadata?.httpStatusCode, what).toBe(403)
}

const keysUnder = async (bucket: string, prefix: string) =>
  ((await owner.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix }))).Contents ?? []).map((object) => object.Key!)

const versionsOf = async (bucket: string, key: string) =>
  ((await owner.send(new ListObjectVersionsCommand({ Bucket: bucket, Prefix: key }))).Versions ?? []).filter((version) => version.Key === key)

const openUploads = async (bucket: string, prefix: string) =>
  ((await owner.send(new ListMultipartUploadsCommand({ Bucket: bucket, Prefix: prefix }))).Uploads ?? []).map((upload) => upload.Key)

/** The writer's attempts to destroy `key`, all refused; afterwards every version is still there. */
const expectIndestructible = async (bucket: string, key: string) => {
  const before = await versionsOf(bucket, key)
  expect(before.length).toBeGreaterThan(0)
  const versionId = before[0]!.VersionId!
  await expectAccessDenied("DeleteObject", asWriter.send(new DeleteObjectCommand({ Bucket: bucket, Key: key })))
  await expectAccessDenied("DeleteObject of a version", asWriter.send(new DeleteObjectCommand({ Bucket: bucket, Key: key, VersionId: versionId })))
  // DeleteObjects: RGW refuses the whole request; AWS would answer 200 with an AccessDenied per key
  const many = await asWriter.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: [{ Key: key }, { Key: key, VersionId: versionId }] } })).then(
    (result) => ({ deleted: result.Deleted ?? [], errors: (result.Errors ?? []).map((error) => error.Code) }),
    (error: { name?: string }) => ({ deleted: [], errors: [error.name] })
  )
  expect(many.deleted).toEqual([])
  expect(new Set(many.errors)).toEqual(new Set(["AccessDenied"]))
  await expectAccessDenied("PutBucketVersioning Suspended", asWriter.send(new PutBucketVersioningCommand({ Bucket: bucket, VersioningConfiguration: { Status: "Suspended" } })))
  await expectAccessDenied("PutBucketPolicy", asWriter.send(new PutBucketPolicyCommand({ Bucket: bucket, Policy: JSON.stringify({ Version: "2012-10-17", Statement: [] }) })))
  await expectAccessDenied("DeleteBucketPolicy", asWriter.send(new DeleteBucketPolicyCommand({ Bucket: bucket })))
  await expectAccessDenied("PutBucketLifecycleConfiguration", asWriter.send(new PutBucketLifecycleConfigurationCommand({
    Bucket: bucket,
    LifecycleConfiguration: { Rules: [{ ID: "expire", Status: "Enabled", Filter: { Prefix: "" }, Expiration: { Days: 1 }, NoncurrentVersionExpiration: { NoncurrentDays: 1 } }] }
  })))
  expect((await owner.send(new GetBucketVersioningCommand({ Bucket: bucket }))).Status).toBe("Enabled")
  const after = await versionsOf(bucket, key)
  expect(after.map((version) => version.VersionId)).toEqual(before.map((version) => version.VersionId))
  return versionId
}

/** The writer overwrites `key` with other bytes (allowed or not); the original version stays listed and restores. */
const expectOverwriteRecoverable = async (bucket: string, key: string) => {
  const original = (await versionsOf(bucket, key)).find((version) => version.IsLatest)!
  // the worst case: other bytes, and private to the writer
  const overwrite = await failureOf(asWriter.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: Buffer.from("ransom note"), ACL: "private" })))
  expect(overwrite === undefined || overwrite.name === "AccessDenied", `overwrite: ${overwrite?.name}`).toBe(true)
  const versions = await versionsOf(bucket, key)
  expect(versions.length).toBe(overwrite === undefined ? 2 : 1)
  const kept = versions.find((version) => version.VersionId === original.VersionId)
  expect(kept, "the original version is listed").toBeDefined()
  expect(kept!.Size).toBe(original.Size)
  await expectPayload(await bodyOf(owner, bucket, key, original.VersionId))
}

beforeAll(async () => {
  if (!ready) return
  fs.mkdirSync(hostDir, { recursive: true })
  fs.mkdirSync(vaultDir, { recursive: true })
  fs.writeFileSync(payloadFile, payload)
  // the key pairs: private keys stay in the vault; the host gets the public keys and the configs init wrote
  const x25519 = await initKeys(path.join(vaultDir, "x25519"))
  const rsaDir = path.join(vaultDir, "rsa")
  const rsa = await ubackup(["init", "--dir", rsaDir, "--type", "rsa"])
  expect(rsa.code, rsa.stderr).toBe(0)
  const rsaConfig = JSON.parse(fs.readFileSync(path.join(rsaDir, "config.json"), "utf8")) as Record<string, unknown>
  for (const [from, to] of [
    [path.join(vaultDir, "x25519", "backups.pub"), "x25519.pub"],
    [path.join(vaultDir, "x25519", "config.json"), "x25519-init-config.json"],
    [path.join(rsaDir, "backups.pub"), "rsa.pub"],
    [path.join(rsaDir, "config.json"), "rsa-init-config.json"]
  ] as const) fs.copyFileSync(from, path.join(hostDir, to))
  keys = {
    x25519Key: x25519.keyFile,
    rsaKey: path.join(rsaDir, "backups.key"),
    recipients: { encryption_recipients: x25519.config.encryption_recipients, encryption_publickey: rsaConfig.encryption_publickey }
  }
  // the second user: no buckets of its own, only what bucket policies grant it
  await exec("radosgw-admin", [
    "user",
    "create",
    `--uid=${writer.uid}`,
    `--display-name=${writer.uid}`,
    `--access-key=${writer.accessKeyId}`,
    `--secret=${writer.secretAccessKey}`
  ], { env: { ...process.env, CEPH_CONF: s3!.cephConf }, timeout: 60_000 })
  owner = testS3Client(s3!)
  asWriter = testS3Client(s3!, writer)
  ownerUid = (await owner.send(new ListBucketsCommand({}))).Owner!.ID!
})

afterAll(() => fs.rmSync(dir, { recursive: true, force: true }))

describe.runIf(ready)("put-only credentials on RGW (bucket policy, versioning on)", () => {
  describe("s3:PutObject alone: the smallest policy `now` works with", () => {
    // Allow s3:PutObject on the objects and nothing else: it covers CreateMultipartUpload, UploadPart
    // and CompleteMultipartUpload (and PutObject). Listing (s3:ListBucket) is not needed: without it
    // ubackup checks a key with HeadObject, which RGW allows the uploader of its own objects through
    // their ACL. Cleanup (ListMultipartUploads, AbortMultipartUpload) is refused: a warning.
    let bucket: string
    let config: string
    let stored: string
    beforeAll(async () => {
      bucket = await makeBucket("min", [{ Effect: "Allow", Action: ["s3:PutObject"], Resource: `arn:aws:s3:::putonly-min-${tag}/*` }])
      config = hostConfig("min", bucket, [backUp], { acl: "bucket-owner-full-control" }, { abort_incomplete_uploads_after: "1s" })
    })

    it("now succeeds, and the cleanup it may not do is a warning, not a failure", async () => {
      // the writer may neither list nor read the bucket
      await expectAccessDenied("ListObjectsV2", asWriter.send(new ListObjectsV2Command({ Bucket: bucket })))
      await expectAccessDenied("ListObjectVersions", asWriter.send(new ListObjectVersionsCommand({ Bucket: bucket })))
      const run = await now(config)
      expect(run.code, run.stderr).toBe(0)
      expect(run.stderr).toMatch(/WARN.*could not clean up after stopped backups: .*access denied/)
      const ids = await keysUnder(bucket, "data/")
      expect(ids).toHaveLength(1)
      stored = ids[0]!
      expect(run.out).toContain(`ok ${stored}`)
    })

    it("the owner lists it, downloads it and decrypts it to the exact bytes, with either private key", async () => {
      const owned = ownerConfig(bucket)
      const listed = await ubackup(["storage", "ls", "data", "--config", owned])
      expect(listed.code, listed.stderr).toBe(0)
      expect(listed.stdout.toString().trim().split("\n")).toEqual([stored])
      const got = await ubackup(["storage", "get", stored, "--config", owned])
      expect(got.code, got.stderr).toBe(0)
      expect(got.stdout.length).toBeGreaterThan(payload.length)
      await expectPayload(got.stdout, true)
    })

    it("a second now in the same minute is stored beside the first: nothing overwritten, no second version", async () => {
      const run = await now(config)
      expect(run.code, run.stderr).toBe(0)
      const ids = await keysUnder(bucket, "data/")
      expect(ids).toHaveLength(2)
      for (const id of ids) {
        expect((await versionsOf(bucket, id)).length, id).toBe(1)
        await expectPayload(await bodyOf(owner, bucket, id))
      }
    })

    it("the writer cannot delete the backup, nor a version of it, nor turn versioning off, rewrite the policy or add a lifecycle rule", async () => {
      await expectIndestructible(bucket, stored)
      await expectPayload(await bodyOf(owner, bucket, stored))
    })

    it("the writer's overwrite with other bytes leaves the original version listed, and it restores", async () => {
      await expectOverwriteRecoverable(bucket, stored)
      // and the overwritten key is no more destructible than before
      await expectIndestructible(bucket, stored)
    })

    it("the writer's ACL change on the original version cannot lock the owner out for good", async () => {
      const original = (await versionsOf(bucket, stored)).find((version) => !version.IsLatest) ?? (await versionsOf(bucket, stored))[0]!
      // RGW allows this (the uploader owns the object's ACL) unless the policy denies s3:PutObjectVersionAcl
      await failureOf(asWriter.send(new PutObjectAclCommand({ Bucket: bucket, Key: stored, VersionId: original.VersionId, ACL: "private" })))
      // the owner can always grant itself reading in the bucket policy, which RGW puts above object ACLs
      await putPolicy(bucket, [
        { Effect: "Allow", Action: ["s3:PutObject"], Resource: `arn:aws:s3:::${bucket}/*` },
        { Effect: "Allow", Action: ["s3:GetObject", "s3:GetObjectVersion"], Resource: `arn:aws:s3:::${bucket}/*`, principal: ownerUid }
      ])
      await expectPayload(await bodyOf(owner, bucket, stored, original.VersionId))
    })

    it("a failed backup: now fails the target and warns that its upload could not be aborted; the owner removes it", async () => {
      const broken = hostConfig("min-broken", bucket, [{ service_name: "broken", backup_command: ["sh", "-c", "head -c 100000 /dev/urandom; exit 3"] }])
      const run = await now(broken)
      expect(run.code).not.toBe(0)
      expect(run.stderr).toMatch(/could not abort the multipart upload of broken\//)
      expect(await keysUnder(bucket, "broken/")).toEqual([])
      // its parts stay until the owner (or an AbortIncompleteMultipartUpload lifecycle rule) removes them
      const left = (await owner.send(new ListMultipartUploadsCommand({ Bucket: bucket, Prefix: "broken/" }))).Uploads ?? []
      expect(left).toHaveLength(1)
      await owner.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: left[0]!.Key!, UploadId: left[0]!.UploadId! }))
    })
  })

  describe("without storage.s3.acl", () => {
    it("the owner cannot read what the writer stored (RGW: the uploader owns the object's ACL), unless its bucket policy grants it reading", async () => {
      const bucket = await makeBucket("noacl", [{ Effect: "Allow", Action: ["s3:PutObject"], Resource: `arn:aws:s3:::putonly-noacl-${tag}/*` }])
      const run = await now(hostConfig("noacl", bucket, [backUp], {}))
      expect(run.code, run.stderr).toBe(0)
      const [id] = await keysUnder(bucket, "data/")
      expect(id).toBeDefined()
      await expectAccessDenied("the owner's GetObject", owner.send(new GetObjectCommand({ Bucket: bucket, Key: id! })))
      const head = await failureOf(owner.send(new HeadObjectCommand({ Bucket: bucket, Key: id! })))
      expect(head?.$metadata?.httpStatusCode).toBe(403)
      const get = await ubackup(["storage", "get", id!, "--config", ownerConfig(bucket)])
      expect(get.code).not.toBe(0)
      expect(get.stderr).toMatch(/access denied/i)
      // the other way to let the owner read: its own statement in the bucket policy
      await putPolicy(bucket, [
        { Effect: "Allow", Action: ["s3:PutObject"], Resource: `arn:aws:s3:::${bucket}/*` },
        { Effect: "Allow", Action: ["s3:GetObject", "s3:GetObjectVersion"], Resource: `arn:aws:s3:::${bucket}/*`, principal: ownerUid }
      ])
      await expectPayload(await bodyOf(owner, bucket, id!))
    })
  })

  describe("s3:PutObject with cleanup rights (s3:AbortMultipartUpload, s3:ListBucketMultipartUploads), ACL changes denied", () => {
    // The policy to recommend on RGW: the minimal one, plus what cleanup of killed backups and the abort
    // of a failed one need, plus an explicit Deny of ACL changes so that the writer cannot hide its
    // objects from the owner after the fact (the canned ACL sent with the upload is still allowed).
    let bucket: string
    beforeAll(async () => {
      const name = `putonly-clean-${tag}`
      bucket = await makeBucket("clean", [
        { Effect: "Allow", Action: ["s3:PutObject", "s3:AbortMultipartUpload"], Resource: `arn:aws:s3:::${name}/*` },
        { Effect: "Allow", Action: ["s3:ListBucketMultipartUploads"], Resource: `arn:aws:s3:::${name}` },
        { Effect: "Deny", Action: ["s3:PutObjectAcl", "s3:PutObjectVersionAcl"], Resource: `arn:aws:s3:::${name}/*` }
      ])
    })

    it("now removes this host's quiet leftovers of a killed backup, without a warning, and stores its backup", async () => {
      const killed = `killed/2026-12-04 2108Z_${host}_static.zst.age`
      const { UploadId } = await asWriter.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: killed, ACL: "bucket-owner-full-control" }))
      await asWriter.send(new UploadPartCommand({ Bucket: bucket, Key: killed, UploadId, PartNumber: 1, Body: Buffer.from("part") }))
      await sleep(1100)
      const run = await now(hostConfig("clean", bucket, [backUp], { acl: "bucket-owner-full-control" }, { abort_incomplete_uploads_after: "1s" }))
      expect(run.code, run.stderr).toBe(0)
      expect(run.stderr).not.toMatch(/could not clean up/)
      expect(run.stderr).toContain(`removed what 1 stopped backup(s) left behind (incomplete uploads or temporary files): ${killed}`)
      expect(await openUploads(bucket, "")).toEqual([])
      const [id] = await keysUnder(bucket, "data/")
      await expectPayload(await bodyOf(owner, bucket, id!))
    })

    it("a failed backup leaves no open upload behind", async () => {
      const run = await now(hostConfig("clean-broken", bucket, [{ service_name: "broken", backup_command: ["sh", "-c", "head -c 100000 /dev/urandom; exit 3"] }]))
      expect(run.code).not.toBe(0)
      expect(run.stderr).not.toMatch(/could not abort/)
      expect(await keysUnder(bucket, "broken/")).toEqual([])
      expect(await openUploads(bucket, "broken/")).toEqual([])
    })

    it("the writer still cannot destroy a backup, and may not change its ACL", async () => {
      const [id] = await keysUnder(bucket, "data/")
      const versionId = await expectIndestructible(bucket, id!)
      await expectAccessDenied("PutObjectAcl", asWriter.send(new PutObjectAclCommand({ Bucket: bucket, Key: id!, ACL: "private" })))
      await expectAccessDenied("PutObjectAcl of a version", asWriter.send(new PutObjectAclCommand({ Bucket: bucket, Key: id!, VersionId: versionId, ACL: "private" })))
      await expectOverwriteRecoverable(bucket, id!)
    })
  })

  describe("µbackup's README policy: s3:PutObject, s3:GetObject, s3:PutObjectAcl; s3:ListBucket", () => {
    let bucket: string
    let stored: string
    beforeAll(async () => {
      const name = `putonly-ubackup-${tag}`
      // as the README wrote it, the bucket's resource with a trailing *
      bucket = await makeBucket("ubackup", [
        { Effect: "Allow", Action: ["s3:PutObject", "s3:GetObject", "s3:PutObjectAcl"], Resource: `arn:aws:s3:::${name}/*` },
        { Effect: "Allow", Action: ["s3:ListBucket"], Resource: `arn:aws:s3:::${name}*` }
      ])
    })

    it("now succeeds twice, both kept (nothing overwritten), the owner restores both, the writer cannot destroy them", async () => {
      const config = hostConfig("ubackup", bucket, [backUp])
      for (let i = 0; i < 2; i++) {
        const run = await now(config)
        expect(run.code, run.stderr).toBe(0)
        expect(run.stderr).toMatch(/could not clean up after stopped backups: .*access denied/)
      }
      const ids = await keysUnder(bucket, "data/")
      expect(ids).toHaveLength(2)
      for (const id of ids) {
        expect((await versionsOf(bucket, id)).length, id).toBe(1)
        await expectPayload(await bodyOf(owner, bucket, id))
        await expectIndestructible(bucket, id)
      }
      stored = ids[0]!
      await expectOverwriteRecoverable(bucket, ids[1]!)
    })

    it("the writer may download a backup, but nothing on the backup host decrypts it", async () => {
      // what an attacker holding the backup host and its credentials gets
      const ciphertext = await bodyOf(asWriter, bucket, stored)
      await expectPayload(ciphertext, true) // the private keys (not on the host) do
      const hostFiles = fs.readdirSync(hostDir).map((file) => path.join(hostDir, file))
      expect(hostFiles.map((file) => path.basename(file))).toEqual(expect.arrayContaining(["ubackup.json", "x25519.pub", "rsa.pub", "x25519-init-config.json", "rsa-init-config.json"]))
      for (const file of hostFiles) {
        const text = fs.readFileSync(file, "utf8")
        expect(text, file).not.toMatch(/AGE-SECRET-KEY-1|PRIVATE KEY/)
        const run = await ubackup(["decrypt", file], { input: ciphertext })
        expect(run.code, `ubackup decrypt ${path.basename(file)}`).not.toBe(0)
        expect(run.stdout.length, `ubackup decrypt ${path.basename(file)}: stdout`).toBe(0)
        expect(run.stderr).toMatch(/public key|not an AGE-SECRET-KEY-1/)
        if (hasCommand("age")) {
          // the reference implementation agrees (it reads age identities and PEM private keys)
          const age = spawnSync("age", ["-d", "-i", file], { input: ciphertext })
          expect(age.status, `age -d -i ${path.basename(file)}`).not.toBe(0)
          expect(age.stdout.length).toBe(0)
        }
      }
    })
  })
})
