/**
 * `ubackup/compression`: zstd (on libzstd's worker threads) and gzip (in
 * parallel lanes) as a stream stage, and decompression of either by its magic.
 * Loads neither the AWS SDK nor dockerode.
 */
export { Compression, CompressionAlgorithm, CompressionError, type CompressionOptions, makeCompression } from "./Compression.ts"
export { decompress, DecompressionError, detectFormat, type Format } from "./decompress.ts"
