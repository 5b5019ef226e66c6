/**
 * Decompression for restores: recognises zstd and gzip by their magic bytes
 * and streams the plaintext out, for any number of zstd frames or gzip
 * members.
 */
import * as NodeStream from "@effect/platform-node/NodeStream"
import { Schema, Stream } from "effect"
import * as os from "node:os"
import { Duplex } from "node:stream"
import { pipeline } from "node:stream/promises"
import * as zlib from "node:zlib"
import { type Segment, ZstdFrameSplitter } from "./zstdFrames.ts"
import { decodeFramesOnWorkers } from "./zstdWorkers.ts"

export class DecompressionError extends Schema.TaggedError<DecompressionError>()("DecompressionError", {
  detail: Schema.String
}) {
  override get message() {
    return this.detail
  }
}

const zstdMagic = Buffer.from([0x28, 0xb5, 0x2f, 0xfd])
const gzipMagic = Buffer.from([0x1f, 0x8b])

export type Format = "zstd" | "gzip"

/** A zstd stream may open with a skippable frame (pzstd writes one before every frame). */
const isSkippableFrame = (head: Uint8Array): boolean =>
  head.length >= 4 && (Buffer.from(head.subarray(0, 4)).readUInt32LE(0) & 0xfffffff0) >>> 0 === 0x184d2a50

export const detectFormat = (head: Uint8Array): Format | undefined =>
  Buffer.from(head.subarray(0, 4)).equals(zstdMagic) || isSkippableFrame(head)
    ? "zstd"
    : Buffer.from(head.subarray(0, 2)).equals(gzipMagic)
    ? "gzip"
    : undefined

/**
 * Output buffer of the gzip decoder. Node's default (16 KiB) costs a round
 * trip to the thread pool per 16 KiB of plaintext: 65,536 per GiB, which
 * measured 4.4 s for what 1 MiB buffers do in 1.7 s (docs/PERFORMANCE.md).
 */
const decoderChunkSize = 1024 * 1024

/**
 * Frames decoded at once, each on a worker thread of its own. The main thread
 * decrypts meanwhile, so on two cores a second decoder only cost memory
 * (~20 MiB) without a faster restore (docs/PERFORMANCE.md).
 */
const decoderWorkers = Math.max(1, Math.min(2, os.availableParallelism() - 1))

/**
 * A zstd stream: split into frames (Node's decoder would stop after the
 * first, see ./zstdFrames.ts), which are decoded on worker threads
 * (./zstdWorkers.ts), several at once when there are several.
 */
async function* zstdFrames(source: AsyncIterator<Uint8Array>, first: Uint8Array): AsyncGenerator<Uint8Array> {
  const splitter = new ZstdFrameSplitter()
  async function* segments(): AsyncGenerator<Segment> {
    yield* splitter.push(first)
    for (let next = await source.next(); !next.done; next = await source.next()) yield* splitter.push(next.value)
    splitter.finish()
  }
  yield* decodeFramesOnWorkers(segments(), decoderWorkers)
}

async function* gunzip(source: AsyncIterator<Uint8Array>, first: Uint8Array): AsyncGenerator<Uint8Array> {
  async function* rest() {
    yield first
    for (let next = await source.next(); !next.done; next = await source.next()) yield next.value
  }
  const decoder = zlib.createGunzip({ chunkSize: decoderChunkSize })
  const decoding = pipeline(rest(), decoder)
  // a failure also ends the loop below, which then throws before `decoding`
  // is awaited: without a handler it would be an unhandled rejection
  decoding.catch(() => undefined)
  for await (const chunk of decoder as AsyncIterable<Uint8Array>) yield chunk
  await decoding
}

/**
 * The plaintext of compressed bytes, zstd or gzip by the first bytes. zstd
 * chunks are views of the decoder's shared slots (./zstdWorkers.ts), each
 * valid only until the next chunk is asked for: a consumer that is done with
 * a chunk by then (a hash, a write awaited to its callback) copies nothing.
 */
export async function* decompressChunks(
  source: AsyncIterable<Uint8Array>,
  options: { readonly copy?: boolean } = {}
): AsyncGenerator<Uint8Array> {
  const input = source[Symbol.asyncIterator]()
  let head = Buffer.alloc(0)
  while (head.length < 4) {
    const next = await input.next()
    if (next.done) break
    head = Buffer.concat([head, next.value])
  }
  if (head.length === 0) throw new DecompressionError({ detail: "nothing to decompress: the backup is empty" })
  const format = detectFormat(head)
  if (format === undefined) {
    throw new DecompressionError({
      detail: "the decrypted data is neither zstd nor gzip; pass --raw to write it as it is"
    })
  }
  if (format === "gzip") return yield* gunzip(input, head)
  if (!options.copy) return yield* zstdFrames(input, head)
  for await (const chunk of zstdFrames(input, head)) yield Buffer.from(chunk)
}

/** A Duplex: compressed bytes in, plaintext out, each chunk its own. */
export const makeDecompressor = (): Duplex =>
  Duplex.from((source: AsyncIterable<Uint8Array>) => decompressChunks(source, { copy: true }))

export const toDecompressionError = (cause: unknown): DecompressionError =>
  cause instanceof DecompressionError
    ? cause
    : new DecompressionError({
      detail: `decompression failed: ${cause instanceof Error ? cause.message : String(cause)}`
    })

/** Decompresses a zstd or gzip byte stream, whichever its magic bytes say. */
export const decompress = <E, R>(input: Stream.Stream<Uint8Array, E, R>): Stream.Stream<Uint8Array, E | DecompressionError, R> =>
  NodeStream.pipeThroughDuplex(input, { evaluate: makeDecompressor, onError: toDecompressionError })

