/**
 * Compression round trips, checked with the real `zstd -d` and `gunzip` as
 * well as with our decompress:
 * - zstd on zstd's worker threads (the default): one frame, whatever the
 *   number of workers, and the same bytes for 1 and 2 workers;
 * - lanes (gzip, and zstd where Node lacks the native handle): small blocks,
 *   one lane and three, frame by frame: every frame or member holds exactly
 *   one block, in input order.
 */
import { Effect, Stream } from "effect"
import { execFileSync } from "node:child_process"
import * as crypto from "node:crypto"
import * as zlib from "node:zlib"
import { beforeAll, describe, expect, it } from "vitest"
import { type CompressionAlgorithm, CompressionError, makeCompression } from "../../src/compression/Compression.ts"
import { decompress } from "../../src/compression/decompress.ts"
import { compressInLanes } from "../../src/compression/lanes.ts"
import { ZstdFrameSplitter } from "../../src/compression/zstdFrames.ts"
import { compressWithZstdThreads, ThreadedZstd } from "../../src/compression/zstdThreads.ts"
import { BlockPool, Blocks } from "../../src/stream/pool.ts"
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

type Compress = <E, R>(input: Stream.Stream<Uint8Array, E, R>) => Stream.Stream<Uint8Array, E | CompressionError, R>

const run = (compress: Compress, data: Buffer) =>
  Effect.runPromise(Stream.runCollect(compress(Stream.fromIterable(chunksOf(data))))).then((out) => Buffer.concat(out))

const onError = (algorithm: CompressionAlgorithm) => (cause: unknown) => new CompressionError({ algorithm, cause })

const inLanes = (algorithm: CompressionAlgorithm, lanes: number, data: Buffer) =>
  run(compressInLanes({ algorithm, level: algorithm === "zstd" ? 3 : 6, blockSize, lanes }, onError(algorithm)), data)

const onZstdThreads = (workers: number, data: Buffer, level = 3) =>
  run(compressWithZstdThreads({ level, workers, jobSize: 512 * KiB }, onError("zstd")), data)

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

/** Decodes `compressed` with the real tool and with our decompress; both must give `input` back. */
const expectRoundTrip = async (algorithm: CompressionAlgorithm, compressed: Buffer, input: Buffer) => {
  expect(compressed.length).toBeGreaterThan(0)
  const [command, ...args] = external[algorithm]
  const byTool = execFileSync(command!, args, { input: compressed, maxBuffer: 64 * MiB })
  expect(byTool.length).toBe(input.length)
  expect(byTool.equals(input)).toBe(true)
  const ours = await ourDecompress(compressed)
  expect(ours.equals(input)).toBe(true)
}

const sizes = [0, 1, MiB, 10 * MiB] as const
const data = new Map<number, Buffer>()

beforeAll(() => {
  for (const size of sizes) data.set(size, makeData(size))
})

describe.runIf(requireCommands("compression round trips", "zstd", "gunzip"))("makeCompression", () => {
  it("zstd runs on zstd's worker threads: one frame", async () => {
    expect(ThreadedZstd.supported).toBe(true)
    const input = data.get(10 * MiB)!
    const compressed = await run(makeCompression({ algorithm: "zstd" }).compress, input)
    await expectRoundTrip("zstd", compressed, input)
    expect(zstdFrameContents(compressed).length).toBe(1)
  })

  it("gzip runs in lanes: one member a 3 MiB block", async () => {
    const input = data.get(10 * MiB)!
    const compressed = await run(makeCompression({ algorithm: "gzip" }).compress, input)
    await expectRoundTrip("gzip", compressed, input)
    expect(gzipMemberContents(compressed).length).toBe(4)
  })
})

describe.runIf(requireCommands("compression round trips", "zstd"))("compressWithZstdThreads", () => {
  it.each([0, 2])("empty input, %i worker(s): no output at all (not even an empty frame)", async (workers) => {
    // the backup pipeline refuses an empty snapshot before this matters
    expect((await onZstdThreads(workers, Buffer.alloc(0))).length).toBe(0)
  })

  for (const size of sizes.filter((size) => size > 0)) {
    it.each([0, 1, 2])(`${size} bytes, %i worker(s): one frame that decodes with zstd and decompress`, async (workers) => {
      const input = data.get(size)!
      const compressed = await onZstdThreads(workers, input)
      await expectRoundTrip("zstd", compressed, input)
      expect(zstdFrameContents(compressed).length).toBe(1)
    })
  }

  it("1 and 2 workers give the same bytes (zstd's output does not depend on its thread count)", async () => {
    const input = data.get(10 * MiB)!
    const [one, two] = await Promise.all([onZstdThreads(1, input), onZstdThreads(2, input)])
    expect(one.equals(two)).toBe(true)
  })

  it("levels 1 and 19 round-trip", async () => {
    const input = data.get(MiB)!
    for (const level of [1, 19]) await expectRoundTrip("zstd", await onZstdThreads(2, input, level), input)
  })

  it("gives each pool block back once zstd has copied it", async () => {
    const pool = new BlockPool(64 * KiB, 2)
    const blocks = [pool.take(), pool.take()]
    blocks.forEach((block, i) => block.fill(i + 1))
    const compressed = await Effect.runPromise(
      Stream.runCollect(compressWithZstdThreads({ level: 3, workers: 2, jobSize: 512 * KiB }, onError("zstd"))(Stream.fromIterable(blocks))).pipe(
        Effect.provideService(Blocks, pool)
      )
    )
    expect(zlib.zstdDecompressSync(Buffer.concat(compressed)).equals(Buffer.concat(blocks))).toBe(true)
    // both came back: the pool hands them out again instead of new ones
    const again = [pool.take(), pool.take()].map((block) => block.buffer)
    expect(again).toEqual(expect.arrayContaining(blocks.map((block) => block.buffer)))
  })

  it("a closed compressor refuses writes with an error instead of touching the freed native handle", () => {
    const zstd = new ThreadedZstd({ level: 3, workers: 2, jobSize: 512 * KiB })
    zstd.write(Buffer.from("some data"))
    zstd.close()
    zstd.close()
    expect(() => zstd.write(Buffer.from("more"))).toThrow(/closed/)
    expect(() => zstd.end()).toThrow(/closed/)
  })
})

describe.runIf(requireCommands("compression round trips", "zstd", "gunzip"))("compressInLanes", () => {
  describe.each(["zstd", "gzip"] as const)("%s", (algorithm) => {
    it.each([1, 3])("empty input, %i lane(s): no output at all (not even an empty frame)", async (lanes) => {
      const compressed = await inLanes(algorithm, lanes, Buffer.alloc(0))
      expect(compressed.length).toBe(0)
    })

    for (const size of sizes.filter((size) => size > 0)) {
      it.each([1, 3])(`${size} bytes, %i lane(s): decodes with ${external[algorithm][0]} and decompress, one block per frame, in order`, async (lanes) => {
        const input = data.get(size)!
        const compressed = await inLanes(algorithm, lanes, input)
        await expectRoundTrip(algorithm, compressed, input)

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
      const [one, three] = await Promise.all([inLanes(algorithm, 1, input), inLanes(algorithm, 3, input)])
      expect(one.equals(three)).toBe(true)
    })
  })
})
