/**
 * Writing into a Node Writable (a child's stdin, a hijacked socket) with its
 * back-pressure, as Effects. `write` waits for `drain` when the buffer is
 * full and says whether the other side is still there: false once it closed
 * or failed (a reader that stopped reading), which is for the caller to judge.
 * `end` ends it and waits for the flush. The first error is kept, for messages.
 */
import { Effect } from "effect"
import type { Writable } from "node:stream"

export interface WritableEnd {
  /** False when the writable is closed or failed, before or while writing. */
  readonly write: (chunk: Uint8Array) => Effect.Effect<boolean>
  /** Ends it; false when it was already closed or failed, or failed while flushing. */
  readonly end: Effect.Effect<boolean>
  /** The first error it reported, if any. */
  readonly failure: () => unknown
}

export const writableEnd = (writable: Writable): WritableEnd => {
  let failure: unknown
  // some errors reach only a write's callback, others only the event
  writable.on("error", (error) => void (failure ??= error))
  const isOpen = () => failure === undefined && !writable.destroyed && !writable.writableEnded
  return {
    write: (chunk) =>
      Effect.callback<boolean>((resume) => {
        if (!isOpen()) return resume(Effect.succeed(false))
        if (writable.write(chunk, (error) => void (error && (failure ??= error)))) return resume(Effect.succeed(true))
        const done = () => {
          writable.off("drain", done).off("close", done)
          resume(Effect.succeed(isOpen()))
        }
        writable.on("drain", done).on("close", done)
      }),
    end: Effect.callback<boolean>((resume) => {
      if (failure !== undefined || writable.destroyed) return resume(Effect.succeed(false))
      writable.end(() => resume(Effect.succeed(failure === undefined)))
    }),
    failure: () => failure
  }
}
