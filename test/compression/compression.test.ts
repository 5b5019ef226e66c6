/**
 * makeCompression round trips: zstd and gzip, small blocks (many frames or
 * members), one lane and three. The output is checked with the real
 * `zstd -d` and `gunzip` as well as with our decompress, frame by frame:
 * every frame or member holds exactly one block, in input order.
 */
import { Effect, Stream } from "effect"
import { execFileSync } from "node:child_process"
import * as crypto from "node:crypto"
import * as zlib from "node:zlib"
import { beforeAll, describe, expect, it } from "vitest"
import { type CompressionAlgorithm, makeCompression } from "../../src/compression/Compression.ts"
import { decompress } from "../../src/compression/decompress.ts"
import { ZstdFrameSplitter } from "../../src/compression/zstdFrames.ts"
import { requireCommands } from "../harness/tools.ts"

const KiB = 1024
const MiB = 1024 * KiB
const blockSize = 256 * KiB

/**
 * Non-uniform data: runs of numbered text lines (compress well) and random
 * bytes (do not), in varying lengths, so blocks differ in content and in how
 * long they take, and a block out of place cannot go unnoticed.
 */
const makeData = (size: number): Buffer => {
  const parts: Array<Buffer> = []
  let length = 0
  for (let i = 0; length < size; i++) {
    const part = i % 4 === 3
      ? crypto.randomBytes(10 * KiB + ((i * 7919) % (200 * KiB)))
      : Buffer.from(Array.from({ length: 50 + (i % 300) }, (_, line) => `run ${i} line ${line}: ${(i * line) % 9973}\n`).join(""))
    parts.push(part)
    length += part.length
  }
  return Buffer.concat(parts).subarray(0, size)
}

/** Input chunks of uneven sizes, some smaller and some larger than a block. */
const chunksOf = (data: Buffer): Array<Buffer> => {
  const sizes = [1, 100_003, 7, 600 * KiB, 65_536, 3 * KiB + 1]
  const chunks: Array<Buffer> = []
  for (let offset = 0, i = 0; offset < data.length; i++) {
    const size = sizes[i % sizes.length]!
    chunks.push(data.subarray(offset, offset + size))
    offset += size
  }
  return chunks
}

const compress = (algorithm: CompressionAlgorithm, concurrency: number, data: Buffer) =>
  Effect.runPromise(
    Stream.runCollect(makeCompression({ algorithm, blockSize, concurrency }).compress(Stream.fromIterable(chunksOf(data))))
  ).then((out) => Buffer.concat(out))

const ourDecompress = (compressed: Buffer) =>
  Effect.runPromise(Stream.runCollect(decompress(Stream.make(compressed)))).then((out) => Buffer.concat(out))

/** The content of each zstd frame, split by ZstdFrameSplitter and decoded on its own. */
const zstdFrameContents = (compressed: Buffer): Array<Buffer> => {
  const splitter = new ZstdFrameSplitter()
  const frames: Array<Buffer> = []
  let current: Array<Uint8Array> = []
  for (const segment of splitter.push(compressed)) {
    current.push(segment.bytes)
    if (segment.endsFrame) {
      frames.push(zlib.zstdDecompressSync(Buffer.concat(current)))
      current = []
    }
  }
  splitter.finish()
  return frames
}

/** The content of each gzip member, walked header by header. */
const gzipMemberContents = (compressed: Buffer): Array<Buffer> => {
  const members: Array<Buffer> = []
  for (let offset = 0; offset < compressed.length;) {
    expect(compressed.subarray(offset, offset + 3)).toEqual(Buffer.from([0x1f, 0x8b, 0x08]))
    expect(compressed[offset + 3], "no optional header fields").toBe(0)
    const { buffer, engine } = zlib.inflateRawSync(compressed.subarray(offset + 10), { info: true }) as unknown as {
      buffer: Buffer
      engine: { bytesWritten: number }
    }
    const trailer = offset + 10 + engine.bytesWritten
    expect(compressed.readUInt32LE(trailer + 4), "ISIZE").toBe(buffer.length)
    members.push(buffer)
    offset = trailer + 8
  }
  return members
}

const external: Record<CompressionAlgorithm, Array<string>> = { zstd: ["zstd", "-d", "-c"], gzip: ["gunzip", "-c"] }

describe.runIf(requireCommands("compression round trips", "zstd", "gunzip"))("makeCompression", () => {
  const sizes = [0, 1, MiB, 10 * MiB] as const
  const data = new Map<number, Buffer>()

  beforeAll(() => {
    for (const size of sizes) data.set(size, makeData(size))
  })

  describe.each(["zstd", "gzip"] as const)("%s", (algorithm) => {
    it.each([1, 3])("empty input, %i lane(s): no output at all (not even an empty frame)", async (concurrency) => {
      // the backup pipeline refuses an empty snapshot before this matters
      const compressed = await compress(algorithm, concurrency, Buffer.alloc(0))
      expect(compressed.length).toBe(0)
    })

    for (const size of sizes.filter((size) => size > 0)) {
      it.each([1, 3])(`${size} bytes, %i lane(s): decodes with ${external[algorithm][0]} and decompress, one block per frame, in order`, async (concurrency) => {
        const input = data.get(size)!
        const compressed = await compress(algorithm, concurrency, input)
        expect(compressed.length).toBeGreaterThan(0)

        const [command, ...args] = external[algorithm]
        const byTool = execFileSync(command!, args, { input: compressed, maxBuffer: 64 * MiB })
        expect(byTool.length).toBe(input.length)
        expect(byTool.equals(input)).toBe(true)

        const ours = await ourDecompress(compressed)
        expect(ours.equals(input)).toBe(true)

        // every frame/member is exactly one block of the input, at its place
        const contents = algorithm === "zstd" ? zstdFrameContents(compressed) : gzipMemberContents(compressed)
        expect(contents.length).toBe(Math.ceil(size / blockSize))
        contents.forEach((content, i) => {
          expect(content.equals(input.subarray(i * blockSize, (i + 1) * blockSize)), `block ${i}`).toBe(true)
        })
      })
    }

    it("one lane and three give the same bytes", async () => {
      const input = data.get(MiB)!
      const [one, three] = await Promise.all([compress(algorithm, 1, input), compress(algorithm, 3, input)])
      expect(one.equals(three)).toBe(true)
    })
  })
})
