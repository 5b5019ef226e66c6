/**
 * The zstd decoder threads (src/compression/zstdWorkers.ts), through
 * `decompressChunks` and directly with several workers, on the output of the
 * real `zstd`: leased chunks consumed in place, frames spread over workers and
 * read back in order, damage and truncation as errors, and no thread left
 * running once a stream ended, failed or was abandoned.
 */
import { execFileSync } from "node:child_process"
import * as crypto from "node:crypto"
import { describe, expect, it } from "vitest"
import { decompressChunks } from "../../src/compression/decompress.ts"
import { type Segment, ZstdFrameSplitter } from "../../src/compression/zstdFrames.ts"
import { decodeFramesOnWorkers, runningDecoders } from "../../src/compression/zstdWorkers.ts"
import { requireCommands } from "../harness/tools.ts"

const MiB = 1024 * 1024

const zstd = (input: Buffer, ...flags: Array<string>) => execFileSync("zstd", ["-q", "-c", ...flags], { input, maxBuffer: 256 * MiB })

async function* chunked(input: Buffer, size: number) {
  for (let offset = 0; offset < input.length; offset += size) yield input.subarray(offset, offset + size)
}

async function* segmentsOf(input: Buffer, size: number): AsyncGenerator<Segment> {
  const splitter = new ZstdFrameSplitter()
  for await (const chunk of chunked(input, size)) yield* splitter.push(chunk)
  splitter.finish()
}

/** Compressible and varied: lines of text between random runs. */
const content = (size: number, seed: string) => {
  const parts: Array<Buffer> = []
  let length = 0
  for (let i = 0; length < size; i++) {
    const part = i % 4 === 3 ? crypto.randomBytes(700) : Buffer.from(`${seed} line ${i} ${"abc ".repeat(i % 40)}\n`)
    parts.push(part)
    length += part.length
  }
  return Buffer.concat(parts).subarray(0, size)
}

const sha256 = (bytes: Uint8Array) => crypto.createHash("sha256").update(bytes).digest("hex")

/** Hashes chunks as they come, the way verify does: nothing kept past the next pull. */
const hashAll = async (chunks: AsyncIterable<Uint8Array>) => {
  const hash = crypto.createHash("sha256")
  let bytes = 0
  for await (const chunk of chunks) {
    hash.update(chunk)
    bytes += chunk.length
  }
  return { sha256: hash.digest("hex"), bytes }
}

const settled = async () => {
  for (let i = 0; i < 100 && runningDecoders() > 0; i++) await new Promise((resolve) => setTimeout(resolve, 20))
  return runningDecoders()
}

describe.runIf(requireCommands("zstd decoder threads", "zstd"))("zstd decoder threads", () => {
  it("one long frame, read in chunks of every size: the plaintext, chunk by chunk, in place", async () => {
    const plain = content(24 * MiB, "long")
    const compressed = zstd(plain, "-3")
    for (const size of [4096, 1_000_003, 8 * MiB]) {
      expect(await hashAll(decompressChunks(chunked(compressed, size))), `input chunks of ${size}`).toEqual({ sha256: sha256(plain), bytes: plain.length })
    }
    expect(await settled()).toBe(0)
  })

  it("frames spread over two workers come back in order, frames larger and smaller than the rings among them", async () => {
    const frames = Array.from({ length: 14 }, (_, i) => content(i % 5 === 0 ? 9 * MiB : 100_000 + i * 70_000, `frame ${i}`))
    const compressed = Buffer.concat(frames.map((frame, i) => zstd(frame, i % 2 === 0 ? "--check" : "--no-check")))
    const plain = Buffer.concat(frames)
    for (const workers of [1, 2, 3]) {
      expect(await hashAll(decodeFramesOnWorkers(segmentsOf(compressed, 300_001), workers)), `${workers} worker(s)`).toEqual({
        sha256: sha256(plain),
        bytes: plain.length
      })
    }
    expect(await settled()).toBe(0)
  })

  it("a chunk is a view of a slot that is reused: kept past the next pull, it changes", async () => {
    const compressed = zstd(crypto.randomBytes(6 * MiB))
    const kept: Array<{ readonly view: Uint8Array; readonly copy: Buffer }> = []
    for await (const chunk of decompressChunks(chunked(compressed, MiB))) kept.push({ view: chunk, copy: Buffer.from(chunk) })
    expect(kept.length).toBeGreaterThan(3)
    expect(kept.some(({ view, copy }) => !copy.equals(view))).toBe(true)
    // the copying form is what streams get
    const copied: Array<Uint8Array> = []
    for await (const chunk of decompressChunks(chunked(compressed, MiB), { copy: true })) copied.push(chunk)
    expect(sha256(Buffer.concat(copied))).toBe(sha256(Buffer.concat(kept.map(({ copy }) => copy))))
  })

  it("a flipped byte or a cut in the middle of a frame fails the stream; the threads stop", async () => {
    const frames = Array.from({ length: 6 }, (_, i) => zstd(content(2 * MiB, `frame ${i}`), "--check"))
    const damaged = Buffer.concat(frames)
    const offset = frames[0]!.length + frames[1]!.length + frames[2]!.length - 3
    damaged[offset]! ^= 0xff // the checksum of the third frame
    await expect(hashAll(decodeFramesOnWorkers(segmentsOf(damaged, 65_536), 2))).rejects.toThrow()
    const cut = Buffer.concat(frames).subarray(0, frames[0]!.length + 100_000)
    await expect(hashAll(decodeFramesOnWorkers(segmentsOf(cut, 65_536), 2))).rejects.toThrow(/truncated/)
    expect(await settled()).toBe(0)
  })

  it("a reader that stops early leaves no thread running, also with frames still queued", async () => {
    const compressed = Buffer.concat(Array.from({ length: 8 }, (_, i) => zstd(content(3 * MiB, `frame ${i}`))))
    for (const workers of [1, 2]) {
      let read = 0
      for await (const chunk of decodeFramesOnWorkers(segmentsOf(compressed, MiB), workers)) {
        read += chunk.length
        if (read > 2 * MiB) break
      }
    }
    expect(await settled()).toBe(0)
  })
})
