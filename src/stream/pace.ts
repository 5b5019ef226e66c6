/**
 * Pacing: a byte stream let through at most at a given rate, on average
 * over the whole stream, so that a nightly backup leaves room on the line
 * (`bandwidth_limit`, `--limit-upload`). Chunks are cut into slices of
 * 64 KiB; each slice waits until the one before it would have gone at the
 * rate. Time comes from `Clock`, so a test clock drives it. Nothing is
 * saved up while the source is slow: a stall is followed by at most 50 ms
 * worth of catching up, not by a burst.
 */
import { Clock, Context, Effect, Stream } from "effect"

/**
 * Bytes per second a backup's stored stream may go at (`bandwidth_limit`,
 * `--limit-upload`; src/pipeline/backup.ts paces by it); unlimited when
 * undefined, the default.
 */
export const UploadLimit = Context.Reference<number | undefined>("ubackup/UploadLimit", { defaultValue: () => undefined })

const sliceBytes = 64 * 1024

/**
 * A timer wakes a little late each time; without this slack, 640 slices a
 * second at ~1 ms late each lost 8 % of the rate (measured to RGW). Up to
 * this much lateness is made up; a longer stall is not.
 */
const slackMs = 50

export const paceBytes = (bytesPerSecond: number) =>
<E, R>(input: Stream.Stream<Uint8Array, E, R>): Stream.Stream<Uint8Array, E, R> =>
  Stream.suspend(() => {
    /** When the last slice let through is done at the rate (ms); nothing yet. */
    let busyUntil: number | undefined
    const admit = (slice: Uint8Array) =>
      Effect.gen(function*() {
        const now = yield* Clock.currentTimeMillis
        const start = Math.max(now - slackMs, busyUntil ?? now)
        busyUntil = start + (slice.length * 1000) / bytesPerSecond
        if (start > now) yield* Effect.sleep(start - now)
        return slice
      })
    return input.pipe(
      Stream.flatMap((chunk) => {
        if (chunk.length <= sliceBytes) return Stream.make(chunk)
        const slices: Array<Uint8Array> = []
        for (let offset = 0; offset < chunk.length; offset += sliceBytes) slices.push(chunk.subarray(offset, offset + sliceBytes))
        return Stream.fromIterable(slices)
      }),
      Stream.mapEffect(admit)
    )
  })
