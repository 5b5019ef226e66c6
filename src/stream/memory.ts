/**
 * Keeps a long byte stream's memory flat.
 *
 * Every chunk read from a socket, pipe or file is a fresh Buffer whose bytes
 * live outside the JS heap. V8 frees them only when it collects the small JS
 * objects that own them, and it sees no hurry: reading 1 GiB measured
 * 200+ MiB of peak RSS. A minor GC every few MiB frees those chunks while
 * they are still young, which held the whole backup under ~90 MiB and made
 * it faster. The collector is only callable when Node runs with
 * `--expose-gc` (bin/ubackup passes it); without it this does nothing.
 */
import { Effect, Stream } from "effect"

type MinorGc = (options: { readonly type: "minor" }) => void

const collect: MinorGc | undefined = typeof (globalThis as { gc?: unknown }).gc === "function"
  ? (globalThis as unknown as { gc: MinorGc }).gc
  : undefined

export const reclaimEvery = (bytes: number) => <A extends Uint8Array, E, R>(input: Stream.Stream<A, E, R>): Stream.Stream<A, E, R> => {
  if (collect === undefined) return input
  return Stream.suspend(() => {
    let since = 0
    return input.pipe(
      Stream.tap((chunk) =>
        Effect.sync(() => {
          since += chunk.length
          if (since >= bytes) {
            since = 0
            collect({ type: "minor" })
          }
        })
      )
    )
  })
}
