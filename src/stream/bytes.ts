/**
 * Byte-stream helpers shared by the pipeline stages.
 */
import { Stream } from "effect"

/**
 * Re-slices a byte stream into blocks of exactly `size` bytes (the last one
 * shorter). The tail is emitted only when the input ended cleanly: a failed
 * input never produces a final block that looks complete.
 */
export const toBlocks = (size: number, allocate: () => Uint8Array = () => Buffer.allocUnsafe(size)) =>
<E, R>(input: Stream.Stream<Uint8Array, E, R>): Stream.Stream<Uint8Array, E, R> =>
  Stream.suspend(() => {
    let block = allocate()
    let filled = 0
    const push = (bytes: Uint8Array): Array<Uint8Array> => {
      const full: Array<Uint8Array> = []
      let offset = 0
      while (offset < bytes.length) {
        const n = Math.min(size - filled, bytes.length - offset)
        block.set(bytes.subarray(offset, offset + n), filled)
        filled += n
        offset += n
        if (filled === size) {
          full.push(block)
          block = allocate()
          filled = 0
        }
      }
      return full
    }
    return input.pipe(
      Stream.map(push),
      Stream.flattenIterable,
      Stream.concat(Stream.suspend(() => (filled > 0 ? Stream.make(block.subarray(0, filled)) : Stream.empty)))
    )
  })

/**
 * Runs a stateful byte transform: `push` for every input chunk, `finish` once
 * after the input ended cleanly (never after a failure, so a failed input
 * cannot be mistaken for a complete one), `start` before the first chunk.
 */
export const transformBytes = <E2>(make: () => {
  readonly start?: () => ReadonlyArray<Uint8Array>
  readonly push: (chunk: Uint8Array) => ReadonlyArray<Uint8Array>
  readonly finish: () => ReadonlyArray<Uint8Array>
}, onError: (cause: unknown) => E2) =>
<E, R>(input: Stream.Stream<Uint8Array, E, R>): Stream.Stream<Uint8Array, E | E2, R> =>
  Stream.suspend(() => {
    const transform = make()
    const guarded = (f: () => ReadonlyArray<Uint8Array>) =>
      Stream.suspend(() => {
        try {
          return Stream.fromIterable(f())
        } catch (cause) {
          return Stream.fail(onError(cause))
        }
      })
    return guarded(() => transform.start?.() ?? []).pipe(
      Stream.concat(input.pipe(Stream.flatMap((chunk) => guarded(() => transform.push(chunk))))),
      Stream.concat(guarded(() => transform.finish())),
      Stream.filter((bytes) => bytes.length > 0)
    )
  })
