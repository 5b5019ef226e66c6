/**
 * paceBytes (src/stream/pace.ts) on the test clock: the average rate is the
 * limit whatever the chunk sizes, bytes come out unchanged and in order, and
 * a source that stalls does not earn a burst afterwards. The real rate on
 * the wire, through the CLI to RGW: test/cli/limitUpload.test.ts.
 */
import { assert, describe, it } from "@effect/vitest"
import { Chunk, Clock, Effect, Fiber, Stream } from "effect"
import { TestClock } from "effect/testing"
import { paceBytes } from "../../src/stream/pace.ts"

const MiB = 1024 * 1024

/** Runs `stream` to its end on the test clock, moving time 10 ms at a time; gives the bytes and the test time it took. */
const timed = (stream: Stream.Stream<Uint8Array>) =>
  Effect.gen(function*() {
    const start = yield* Clock.currentTimeMillis
    const fiber = yield* Stream.runCollect(stream).pipe(Effect.forkChild)
    let result: Chunk.Chunk<Uint8Array> | ReadonlyArray<Uint8Array> | undefined
    while (result === undefined) {
      yield* TestClock.adjust("10 millis")
      const poll = fiber.pollUnsafe()
      if (poll !== undefined) result = yield* Fiber.join(fiber)
    }
    const chunks = [...result]
    return { bytes: Buffer.concat(chunks), chunks: chunks.length, ms: (yield* Clock.currentTimeMillis) - start }
  })

describe("paceBytes", () => {
  it.effect("4 MiB at 1 MiB/s take 4 s, in any chunking, bytes unchanged", () =>
    Effect.gen(function*() {
      const data = Buffer.alloc(4 * MiB).map((_, i) => i % 251)
      for (const size of [1000, 64 * 1024, MiB, 4 * MiB]) {
        const pieces: Array<Uint8Array> = []
        for (let offset = 0; offset < data.length; offset += size) pieces.push(data.subarray(offset, offset + size))
        const { bytes, ms } = yield* timed(Stream.fromIterable(pieces).pipe(paceBytes(MiB)))
        assert.isTrue(bytes.equals(data), `chunks of ${size}`)
        // the first slice goes at once: the rest take (4 MiB - one slice) at 1 MiB/s
        assert.isAtLeast(ms, 3_900, `chunks of ${size}: ${ms} ms`)
        assert.isAtMost(ms, 4_020, `chunks of ${size}: ${ms} ms`)
      }
    }))

  it.effect("a stalled source earns no burst: after a 5 s pause, the next 2 MiB still take ~2 s", () =>
    Effect.gen(function*() {
      const slow = Stream.concat(
        Stream.make(new Uint8Array(64 * 1024)),
        Stream.fromEffect(Effect.sleep("5 seconds").pipe(Effect.as(new Uint8Array(2 * MiB))))
      )
      const { bytes, ms } = yield* timed(slow.pipe(paceBytes(MiB)))
      assert.strictEqual(bytes.length, 2 * MiB + 64 * 1024)
      // 5 s of stall, then 2 MiB at 1 MiB/s, less its first slice and at most 50 ms of catching up
      assert.isAtLeast(ms, 5_000 + 1_880)
      assert.isAtMost(ms, 5_000 + 2_020)
    }))
})
