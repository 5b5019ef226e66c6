import { S3Client, CreateBucketCommand, CreateMultipartUploadCommand, UploadPartCommand, CompleteMultipartUploadCommand, HeadObjectCommand, GetObjectLockConfigurationCommand, DeleteObjectCommand, PutObjectCommand } from "@aws-sdk/client-s3"
const c = new S3Client({ endpoint: "http://127.0.0.1:7499", region: "us-east-1", forcePathStyle: true, credentials: { accessKeyId: "AKIAIOSFODNN7EXAMPLE", secretAccessKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY" }, requestChecksumCalculation: "WHEN_REQUIRED", responseChecksumValidation: "WHEN_REQUIRED" })
const show = async (label: string, p: Promise<unknown>) => { try { const r: any = await p; console.log(label, "OK", JSON.stringify({ ...r, $metadata: undefined }).slice(0, 300)); return r } catch (e: any) { console.log(label, "ERR", e.name, e.Code, e.message, e.$metadata?.httpStatusCode) } }
const t = Date.now()
for (const locked of [false, true]) {
  const b = `${locked ? "l" : "p"}x${t}`
  await show("mk", c.send(new CreateBucketCommand({ Bucket: b, ObjectLockEnabledForBucket: locked })))
  await show("lockconf", c.send(new GetObjectLockConfigurationCommand({ Bucket: b })))
  const until = new Date(Date.now() + 86400e3)
  const m = await show("mpu", c.send(new CreateMultipartUploadCommand({ Bucket: b, Key: "a/b", ObjectLockMode: "GOVERNANCE", ObjectLockRetainUntilDate: until })))
  const p = await show("part", c.send(new UploadPartCommand({ Bucket: b, Key: "a/b", UploadId: m.UploadId, PartNumber: 1, Body: Buffer.alloc(100, 1) })))
  await show("complete", c.send(new CompleteMultipartUploadCommand({ Bucket: b, Key: "a/b", UploadId: m.UploadId, MultipartUpload: { Parts: [{ PartNumber: 1, ETag: p.ETag }] } })))
  const h = await show("head", c.send(new HeadObjectCommand({ Bucket: b, Key: "a/b" })))
  if (h) await show("delete version", c.send(new DeleteObjectCommand({ Bucket: b, Key: "a/b", VersionId: h.VersionId })))
  await show("put over", c.send(new PutObjectCommand({ Bucket: b, Key: "a/b", Body: "over" })))
}
