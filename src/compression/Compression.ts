/**
 * The compression stage: a byte stream in, a zstd or gzip stream out.
 *
 * zstd compresses on its own worker threads into one frame, as `zstd -T0`
 * does (zstdThreads.ts). gzip has no threads of its own: the input is cut
 * into independent blocks compressed in parallel on libuv's thread pool and
 * emitted in order as gzip members (lanes.ts), within about 1 % of one long
 * member's size at 3 MiB blocks; zstd falls back to that where Node's zlib
 * lacks the handle zstdThreads.ts drives. Either output is valid input for
 * `zstd -d`, `gunzip` and `decompress`.
 */
import { Context, Layer, Schema, Stream } from "effect"
import * as os from "node:os"
import { defaultBlockSize } from "../stream/pool.ts"
import { compressInLanes } from "./lanes.ts"
import { compressWithZstdThreads, ThreadedZstd } from "./zstdThreads.ts"

export const CompressionAlgorithm = Schema.Literals(["zstd", "gzip"])
export type CompressionAlgorithm = typeof CompressionAlgorithm.Type

export const extensions: Record<CompressionAlgorithm, string> = { zstd: ".zst", gzip: ".gz" }

export class CompressionError extends Schema.TaggedError<CompressionError>()("CompressionError", {
  algorithm: Schema.String,
  cause: Schema.Defect()
}) {
  override get message() {
    return `${this.algorithm} compression failed: ${String(this.cause)}`
  }
}

export interface CompressionOptions {
  readonly algorithm: CompressionAlgorithm
  /** zstd 1–19 (default 3, zstd's own), gzip 1–9 (default 6, gzip's own). */
  readonly level?: number
  /** gzip: bytes per independent block (default 3 MiB, the shared pool's). */
  readonly blockSize?: number
  /**
   * zstd: worker threads (default one a core, at most 4; 0 compresses on the
   * main thread). gzip: blocks compressed at once, at least 1 (default
   * cores + 1, at most the thread pool size - 1).
   */
  readonly concurrency?: number
}

export class Compression extends Context.Service<Compression, {
  readonly algorithm: CompressionAlgorithm
  /** The file-name suffix: `.zst` or `.gz`. */
  readonly extension: string
  readonly compress: <E, R>(input: Stream.Stream<Uint8Array, E, R>) => Stream.Stream<Uint8Array, E | CompressionError, R>
}>()("ubackup/Compression") {
  static readonly layer = (options: CompressionOptions) => Layer.succeed(Compression, makeCompression(options))
}

/**
 * One lane more than cores (a lane idles while its output is collected), but
 * at most one less than libuv's thread pool (4 unless UV_THREADPOOL_SIZE says
 * more): file reads and writes need a free thread, and lanes beyond the pool
 * would only queue while holding their blocks in memory.
 */
const defaultLanes = (): number => {
  const pool = Number(process.env.UV_THREADPOOL_SIZE) || 4
  return Math.max(1, Math.min(os.availableParallelism() + 1, pool - 1))
}

/**
 * One zstd worker a core, as `zstd -T0`, but at most 4: each worker adds
 * about 5 MiB of job buffers and context, and a backup is rarely faster than
 * its storage beyond that.
 */
const defaultZstdWorkers = (): number => Math.max(1, Math.min(os.availableParallelism(), 4))

/**
 * Input bytes per zstd job. Measured on the bench corpus with 2 workers:
 * 0.5 % larger output than zstd's default 8 MiB jobs for level 3, and 40 MiB
 * less memory; 1 MiB jobs saved 7 MiB more for another 0.7 %.
 */
export const zstdJobSize = 2 * 1024 * 1024

export const makeCompression = (options: CompressionOptions): Compression["Service"] => {
  const { algorithm } = options
  const level = options.level ?? (algorithm === "zstd" ? 3 : 6)
  const onError = (cause: unknown) => new CompressionError({ algorithm, cause })
  const onThreads = compressWithZstdThreads({ level, workers: options.concurrency ?? defaultZstdWorkers(), jobSize: zstdJobSize }, onError)
  const inLanes = compressInLanes({
    algorithm,
    level,
    blockSize: options.blockSize ?? defaultBlockSize,
    lanes: options.concurrency ?? defaultLanes()
  }, onError)
  return {
    algorithm,
    extension: extensions[algorithm],
    compress: (input) => (algorithm === "zstd" && ThreadedZstd.supported ? onThreads(input) : inLanes(input))
  }
}
