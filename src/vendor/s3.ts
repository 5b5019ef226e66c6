/**
 * The AWS SDK, in one place. The CLI build turns this module into its own
 * file, loaded only when a config names S3 storage (scripts/build.mjs): its
 * ~1 MB of code costs the other verbs nothing.
 */
export { GetObjectCommand, ListObjectsV2Command, S3Client } from "@aws-sdk/client-s3"
export { Upload } from "@aws-sdk/lib-storage"
