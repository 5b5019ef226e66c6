/**
 * Reads a file descriptor (a file, a pipe, a socket, a terminal) straight
 * into pool blocks: no buffer is allocated per read, and a full block goes
 * on to the compressor without being copied (see src/stream/pool.ts).
 *
 * Pipes and sockets are read by libuv's event loop into the block itself
 * (net.Socket's `onread`); files and terminals with fs.read on the thread
 * pool, a block at a time. (fs.read on a pipe returns 64 KiB per call, and
 * each call waited behind the compressors' jobs in the thread pool: twice
 * as slow.)
 */
import { Effect, Schedule, Schema, Stream } from "effect"
import * as fs from "node:fs"
import * as net from "node:net"
import type { BlockPool } from "./pool.ts"

export class ReadError extends Schema.TaggedError<ReadError>()("ReadError", {
  source: Schema.String,
  cause: Schema.Defect()
}) {
  override get message() {
    return `reading ${this.source} failed: ${this.cause instanceof Error ? this.cause.message : String(this.cause)}`
  }
}

/** One fs.read into `buffer` from `offset`. */
const readOnce = (fd: number, buffer: Uint8Array, offset: number) =>
  Effect.callback<number, NodeJS.ErrnoException>((resume) => {
    fs.read(fd, buffer, offset, buffer.length - offset, null, (error, bytesRead) =>
      resume(error ? Effect.fail(error) : Effect.succeed(bytesRead)))
  }).pipe(
    // a descriptor inherited in non-blocking mode has nothing yet: try again shortly
    Effect.retry({ schedule: Schedule.spaced("5 millis"), while: (error) => error.code === "EAGAIN" })
  )

/** Fills `block` from a file or terminal until it is full or the input ends; returns the bytes read. */
const fill = (fd: number, block: Uint8Array): Effect.Effect<number, NodeJS.ErrnoException> =>
  Effect.gen(function*() {
    let filled = 0
    while (filled < block.length) {
      const n = yield* readOnce(fd, block, filled)
      if (n === 0) break
      filled += n
    }
    return filled
  })

/**
 * A pipe or socket, read into one block at a time: the socket runs only
 * while a block is wanted, so an unread block holds the writer back.
 *
 * Node asks for the next read's buffer right after each read, also after the
 * read that filled a block, before the next block exists: that one read goes
 * to a small parking buffer and is copied into the next block.
 */
class SocketBlockReader {
  readonly #socket: net.Socket
  readonly #parking = new Uint8Array(64 * 1024)
  #block: Uint8Array | undefined
  #filled = 0
  #ended = false
  #failure: Error | undefined
  #waiting: { readonly resolve: (filled: number) => void; readonly reject: (error: Error) => void } | undefined

  constructor(fd: number) {
    this.#socket = new net.Socket({
      fd,
      readable: true,
      writable: false,
      onread: {
        buffer: () =>
          this.#block !== undefined && this.#filled < this.#block.length ? this.#block.subarray(this.#filled) : this.#parking,
        callback: (bytesRead: number, buffer: Uint8Array) => {
          if (buffer.buffer === this.#parking.buffer) {
            if (this.#block === undefined) return false
            this.#block.set(this.#parking.subarray(0, bytesRead), this.#filled)
          }
          this.#filled += bytesRead
          if (this.#filled < this.#block!.length) return true
          this.#settle()
          return false // pause until the next block is wanted
        }
      }
    })
    this.#socket.pause()
    this.#socket.on("end", () => {
      this.#ended = true
      this.#settle()
    })
    this.#socket.on("error", (error) => {
      this.#failure = error
      this.#settle()
    })
  }

  /** Fills `block`; resolves with the bytes read, fewer than its size only at the end. */
  fill(block: Uint8Array): Promise<number> {
    return new Promise((resolve, reject) => {
      this.#block = block
      this.#filled = 0
      this.#waiting = { resolve, reject }
      if (this.#ended || this.#failure) this.#settle()
      else this.#socket.resume()
    })
  }

  #settle(): void {
    const waiting = this.#waiting
    if (waiting === undefined) return
    this.#waiting = undefined
    this.#block = undefined
    if (this.#failure) waiting.reject(this.#failure)
    else waiting.resolve(this.#filled)
  }

  /** Stops reading; the descriptor itself is not closed (stdin stays open). */
  close(): void {
    this.#socket.pause()
    this.#socket.removeAllListeners("data")
  }
}

const isPipeOrSocket = (fd: number): boolean => {
  try {
    const stat = fs.fstatSync(fd)
    return stat.isFIFO() || stat.isSocket()
  } catch {
    return false
  }
}

/** The bytes of `fd` as pool blocks: full blocks, then one shorter at the end. The fd stays open. */
export const readFd = (fd: number, source: string, pool: BlockPool): Stream.Stream<Uint8Array, ReadError> =>
  Stream.unwrap(Effect.gen(function*() {
    const fillBlock: (block: Uint8Array) => Effect.Effect<number, unknown> = isPipeOrSocket(fd)
      ? yield* Effect.acquireRelease(
        Effect.sync(() => new SocketBlockReader(fd)),
        (reader) => Effect.sync(() => reader.close())
      ).pipe(Effect.map((reader) => (block: Uint8Array) => Effect.tryPromise({ try: () => reader.fill(block), catch: (cause) => cause })))
      : (block: Uint8Array) => fill(fd, block)
    return Stream.unfold(false, (ended: boolean) =>
      ended
        ? Effect.succeed(undefined)
        : Effect.gen(function*() {
          const block = pool.take()
          const filled = yield* fillBlock(block).pipe(
            Effect.mapError((cause) => new ReadError({ source, cause })),
            Effect.tapError(() => Effect.sync(() => pool.release(block)))
          )
          if (filled === 0) {
            pool.release(block)
            return undefined
          }
          return [filled === block.length ? block : block.subarray(0, filled), filled < block.length] as const
        }))
  }))
