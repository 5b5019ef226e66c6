/**
 * `decompress` (src/compression/decompress.ts) run as an Effect Stream on the
 * output of the real `zstd` and `gzip`: many frames and members, any
 * chunking, and clear errors for empty, uncompressed, truncated and damaged
 * input.
 */
import { Effect, Stream } from "effect"
import { execFileSync } from "node:child_process"
import * as crypto from "node:crypto"
import { describe, expect, it } from "vitest"
import { DecompressionError, decompress } from "../../src/compression/decompress.ts"
import { requireCommands } from "../harness/tools.ts"

const MiB = 1024 * 1024

const run = (chunks: ReadonlyArray<Uint8Array>) =>
  Effect.runPromise(Stream.runCollect(decompress(Stream.fromIterable(chunks)))).then((out) => Buffer.concat(out))

const failure = (chunks: ReadonlyArray<Uint8Array>) =>
  Effect.runPromise(Effect.flip(Stream.runCollect(decompress(Stream.fromIterable(chunks)))))

const pieces = (input: Buffer, size: number): Array<Buffer> =>
  Array.from({ length: Math.ceil(input.length / size) }, (_, i) => input.subarray(i * size, (i + 1) * size))

const zstd = (input: Buffer, ...flags: Array<string>) => execFileSync("zstd", ["-q", "-c", ...flags], { input, maxBuffer: 64 * MiB })
const gzip = (input: Buffer, ...flags: Array<string>) => execFileSync("gzip", ["-c", ...flags], { input, maxBuffer: 64 * MiB })

const skippableFrame = (payload: Buffer) => {
  const header = Buffer.alloc(8)
  header.writeUInt32LE(0x184d2a50, 0)
  header.writeUInt32LE(payload.length, 4)
  return Buffer.concat([header, payload])
}

/** Text and random bytes: compressible, yet every region differs. */
const content = (size: number, seed: string) => {
  const parts: Array<Buffer> = []
  let length = 0
  for (let i = 0; length < size; i++) {
    const part = i % 3 === 2 ? crypto.randomBytes(500) : Buffer.from(`${seed} ${i} ${"lorem ipsum ".repeat(i % 50)}\n`)
    parts.push(part)
    length += part.length
  }
  return Buffer.concat(parts).subarray(0, size)
}

describe.runIf(requireCommands("decompress", "zstd", "gzip"))("decompress", () => {
  const texts = [content(3 * MiB, "first"), content(100, "second"), Buffer.alloc(0), content(700 * 1024, "fourth")]

  describe("zstd", () => {
    it("one frame of many blocks, in chunks of every size", async () => {
      const compressed = zstd(texts[0]!)
      for (const size of [1 + 64 * 1024, MiB, compressed.length]) {
        expect((await run(pieces(compressed, size))).equals(texts[0]!), `chunks of ${size}`).toBe(true)
      }
    })

    it("many frames: concatenated zstd outputs (checksum or not, an empty one) with skippable frames between", async () => {
      const stream = Buffer.concat([
        zstd(texts[0]!, "--check"),
        skippableFrame(Buffer.from("skip me")),
        zstd(texts[1]!, "--no-check"),
        zstd(texts[2]!),
        skippableFrame(Buffer.alloc(0)),
        zstd(texts[3]!, "-19", "--no-check")
      ])
      expect(execFileSync("zstd", ["-d", "-c"], { input: stream, maxBuffer: 64 * MiB }).equals(Buffer.concat(texts))).toBe(true)
      for (const size of [4093, 65_537, stream.length]) {
        expect((await run(pieces(stream, size))).equals(Buffer.concat(texts)), `chunks of ${size}`).toBe(true)
      }
    })

    it("frames decoded several at once come out in order; a frame too large to hold whole is streamed between them", async () => {
      // more small frames than are decoded at once, then one of > 8 MiB compressed (random bytes), then small ones again
      const small = Array.from({ length: 12 }, (_, i) => content(200 * 1024 + i, `frame ${i}`))
      const large = crypto.randomBytes(9 * MiB)
      const plain = [...small.slice(0, 8), large, ...small.slice(8)]
      const stream = Buffer.concat(plain.map((text) => zstd(text)))
      for (const size of [65_537, 3 * MiB]) {
        expect((await run(pieces(stream, size))).equals(Buffer.concat(plain)), `chunks of ${size}`).toBe(true)
      }
    })

    it("a damaged frame among frames in flight fails the stream, after the frames before it only", async () => {
      const frames = Array.from({ length: 8 }, (_, i) => zstd(content(300 * 1024, `frame ${i}`), "--check"))
      const damaged = Buffer.from(frames[5]!)
      damaged[damaged.length - 2]! ^= 0xff // in the checksum
      const output: Array<Uint8Array> = []
      const error = await Effect.runPromise(Effect.flip(
        decompress(Stream.fromIterable(pieces(Buffer.concat([...frames.slice(0, 5), damaged, ...frames.slice(6)]), 65_536))).pipe(
          Stream.runForEach((chunk) => Effect.sync(() => void output.push(chunk)))
        )
      ))
      expect(error).toBeInstanceOf(DecompressionError)
      expect(Buffer.concat(output).length).toBe(5 * 300 * 1024)
    })

    it("a small multi-frame stream pushed one byte at a time", async () => {
      const stream = Buffer.concat([zstd(Buffer.from("one ")), zstd(Buffer.from("two ")), zstd(Buffer.alloc(0)), zstd(Buffer.from("three"))])
      expect((await run(pieces(stream, 1))).toString()).toBe("one two three")
    })

    it("a stream that opens with a skippable frame, as pzstd writes them", async () => {
      const stream = Buffer.concat([skippableFrame(Buffer.from([1, 2, 3, 4])), zstd(texts[1]!), skippableFrame(Buffer.of(9)), zstd(texts[3]!)])
      expect(execFileSync("zstd", ["-d", "-c"], { input: stream, maxBuffer: 64 * MiB }).equals(Buffer.concat([texts[1]!, texts[3]!]))).toBe(true)
      expect((await run(pieces(stream, 1001))).equals(Buffer.concat([texts[1]!, texts[3]!]))).toBe(true)
      const small = Buffer.concat([skippableFrame(Buffer.from("x")), zstd(Buffer.from("one ")), skippableFrame(Buffer.alloc(0)), zstd(Buffer.from("two"))])
      expect((await run(pieces(small, 1))).toString()).toBe("one two")
    })

    it("truncated: in a frame header, a block, the checksum; damaged: a flipped byte; trailing garbage", async () => {
      const frame = zstd(texts[3]!, "--check")
      const two = Buffer.concat([zstd(texts[1]!), frame])
      const first = two.length - frame.length
      for (const cut of [first + 3, first + 6, first + 100, two.length - 2]) {
        const error = await failure(pieces(two.subarray(0, cut), 1000))
        expect(error, `cut at ${cut}`).toBeInstanceOf(DecompressionError)
        expect(error.message, `cut at ${cut}`).toMatch(/truncated|decompression failed/)
      }
      const damaged = Buffer.from(frame)
      const middle = Math.floor(damaged.length / 2)
      damaged[middle] = damaged[middle]! ^ 0x55
      expect((await failure([damaged])).message).toMatch(/^decompression failed: /)
      const trailing = await failure([frame, Buffer.from("trailing bytes")])
      expect(trailing.message).toMatch(/bad magic/)
    })
  })

  describe("gzip", () => {
    it("one member, in chunks of every size", async () => {
      const compressed = gzip(texts[0]!)
      for (const size of [1 + 64 * 1024, compressed.length]) {
        expect((await run(pieces(compressed, size))).equals(texts[0]!)).toBe(true)
      }
    })

    it("many members: concatenated gzip outputs, an empty one among them", async () => {
      const stream = Buffer.concat(texts.map((text, i) => gzip(text, i % 2 === 0 ? "-1" : "-9")))
      expect(execFileSync("gunzip", ["-c"], { input: stream, maxBuffer: 64 * MiB }).equals(Buffer.concat(texts))).toBe(true)
      for (const size of [1000, stream.length]) {
        expect((await run(pieces(stream, size))).equals(Buffer.concat(texts))).toBe(true)
      }
      const small = Buffer.concat([gzip(Buffer.from("ab")), gzip(Buffer.from("cd"))])
      expect((await run(pieces(small, 1))).toString()).toBe("abcd")
    })

    it("truncated, a bad CRC, trailing garbage", async () => {
      const member = gzip(texts[3]!)
      for (const cut of [2, 10, 1000, member.length - 4, member.length - 1]) {
        const error = await failure([member.subarray(0, cut)])
        expect(error, `cut at ${cut}`).toBeInstanceOf(DecompressionError)
        expect(error.message, `cut at ${cut}`).toMatch(/^decompression failed: /)
      }
      const crc = Buffer.from(member)
      crc[crc.length - 6] = crc[crc.length - 6]! ^ 0xff
      expect((await failure([crc])).message).toMatch(/^decompression failed: /)
      expect((await failure([member, Buffer.from("garbage!")])).message).toMatch(/^decompression failed: /)
    })
  })

  it("empty input is an error", async () => {
    const error = await failure([])
    expect(error).toBeInstanceOf(DecompressionError)
    expect(error.message).toBe("nothing to decompress: the backup is empty")
    expect((await failure([Buffer.alloc(0), Buffer.alloc(0)])).message).toBe("nothing to decompress: the backup is empty")
  })

  it("input that is not compressed names --raw", async () => {
    const message = "the decrypted data is neither zstd nor gzip; pass --raw to write it as it is"
    for (const input of [Buffer.from("plain text, not compressed\n"), crypto.randomBytes(1000), Buffer.of(0x1f), Buffer.of(0x28, 0xb5, 0x2f)]) {
      expect((await failure(pieces(input, 1))).message).toBe(message)
    }
  })
})
