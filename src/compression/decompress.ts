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
 * Output buffer of each decoder. Node's default (16 KiB) costs a round trip
 * to the thread pool per 16 KiB of plaintext: 65,536 per GiB, which measured
 * 4.4 s for what 1 MiB buffers do in 1.7 s (docs/PERFORMANCE.md).
 */
const decoderChunkSize = 1024 * 1024

/** Frames larger than this (compressed) are streamed through a decoder instead of decoded whole. */
const wholeFrameLimit = 8 * 1024 * 1024

/** Whole frames decoded at once, on the thread pool; output stays in input order. */
const framesInFlight = Math.max(2, Math.min(4, os.availableParallelism()))

/** One zstd frame, whole, through a fresh decoder: its plaintext, in order. */
const decodeFrame = (parts: ReadonlyArray<Uint8Array>): Promise<Array<Buffer>> =>
  new Promise((resolve, reject) => {
    const decoder = zlib.createZstdDecompress({ chunkSize: decoderChunkSize })
    const output: Array<Buffer> = []
    decoder.on("data", (chunk: Buffer) => output.push(chunk))
    decoder.once("error", reject)
    decoder.once("end", () => resolve(output))
    // one write: each write is a round trip to the thread pool
    decoder.end(Buffer.concat(parts))
  })

/**
 * A zstd stream, frame by frame: Node's decoder is fed one frame at a time
 * (see ./zstdFrames.ts), and ubackup's backups are many frames of at most a
 * few MiB, so several are decoded at once on the thread pool, which is how a
 * restore keeps up with `zstd -d` on more than one core. A frame too large to
 * hold (one `zstd -T0` frame holds everything) is streamed through one
 * decoder instead.
 */
async function* zstdFrames(source: AsyncIterator<Uint8Array>, first: Uint8Array): AsyncGenerator<Uint8Array> {
  const splitter = new ZstdFrameSplitter()
  let pending: Array<Segment> = splitter.push(first)
  let ended = false
  const nextSegment = async (): Promise<Segment | undefined> => {
    while (pending.length === 0) {
      if (ended) return undefined
      const next = await source.next()
      if (next.done) {
        ended = true
        splitter.finish()
      } else {
        pending = splitter.push(next.value)
      }
    }
    return pending.shift()
  }
  const inFlight: Array<Promise<Array<Buffer>>> = []
  try {
    for (;;) {
      const parts: Array<Uint8Array> = []
      let size = 0
      let complete = false
      while (size <= wholeFrameLimit) {
        const segment = await nextSegment()
        if (segment === undefined) break
        parts.push(segment.bytes)
        size += segment.bytes.length
        if (segment.endsFrame) {
          complete = true
          break
        }
      }
      if (parts.length === 0) break
      if (complete) {
        const decoding = decodeFrame(parts)
        // awaited in turn below; until then a failure must not be an unhandled rejection
        decoding.catch(() => undefined)
        inFlight.push(decoding)
        if (inFlight.length >= framesInFlight) yield* await inFlight.shift()!
        continue
      }
      while (inFlight.length > 0) yield* await inFlight.shift()!
      yield* streamFrame(parts, nextSegment)
    }
    while (inFlight.length > 0) yield* await inFlight.shift()!
  } finally {
    inFlight.length = 0
  }
}

/** The rest of a large frame, whose first `parts` are in, through one streaming decoder. */
async function* streamFrame(parts: ReadonlyArray<Uint8Array>, nextSegment: () => Promise<Segment | undefined>) {
  // the splitter cuts at every block header (~6 pieces per 64 KiB): written
  // one by one, each a round trip to the thread pool, they measured 4.2 s
  // for 382 MiB where 1 MiB writes take 1.65 s; the copy costs ~0.1 s/GiB
  async function* frame() {
    let batch: Array<Uint8Array> = [...parts]
    let size = parts.reduce((total, part) => total + part.length, 0)
    for (let segment = await nextSegment(); segment !== undefined; segment = await nextSegment()) {
      batch.push(segment.bytes)
      size += segment.bytes.length
      if (segment.endsFrame) break
      if (size >= decoderChunkSize) {
        yield Buffer.concat(batch, size)
        batch = []
        size = 0
      }
    }
    if (size > 0) yield Buffer.concat(batch, size)
  }
  const decoder = zlib.createZstdDecompress({ chunkSize: decoderChunkSize })
  const decoding = pipeline(frame(), decoder)
  // a failure also ends the loop below, which then throws before `decoding`
  // is awaited: without a handler it would be an unhandled rejection too
  decoding.catch(() => undefined)
  for await (const chunk of decoder as AsyncIterable<Uint8Array>) yield chunk
  await decoding
}

async function* gunzip(source: AsyncIterator<Uint8Array>, first: Uint8Array): AsyncGenerator<Uint8Array> {
  async function* rest() {
    yield first
    for (let next = await source.next(); !next.done; next = await source.next()) yield next.value
  }
  const decoder = zlib.createGunzip({ chunkSize: decoderChunkSize })
  const decoding = pipeline(rest(), decoder)
  decoding.catch(() => undefined) // as in streamFrame
  for await (const chunk of decoder as AsyncIterable<Uint8Array>) yield chunk
  await decoding
}

/** A Duplex: compressed bytes in, plaintext out; the format comes from the first bytes. */
export const makeDecompressor = (): Duplex =>
  Duplex.from(async function*(source: AsyncIterable<Uint8Array>) {
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
    yield* (format === "zstd" ? zstdFrames(input, head) : gunzip(input, head))
  })

const toDecompressionError = (cause: unknown): DecompressionError =>
  cause instanceof DecompressionError
    ? cause
    : new DecompressionError({
      detail: `decompression failed: ${cause instanceof Error ? cause.message : String(cause)}`
    })

/** Decompresses a zstd or gzip byte stream, whichever its magic bytes say. */
export const decompress = <E, R>(input: Stream.Stream<Uint8Array, E, R>): Stream.Stream<Uint8Array, E | DecompressionError, R> =>
  NodeStream.pipeThroughDuplex(input, { evaluate: makeDecompressor, onError: toDecompressionError })

