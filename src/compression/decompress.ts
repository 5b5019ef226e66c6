/**
 * Decompression for restores: recognises zstd and gzip by their magic bytes
 * and streams the plaintext out, for any number of zstd frames or gzip
 * members.
 */
import * as NodeStream from "@effect/platform-node/NodeStream"
import { Schema, Stream } from "effect"
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

/** Feeds one frame at a time through a fresh zstd decoder. */
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
  for (;;) {
    const head = await nextSegment()
    if (head === undefined) return
    async function* frame() {
      let segment: Segment | undefined = head
      while (segment !== undefined) {
        yield segment.bytes
        if (segment.endsFrame) return
        segment = await nextSegment()
      }
    }
    const decoder = zlib.createZstdDecompress()
    const decoding = pipeline(frame(), decoder)
    // a failure also ends the loop below, which then throws before `decoding`
    // is awaited: without a handler it would be an unhandled rejection too
    decoding.catch(() => undefined)
    for await (const chunk of decoder as AsyncIterable<Uint8Array>) yield chunk
    await decoding
  }
}

async function* gunzip(source: AsyncIterator<Uint8Array>, first: Uint8Array): AsyncGenerator<Uint8Array> {
  async function* rest() {
    yield first
    for (let next = await source.next(); !next.done; next = await source.next()) yield next.value
  }
  const decoder = zlib.createGunzip()
  const decoding = pipeline(rest(), decoder)
  decoding.catch(() => undefined) // as in zstdFrames
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

