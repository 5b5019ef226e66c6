/**
 * Reusable byte blocks for the backup path.
 *
 * A backup moves gigabytes through a few megabytes of buffers. Allocating a
 * fresh buffer per read made V8 hold 50–100 MiB of dead buffers between
 * collections and fragmented the allocator; recycling fixed-size blocks
 * keeps the working set at a few blocks. A block taken from the pool belongs
 * to whoever holds it in the stream: the stage that is done with it (the
 * compressor, after compressing) gives it back. A block never given back is
 * simply collected, so a consumer that does not know about the pool is safe.
 */
import { Context } from "effect"

export class BlockPool {
  readonly blockSize: number
  readonly #free: Array<ArrayBuffer> = []
  readonly #maxFree: number
  readonly #owned = new WeakSet<ArrayBufferLike>()

  constructor(blockSize: number, maxFree = 8) {
    this.blockSize = blockSize
    this.#maxFree = maxFree
  }

  take(): Uint8Array {
    const buffer = this.#free.pop() ?? new ArrayBuffer(this.blockSize)
    this.#owned.add(buffer)
    return new Uint8Array(buffer)
  }

  /** True when `bytes` is a view into a block of this pool. */
  owns(bytes: Uint8Array): boolean {
    return this.#owned.has(bytes.buffer)
  }

  /** Returns the block `bytes` is a view of; only its holder may call this, once. */
  release(bytes: Uint8Array): void {
    const buffer = bytes.buffer
    if (!this.#owned.has(buffer) || !(buffer instanceof ArrayBuffer)) return
    if (this.#free.length < this.#maxFree && !this.#free.includes(buffer)) this.#free.push(buffer)
  }
}

/**
 * 3 MiB. zstd copies each block into its job buffers at once and gives it
 * back, so a zstd backup holds one or two blocks. gzip compresses whole blocks
 * as independent members: at this size ~1 % larger than one long member, and
 * a backup holds about six blocks at once (3 MiB kept a 4 GiB backup under
 * 128 MiB of peak memory, 4 MiB did not).
 */
export const defaultBlockSize = 3 * 1024 * 1024

const sharedPool = new BlockPool(defaultBlockSize)

/** The pool the backup path shares: sources fill its blocks, the compressor returns them. */
export const Blocks = Context.Reference<BlockPool>("ubackup/Blocks", {
  defaultValue: () => sharedPool
})
