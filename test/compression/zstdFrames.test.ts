/**
 * ZstdFrameSplitter on real `zstd` output and on frames written by hand
 * (every frame header size, skippable frames, raw and RLE blocks), pushed
 * in every split: the segments put together are the input minus its
 * skippable frames, and `endsFrame` marks exactly the frame ends.
 */
import { execFileSync } from "node:child_process"
import * as crypto from "node:crypto"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import * as zlib from "node:zlib"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { ZstdFormatError, ZstdFrameSplitter } from "../../src/compression/zstdFrames.ts"
import { requireCommands } from "../harness/tools.ts"

interface Part {
  readonly name: string
  readonly bytes: Buffer
  /** The decompressed content; undefined for a skippable frame. */
  readonly content?: Buffer
}

const zstdMagic = Buffer.from([0x28, 0xb5, 0x2f, 0xfd])

/** A skippable frame: magic 0x184D2A5n LE, uint32 LE size, payload. */
const skippable = (payload: Buffer, nibble = 0): Part => {
  const header = Buffer.alloc(8)
  header.writeUInt32LE(0x184d2a50 + nibble, 0)
  header.writeUInt32LE(payload.length, 4)
  return { name: `skippable(${payload.length})`, bytes: Buffer.concat([header, payload]) }
}

/** A block header: bit 0 last, bits 1–2 type (0 raw, 1 RLE, 2 compressed), size above. */
const blockHeader = (size: number, type: number, last: boolean) => {
  const value = (size << 3) | (type << 1) | (last ? 1 : 0)
  return Buffer.from([value & 0xff, (value >> 8) & 0xff, (value >> 16) & 0xff])
}

/** Frames written by hand for the header fields `zstd` never writes for small inputs. */
const handMade = (): Array<Part> => {
  const hello = Buffer.from("hello")
  const fcs8 = Buffer.alloc(8)
  fcs8.writeBigUInt64LE(5n)
  const x300 = Buffer.alloc(300, "x")
  return [
    {
      // content size in 8 bytes, a 4-byte dictionary ID (0: none), a window descriptor
      name: "8-byte content size, 4-byte dictionary ID",
      bytes: Buffer.concat([zstdMagic, Buffer.of(0xc3, 0x00), Buffer.alloc(4), fcs8, blockHeader(5, 0, true), hello]),
      content: hello
    },
    {
      name: "single segment, 1-byte dictionary ID, 1-byte content size",
      bytes: Buffer.concat([zstdMagic, Buffer.of(0x21, 0x00, 5), blockHeader(5, 0, true), hello]),
      content: hello
    },
    {
      // content size 2 bytes: value - 256
      name: "2-byte dictionary ID, 2-byte content size",
      bytes: Buffer.concat([zstdMagic, Buffer.of(0x62, 0, 0, 300 - 256, 0), blockHeader(300, 0, true), x300]),
      content: x300
    },
    {
      name: "an RLE block, then an empty last raw block",
      bytes: Buffer.concat([zstdMagic, Buffer.of(0x00, 0x00), blockHeader(1000, 1, false), Buffer.from("z"), blockHeader(0, 0, true)]),
      content: Buffer.alloc(1000, "z")
    }
  ]
}

interface Split {
  readonly bytes: Buffer
  /** Offsets in `bytes` right after a segment with endsFrame. */
  readonly ends: Array<number>
}

/** Pushes `chunks`, finishes, and records the segments. */
const split = (chunks: ReadonlyArray<Uint8Array>): Split => {
  const splitter = new ZstdFrameSplitter()
  const out: Array<Uint8Array> = []
  const ends: Array<number> = []
  let offset = 0
  const take = (segments: ReturnType<ZstdFrameSplitter["push"]>) => {
    for (const segment of segments) {
      expect(segment.bytes.length).toBeGreaterThan(0)
      out.push(Buffer.from(segment.bytes)) // a copy: the segment views the pushed chunk
      offset += segment.bytes.length
      if (segment.endsFrame) ends.push(offset)
    }
  }
  for (const chunk of chunks) take(splitter.push(chunk))
  splitter.finish()
  return { bytes: Buffer.concat(out), ends }
}

/** What the splitter must give for `parts`: the frames without skippable ones, and where each ends. */
const expected = (parts: ReadonlyArray<Part>): Split => {
  const frames = parts.filter((part) => part.content !== undefined)
  const ends: Array<number> = []
  let offset = 0
  for (const frame of frames) ends.push((offset += frame.bytes.length))
  return { bytes: Buffer.concat(frames.map((frame) => frame.bytes)), ends }
}

/** Deterministic chunk sizes from a seed. */
const chunkings = (input: Buffer, seed: number, maxChunk: number): Array<Buffer> => {
  const chunks: Array<Buffer> = []
  let state = seed
  for (let offset = 0; offset < input.length;) {
    state = (state * 1103515245 + 12345) % 2 ** 31
    const size = 1 + (state % maxChunk)
    chunks.push(input.subarray(offset, offset + size))
    offset += size
  }
  return chunks
}

describe.runIf(requireCommands("zstd frame splitter", "zstd"))("ZstdFrameSplitter", () => {
  let dir: string
  /** A small stream of every kind of frame, for splits at every byte. */
  let small: Array<Part>
  /** Frames of many blocks, for coarser splits. */
  let large: Array<Part>

  /** `zstd` on `content`, from a file (content size in the header) or from stdin (none). */
  const zstd = (name: string, content: Buffer, flags: ReadonlyArray<string>, from: "file" | "stdin" = "file"): Part => {
    const file = path.join(dir, `${crypto.randomUUID()}.in`)
    fs.writeFileSync(file, content)
    const bytes = from === "file"
      ? execFileSync("zstd", ["-q", "-c", ...flags, file])
      : execFileSync("zstd", ["-q", "-c", ...flags], { input: content })
    return { name, bytes, content }
  }

  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "ubackup-zstdframes-test-"))
    const text = Buffer.from("hello zstd frames, hello again, hello once more\n".repeat(3))
    small = [
      skippable(Buffer.from("meta!")),
      zstd("text, content size, checksum (the defaults)", text, []),
      zstd("text from stdin, --check", text, ["--check"], "stdin"),
      zstd("text, --no-check --no-content-size", text, ["--no-check", "--no-content-size"]),
      zstd("empty, checksum", Buffer.alloc(0), ["--check"]),
      skippable(Buffer.alloc(0), 0xf),
      zstd("empty, no checksum", Buffer.alloc(0), ["--no-check"]),
      zstd("a long run of one byte (RLE blocks)", Buffer.alloc(300_000, "a"), ["--no-check"]),
      zstd("incompressible (a raw block)", crypto.randomBytes(200), []),
      zstd("--no-compress-literals", text, ["--no-compress-literals"]),
      ...handMade(),
      skippable(Buffer.from("trailer"), 7)
    ]
    const lines = Buffer.from(Array.from({ length: 40_000 }, (_, i) => `line ${i} ${(i * 7919) % 10007}\n`).join(""))
    large = [
      zstd("text, many compressed blocks", lines, []),
      skippable(crypto.randomBytes(70_000)),
      zstd("random, many raw blocks", crypto.randomBytes(400_000), ["--no-check"], "stdin"),
      zstd("run, RLE blocks", Buffer.alloc(1_000_000, 0), []),
      zstd("text, level 19", lines, ["-19", "--no-content-size"])
    ]
  })

  afterAll(() => {
    if (dir !== undefined) fs.rmSync(dir, { recursive: true, force: true })
  })

  it("the test streams are valid zstd: zstd -d gives every frame's content", () => {
    for (const parts of [small, large]) {
      const stream = Buffer.concat(parts.map((part) => part.bytes))
      const decoded = execFileSync("zstd", ["-d", "-c"], { input: stream, maxBuffer: 64 * 1024 * 1024 })
      expect(decoded.equals(Buffer.concat(parts.flatMap((part) => (part.content ? [part.content] : []))))).toBe(true)
    }
  })

  it("each frame alone: one frame, endsFrame on its last byte only", () => {
    for (const part of [...small, ...large].filter((part) => part.content !== undefined)) {
      const result = split([part.bytes])
      expect(result.bytes.equals(part.bytes), part.name).toBe(true)
      expect(result.ends, part.name).toEqual([part.bytes.length])
      // and node:zlib decodes the frame as split out
      expect(zlib.zstdDecompressSync(result.bytes).equals(part.content!), part.name).toBe(true)
    }
  })

  it("the small stream split at every byte boundary", () => {
    const input = Buffer.concat(small.map((part) => part.bytes))
    const want = expected(small)
    expect(want.ends.length).toBe(small.filter((part) => part.content).length)
    for (let at = 0; at <= input.length; at++) {
      const result = split([input.subarray(0, at), input.subarray(at)])
      expect(result.bytes.equals(want.bytes), `split at ${at}`).toBe(true)
      expect(result.ends, `split at ${at}`).toEqual(want.ends)
    }
  })

  it("the small stream pushed one byte at a time, and in two-byte and random pieces", () => {
    const input = Buffer.concat(small.map((part) => part.bytes))
    const want = expected(small)
    const oneByOne = Array.from(input, (_, i) => input.subarray(i, i + 1))
    const pairs = Array.from({ length: Math.ceil(input.length / 2) }, (_, i) => input.subarray(2 * i, 2 * i + 2))
    for (const chunks of [oneByOne, pairs, chunkings(input, 1, 13), chunkings(input, 2, 100), [input]]) {
      const result = split(chunks)
      expect(result.bytes.equals(want.bytes)).toBe(true)
      expect(result.ends).toEqual(want.ends)
    }
  })

  it("the large stream in random pieces, with empty pushes between them", () => {
    const input = Buffer.concat(large.map((part) => part.bytes))
    const want = expected(large)
    for (const [seed, max] of [[3, 1000], [4, 70_000], [5, 300_000]] as const) {
      const chunks = chunkings(input, seed, max).flatMap((chunk) => [chunk, Buffer.alloc(0)])
      const result = split(chunks)
      expect(result.bytes.equals(want.bytes), `seed ${seed}`).toBe(true)
      expect(result.ends, `seed ${seed}`).toEqual(want.ends)
    }
  })

  it("a truncated stream: finish() throws unless the input ends at a frame boundary after a frame", () => {
    const input = Buffer.concat(small.map((part) => part.bytes))
    const boundaries = new Map<number, boolean>() // offset -> a real frame came before it
    let offset = 0
    let sawFrame = false
    for (const part of small) {
      offset += part.bytes.length
      sawFrame ||= part.content !== undefined
      boundaries.set(offset, sawFrame)
    }
    for (let length = 0; length < input.length; length++) {
      const splitter = new ZstdFrameSplitter()
      splitter.push(input.subarray(0, length))
      if (boundaries.get(length) === true) {
        expect(() => splitter.finish(), `cut at ${length}`).not.toThrow()
      } else {
        expect(() => splitter.finish(), `cut at ${length}`).toThrow(length === 0 || boundaries.has(length) ? /empty/ : /truncated/)
      }
    }
  })

  it("truncated inside the frame header, a block, or the checksum of real zstd output", () => {
    const part = zstd("text with checksum", Buffer.from("truncate me ".repeat(100)), ["--check"])
    for (const cut of [1, 4, 5, 6, 8, part.bytes.length - 5, part.bytes.length - 4, part.bytes.length - 1]) {
      const splitter = new ZstdFrameSplitter()
      splitter.push(part.bytes.subarray(0, cut))
      expect(() => splitter.finish(), `cut at ${cut}`).toThrow(ZstdFormatError)
    }
  })

  it("not zstd: bad magic, the reserved header bit, a reserved block type", () => {
    expect(() => new ZstdFrameSplitter().push(Buffer.from("not a zstd stream"))).toThrow(/bad magic/)
    const frame = small[1]!.bytes
    const trailing = Buffer.concat([frame, Buffer.from("garbage")])
    expect(() => new ZstdFrameSplitter().push(trailing)).toThrow(/bad magic/)
    const reserved = Buffer.from(frame)
    reserved[4] = reserved[4]! | 0x08
    expect(() => new ZstdFrameSplitter().push(reserved)).toThrow(/reserved bit/)
    const badBlock = Buffer.concat([zstdMagic, Buffer.of(0x00, 0x00), blockHeader(5, 3, true), Buffer.from("hello")])
    expect(() => new ZstdFrameSplitter().push(badBlock)).toThrow(/reserved type/)
    expect(() => new ZstdFrameSplitter().finish()).toThrow(/empty/)
  })
})
