/**
 * The AWS SDK, in one place. The CLI build turns this module into its own
 * file, loaded only when a config names S3 storage (scripts/build.mjs): its
 * ~1 MB of code costs the other verbs nothing.
 */
export {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  GetObjectLockConfigurationCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  ListPartsCommand,
  PutObjectRetentionCommand,
  S3Client,
  UploadPartCommand
} from "@aws-sdk/client-s3"
