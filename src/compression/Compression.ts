/**
 * The compression stage: a byte stream in, a zstd or gzip stream out.
 *
 * The input is cut into independent blocks that are compressed in parallel on
 * libuv's thread pool (see lanes.ts), then emitted in order. The output is a sequence of zstd frames or gzip members: valid input
 * for `zstd -d`, `gunzip` and `decompress` alike, with a ratio within about 1 %
 * of one long frame at 3 MiB blocks.
 */
import { Context, Effect, Layer, Schema, Stream } from "effect"
import type { NonEmptyReadonlyArray } from "effect/Array"
import * as os from "node:os"
import { toBlocks } from "../stream/bytes.ts"
import { BlockPool, Blocks, defaultBlockSize } from "../stream/pool.ts"
import { CompressionLane } from "./lanes.ts"

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
  /** Bytes per independent block (default 3 MiB, the shared pool's). */
  readonly blockSize?: number
  /** Blocks compressed at once (default: cores + 1, at most the thread pool size - 1). */
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

export const makeCompression = (options: CompressionOptions): Compression["Service"] => {
  const { algorithm } = options
  const level = options.level ?? (algorithm === "zstd" ? 3 : 6)
  const blockSize = options.blockSize ?? defaultBlockSize
  const lanes = options.concurrency ?? defaultLanes()
  return {
    algorithm,
    extension: extensions[algorithm],
    compress: (input) =>
      Stream.unwrap(Effect.gen(function*() {
        const shared = yield* Blocks
        // sources fill the shared pool's blocks; another block size gets a pool of its own
        const pool = shared.blockSize === blockSize ? shared : new BlockPool(blockSize)
        const lanePool = yield* Effect.acquireRelease(
          Effect.sync(() => Array.from({ length: lanes }, () => new CompressionLane({ algorithm, level }))),
          (lanePool) => Effect.sync(() => lanePool.forEach((lane) => lane.close()))
        )
        return input.pipe(
          toBlocks(pool),
          Stream.zipWithIndex,
          Stream.mapEffect(
            ([block, index]) =>
              Effect.tryPromise({
                // block n always goes to lane n mod lanes, and mapEffect keeps
                // at most `lanes` blocks in flight: no lane gets two at once
                try: () => lanePool[index % lanes]!.compress(block),
                catch: (cause) => new CompressionError({ algorithm, cause })
              }).pipe(Effect.ensuring(Effect.sync(() => pool.release(block)))),
            { concurrency: lanes }
          ),
          // a frame is never empty: each batch of frames flattens to a non-empty batch of chunks
          Stream.mapArray((frames) => frames.flat() as unknown as NonEmptyReadonlyArray<Uint8Array>)
        )
      }))
  }
}
