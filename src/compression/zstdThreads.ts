/**
 * zstd with its own worker threads, driven synchronously.
 *
 * libzstd (as Node bundles it) compresses on threads of its own when
 * `ZSTD_c_nbWorkers` > 0: it cuts the input into jobs, compresses them in
 * parallel and writes one frame, as `zstd -T0` does. Node's zlib stream
 * cannot drive that mode: when zstd takes only part of a write (its job
 * buffers are full) while output space is left, the stream takes it for the
 * end of the input and ends early (ERR_STREAM_PUSH_AFTER_EOF). So this class
 * calls the compressor's native handle the way Node's own `zstdCompressSync`
 * does (`writeSync`, results in `_writeState`), looping until zstd has taken
 * all the input, and writes into one reused output buffer.
 *
 * Compared with independent blocks on the libuv thread pool (lanes.ts) this
 * does not round-trip through the event loop per block, leaves no compressor
 * output buffer alive across blocks, and gives the ratio of one long frame.
 * A call blocks the main thread only while all of zstd's job buffers are busy,
 * that is, for about one job's compression time (a few milliseconds).
 *
 * Measured on the 1 GiB bench corpus (2 cores, docs/PERFORMANCE.md): ~25 %
 * less CPU than the lanes, 0.87 of `zstd -T0 | age`'s throughput instead of
 * 0.73, and 297.6 MiB out instead of 300.1.
 */
import { Effect, Stream } from "effect"
import * as zlib from "node:zlib"
import { transformBytes } from "../stream/bytes.ts"
import { Blocks } from "../stream/pool.ts"

/** What Node's zlib.js uses of a compressor's native handle for its synchronous calls. */
interface NativeHandle {
  writeSync(
    flush: number,
    input: Uint8Array,
    inputOffset: number,
    inputLength: number,
    output: Uint8Array,
    outputOffset: number,
    outputLength: number
  ): void
  onerror: (message: string, errno: number, code?: string) => void
}

interface ZlibInternals {
  readonly _handle?: unknown
  readonly _writeState?: unknown
}

const nativeParts = (stream: zlib.ZstdCompress): { readonly handle: NativeHandle; readonly state: Uint32Array } | undefined => {
  const { _handle: handle, _writeState: state } = stream as unknown as ZlibInternals
  const usable = typeof handle === "object" && handle !== null &&
    typeof (handle as Partial<NativeHandle>).writeSync === "function" &&
    state instanceof Uint32Array && state.length === 2
  return usable ? { handle: handle as NativeHandle, state } : undefined
}

export interface ThreadedZstdOptions {
  readonly level: number
  /** zstd worker threads (0: compress on the calling thread). */
  readonly workers: number
  /** Input bytes per job: smaller jobs hold less memory and compress slightly worse. */
  readonly jobSize: number
}

export class ThreadedZstd {
  readonly #stream: zlib.ZstdCompress
  readonly #handle: NativeHandle
  readonly #state: Uint32Array
  readonly #output: Uint8Array
  #failure: Error | undefined
  #closed = false

  static #supported: boolean | undefined

  /**
   * False when this Node's zlib does not expose the handle this class drives,
   * or its libzstd was built without threads (checked once, on first use).
   */
  static get supported(): boolean {
    if (ThreadedZstd.#supported === undefined) {
      try {
        const probe = zlib.createZstdCompress({ params: { [zlib.constants.ZSTD_c_nbWorkers]: 1 } })
        ThreadedZstd.#supported = nativeParts(probe) !== undefined
        probe.close()
      } catch {
        ThreadedZstd.#supported = false
      }
    }
    return ThreadedZstd.#supported
  }

  constructor(options: ThreadedZstdOptions, outputSize = 1024 * 1024) {
    this.#stream = zlib.createZstdCompress({
      params: {
        [zlib.constants.ZSTD_c_compressionLevel]: options.level,
        [zlib.constants.ZSTD_c_nbWorkers]: options.workers,
        ...(options.workers > 0 ? { [zlib.constants.ZSTD_c_jobSize]: options.jobSize } : {})
      }
    })
    const parts = nativeParts(this.#stream)
    if (parts === undefined) {
      this.#stream.close()
      throw new Error("this Node.js version's zlib has no synchronous compressor handle")
    }
    this.#handle = parts.handle
    this.#state = parts.state
    // errors arrive synchronously, from inside writeSync
    this.#handle.onerror = (message) => {
      this.#failure = new Error(message)
    }
    this.#output = new Uint8Array(outputSize)
  }

  /** Compresses `input`; returns the output zstd finished meanwhile (copies, possibly none). */
  write(input: Uint8Array): Array<Uint8Array> {
    return this.#drive(zlib.constants.ZSTD_e_continue, input)
  }

  /** Ends the frame: returns the rest of the output. */
  end(): Array<Uint8Array> {
    return this.#drive(zlib.constants.ZSTD_e_end, new Uint8Array(0))
  }

  /** Frees the compressor and stops its threads; safe to call more than once. */
  close(): void {
    this.#closed = true
    this.#stream.close()
  }

  #drive(flush: number, input: Uint8Array): Array<Uint8Array> {
    const pieces: Array<Uint8Array> = []
    const output = this.#output
    let offset = 0
    let remaining = input.length
    // the native handle must not be written after close (it would abort the process)
    if (this.#closed) throw new Error("the zstd compressor is closed")
    for (;;) {
      if (this.#failure) throw this.#failure
      this.#handle.writeSync(flush, input, offset, remaining, output, 0, output.length)
      if (this.#failure) throw this.#failure
      const outputLeft = this.#state[0]!
      const inputLeft = this.#state[1]!
      const produced = output.length - outputLeft
      if (produced > 0) pieces.push(output.slice(0, produced))
      offset += remaining - inputLeft
      remaining = inputLeft
      // zstd is done with this call's work once it took all the input and
      // did not fill the output (for ZSTD_e_end: the frame is complete)
      if (remaining === 0 && outputLeft > 0) return pieces
    }
  }
}

/**
 * Compresses a byte stream into one zstd frame on zstd's worker threads. Each
 * input chunk is copied into zstd's job buffers at once, so pool blocks go back
 * to the pool right away. An empty input gives no output at all.
 */
export const compressWithZstdThreads = <E2>(options: ThreadedZstdOptions, onError: (cause: unknown) => E2) =>
<E, R>(input: Stream.Stream<Uint8Array, E, R>): Stream.Stream<Uint8Array, E | E2, R> =>
  Stream.unwrap(Effect.gen(function*() {
    const pool = yield* Blocks
    const zstd = yield* Effect.acquireRelease(
      Effect.try({ try: () => new ThreadedZstd(options), catch: onError }),
      (zstd) => Effect.sync(() => zstd.close())
    )
    let written = false
    return input.pipe(transformBytes(() => ({
      push: (chunk) => {
        if (chunk.length === 0) return []
        written = true
        const output = zstd.write(chunk)
        pool.release(chunk)
        return output
      },
      finish: () => (written ? zstd.end() : [])
    }), onError))
  }))
