/**
 * zstd frames decoded on worker threads, through rings of shared slots.
 *
 * Node's zstd stream decodes on the libuv thread pool, but allocates a fresh
 * output buffer per chunk and returns to the event loop per write: a 1 GiB
 * restore made a GiB of short-lived buffers, whose full garbage collections
 * (forced by the external memory) cost the main thread more than the
 * decoding did (docs/PERFORMANCE.md). Here a worker drives the decoder's
 * native handle synchronously (as zstdThreads.ts does for compression) from a
 * ring of shared input slots into a ring of shared output slots, and the
 * reader gets views of those: nothing is allocated per chunk, and memory is
 * the rings. A worker that finds no free output slot waits on an atomic
 * counter that the reader raises as it moves on.
 *
 * Frames are independent, so a stream of several (ubackup writes one per
 * few MiB of plaintext) is spread over up to `maxWorkers` workers, frame by
 * frame, and read back in order: the decoding then runs in parallel with
 * itself, and in any case with the decryption on the main thread.
 */
import { Worker } from "node:worker_threads"
import type { Segment } from "./zstdFrames.ts"

/** Bytes per slot, input (compressed) and output (plaintext) alike. */
const slotSize = 1024 * 1024
/** Output slots per worker: the reader holds one, the worker fills the others. */
const outputSlots = 3
/** Input slots per worker: one being decoded, the others queued. */
const inputSlots = 4

/** The worker: CommonJS source, run with `eval` so that it needs no file beside the bundle. */
const workerSource = `
const { parentPort, workerData } = require("node:worker_threads")
const zlib = require("node:zlib")
const { slotSize, outputSlots } = workerData
const input = new Uint8Array(workerData.input)
const output = new Uint8Array(workerData.output)
const free = new Int32Array(workerData.free)
const stream = zlib.createZstdDecompress()
const handle = stream._handle
const state = stream._writeState
let failure
handle.onerror = (message) => { failure = message }
let slot = 0
let filled = 0
const takeSlot = () => {
  while (Atomics.load(free, 0) === 0) Atomics.wait(free, 0, 0)
  Atomics.sub(free, 0, 1)
}
const handOn = () => {
  parentPort.postMessage({ output: slot, length: filled })
  slot = (slot + 1) % outputSlots
  filled = 0
  takeSlot()
}
takeSlot()
parentPort.on("message", ({ input: inputSlot, length, endsFrame }) => {
  try {
    let offset = inputSlot * slotSize
    let remaining = length
    for (;;) {
      const room = slotSize - filled
      handle.writeSync(zlib.constants.ZSTD_e_continue, input, offset, remaining, output, slot * slotSize + filled, room)
      if (failure !== undefined) throw new Error(failure)
      const outputLeft = state[0]
      const inputLeft = state[1]
      filled += room - outputLeft
      offset += remaining - inputLeft
      remaining = inputLeft
      // all input taken and room left over: zstd has nothing more for now
      if (filled === slotSize) handOn()
      else if (remaining === 0) break
    }
    if (endsFrame && filled > 0) handOn()
    parentPort.postMessage({ consumed: inputSlot, endsFrame })
  } catch (error) {
    parentPort.postMessage({ error: error instanceof Error ? error.message : String(error) })
  }
})
`

let running = 0

/** Decoder threads alive in this process: none once every stream ended or was abandoned (for tests). */
export const runningDecoders = (): number => running

type WorkerMessage =
  | { readonly output: number; readonly length: number }
  | { readonly consumed: number; readonly endsFrame: boolean }
  | { readonly error: string }

type Output = { readonly slot: number; readonly length: number } | "frameEnd"

/** Wakes every waiter at once; each re-checks its condition. */
class Signal {
  #waiters: Array<() => void> = []
  wait(): Promise<void> {
    return new Promise((resolve) => this.#waiters.push(resolve))
  }
  notify(): void {
    const waiters = this.#waiters
    this.#waiters = []
    for (const resolve of waiters) resolve()
  }
}

/** One worker with its two rings. */
class DecoderWorker {
  readonly #worker: Worker
  readonly #input: Uint8Array
  readonly #output: Uint8Array
  /** Output slots the worker may fill, shared with it. */
  readonly #free: Int32Array
  readonly #freeInput: Array<number> = []
  readonly #outputs: Array<Output> = []
  /** The output slot the reader holds, given back when it asks for more. */
  #held = false
  /** The input slot being filled, and how far. */
  #filling: number | undefined
  #filled = 0
  #failure: unknown
  readonly #changes = new Signal()

  constructor() {
    const input = new SharedArrayBuffer(slotSize * inputSlots)
    const output = new SharedArrayBuffer(slotSize * outputSlots)
    const free = new SharedArrayBuffer(4)
    this.#input = new Uint8Array(input)
    this.#output = new Uint8Array(output)
    this.#free = new Int32Array(free)
    this.#free[0] = outputSlots
    for (let slot = 0; slot < inputSlots; slot++) this.#freeInput.push(slot)
    this.#worker = new Worker(workerSource, { eval: true, workerData: { input, output, free, slotSize, outputSlots } })
    running++
    this.#worker.once("exit", () => running--)
    this.#worker.on("message", (message: WorkerMessage) => {
      if ("error" in message) this.#failure ??= new Error(message.error)
      else if ("output" in message) this.#outputs.push({ slot: message.output, length: message.length })
      else {
        this.#freeInput.push(message.consumed)
        if (message.endsFrame) this.#outputs.push("frameEnd")
      }
      this.#changes.notify()
    })
    this.#worker.on("error", (error) => this.fail(error))
    this.#worker.on("exit", this.#stopped)
  }

  readonly #stopped = () => this.fail(new Error("the zstd decoder thread stopped"))

  /** Copies compressed bytes into the input ring, sending each slot as it fills. */
  async write(bytes: Uint8Array): Promise<void> {
    let offset = 0
    while (offset < bytes.length) {
      const slot = await this.#inputSlot()
      const n = Math.min(slotSize - this.#filled, bytes.length - offset)
      this.#input.set(bytes.subarray(offset, offset + n), slot * slotSize + this.#filled)
      this.#filled += n
      offset += n
      if (this.#filled === slotSize) this.#send(false)
    }
  }

  /** Sends what is left of the frame, marked as its end. */
  async endFrame(): Promise<void> {
    await this.#inputSlot()
    this.#send(true)
  }

  /**
   * The next piece of plaintext, a view of an output slot that stays valid
   * only until `next` is called again; or the end of a frame.
   */
  async next(): Promise<Uint8Array | "frameEnd"> {
    if (this.#held) {
      this.#held = false
      Atomics.add(this.#free, 0, 1)
      Atomics.notify(this.#free, 0)
    }
    for (;;) {
      const output = this.#outputs.shift()
      if (output === "frameEnd") return output
      if (output !== undefined) {
        this.#held = true
        const start = output.slot * slotSize
        return this.#output.subarray(start, start + output.length)
      }
      await this.#changed()
    }
  }

  /** Fails whoever waits on this worker, and whoever will. */
  fail(error: unknown): void {
    this.#failure ??= error
    this.#changes.notify()
  }

  close(): void {
    this.#worker.off("exit", this.#stopped)
    // a worker waiting for an output slot is woken, so nothing holds up its end
    Atomics.add(this.#free, 0, outputSlots)
    Atomics.notify(this.#free, 0)
    void this.#worker.terminate()
  }

  async #inputSlot(): Promise<number> {
    while (this.#filling === undefined) {
      const slot = this.#freeInput.shift()
      if (slot !== undefined) {
        this.#filling = slot
        this.#filled = 0
      } else {
        await this.#changed()
      }
    }
    return this.#filling
  }

  #send(endsFrame: boolean): void {
    this.#worker.postMessage({ input: this.#filling, length: this.#filled, endsFrame })
    this.#filling = undefined
    this.#filled = 0
  }

  async #changed(): Promise<void> {
    if (this.#failure !== undefined) throw this.#failure
    await this.#changes.wait()
    if (this.#failure !== undefined) throw this.#failure
  }
}

/**
 * The plaintext of a zstd stream whose frames arrive as segments (see
 * ./zstdFrames.ts), in order. Each chunk is a view of a shared slot, valid
 * only until the next one is asked for: copy what must outlive that.
 */
export async function* decodeFramesOnWorkers(
  segments: AsyncIterator<Segment>,
  maxWorkers: number
): AsyncGenerator<Uint8Array> {
  const workers: Array<DecoderWorker> = []
  /** The worker of each frame begun and not yet read to its end, in stream order. */
  const frames: Array<DecoderWorker> = []
  /** Told when a frame is begun or read, and when the producer stops. */
  const progress = new Signal()
  let producerDone = false
  let producerFailure: unknown
  let stopped = false

  const produce = async () => {
    let frame = 0
    let worker: DecoderWorker | undefined
    for (let next = await segments.next(); !next.done && !stopped; next = await segments.next()) {
      if (worker === undefined) {
        // frames go round-robin; a second worker starts only when a second frame comes
        if (workers.length < maxWorkers && frame >= workers.length) workers.push(new DecoderWorker())
        worker = workers[frame % workers.length]!
        // at most one frame queued per worker besides the one it decodes
        while (frames.length > workers.length && !stopped) await progress.wait()
        frames.push(worker)
        progress.notify()
      }
      await worker.write(next.value.bytes)
      if (next.value.endsFrame) {
        await worker.endFrame()
        worker = undefined
        frame++
      }
    }
  }
  const producing = produce().then(
    () => {
      producerDone = true
      progress.notify()
    },
    (error: unknown) => {
      // e.g. a truncated stream: the frame being read will never end
      producerFailure = error
      producerDone = true
      for (const worker of workers) worker.fail(error)
      progress.notify()
    }
  )
  try {
    for (;;) {
      if (producerFailure !== undefined) throw producerFailure
      const worker = frames[0]
      if (worker === undefined) {
        if (producerDone) break
        await progress.wait()
        continue
      }
      const output = await worker.next()
      if (output === "frameEnd") {
        frames.shift()
        progress.notify()
      } else {
        yield output
      }
    }
  } finally {
    // the producer may be waiting on a worker or on the input: it is left
    // to fail on its own, never awaited, and its result is already handled
    stopped = true
    const notRead = new Error("the zstd stream was not read to its end")
    for (const worker of workers) {
      worker.fail(notRead)
      worker.close()
    }
    progress.notify()
    void producing
  }
}
