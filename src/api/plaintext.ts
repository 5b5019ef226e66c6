/** What every restore path reads: stored bytes, decrypted, then decompressed. */
import { Effect, Stream } from "effect"
import { decompress, decompressChunks, DecompressionError, toDecompressionError } from "../compression/decompress.ts"
import { decrypt, type DecryptOptions } from "../encryption/decrypt.ts"
import { DecryptError } from "../encryption/errors.ts"
import type { DecryptionKeys } from "../encryption/keys.ts"
import { countBytes } from "../stream/bytes.ts"
import { reclaimEvery } from "../stream/memory.ts"
import { BlockPool, Blocks } from "../stream/pool.ts"

/**
 * Blocks for a restore's reads (standard input): the decryptor gives each
 * back as soon as it is through, so a few small ones do; the backup path's
 * 3 MiB blocks would only hold more memory.
 */
const restoreBlocks = new BlockPool(1024 * 1024, 4)

/** The plaintext of a stored backup's bytes, decrypted with `keys` and decompressed. */
export const plaintext = (keys: DecryptionKeys) => <E, R>(stored: Stream.Stream<Uint8Array, E, R>) =>
  decompress(stored.pipe(decrypt(keys)))

/** A failure of the stored stream or of the consumer, told apart from the decoder's own on its way through a Promise. */
class Failed {
  readonly side: "stored" | "consumer"
  readonly error: unknown
  constructor(side: "stored" | "consumer", error: unknown) {
    this.side = side
    this.error = error
  }
}

export interface ConsumeOptions<C> extends DecryptOptions {
  /** Only decrypt: the chunks are the compressed stream. */
  readonly raw?: boolean
  /** The consumer's failure (a rejected promise) as a typed error. */
  readonly onConsumerError: (cause: unknown) => C
}

/**
 * The fast restore path: decrypts on this thread, decompresses on worker
 * threads, and hands each chunk of plaintext to `consume`, which must be done
 * with it when its promise settles (a hash, a write awaited to its callback):
 * the chunk is a view of a slot that is reused next (see
 * src/compression/zstdWorkers.ts), so nothing is copied or allocated per
 * chunk. `plaintext` is the same as a stream of chunks of their own, for
 * consumers that keep them.
 */
export const consumePlaintext = <E, R, C>(
  stored: Stream.Stream<Uint8Array, E, R>,
  keys: DecryptionKeys,
  consume: (chunk: Uint8Array) => void | Promise<void>,
  options: ConsumeOptions<C>
): Effect.Effect<void, E | DecryptError | DecompressionError | C, R> =>
  Effect.gen(function*() {
    const context = yield* Effect.context<R>()
    const decrypted = stored.pipe(
      Stream.mapError((error) => new Failed("stored", error)),
      decrypt(keys, options),
      // the cipher's output is a fresh buffer per 64 KiB chunk: freed young,
      // they cost no full collections (src/stream/memory.ts)
      countBytes(reclaimEvery())
    )
    const source = Stream.toAsyncIterableWith(decrypted, context)
    // the failure, if any, as a value: its kind decides its type below
    const failure = yield* Effect.promise(async (signal): Promise<unknown> => {
      const iterator = source[Symbol.asyncIterator]()
      // an interrupted restore closes the stored stream; the decoder then ends as well
      const stop = () => void iterator.return?.()
      signal.addEventListener("abort", stop, { once: true })
      const input = { [Symbol.asyncIterator]: () => iterator }
      const chunks = options.raw ? input : decompressChunks(input)
      try {
        for await (const chunk of chunks) {
          try {
            await consume(chunk)
          } catch (error) {
            return new Failed("consumer", error)
          }
          if (signal.aborted) break
        }
      } catch (error) {
        return error
      } finally {
        signal.removeEventListener("abort", stop)
      }
      return undefined
    })
    if (failure === undefined) return
    if (failure instanceof Failed) {
      return yield* Effect.fail(failure.side === "stored" ? failure.error as E : options.onConsumerError(failure.error))
    }
    if (failure instanceof DecryptError || failure instanceof DecompressionError) return yield* Effect.fail(failure)
    // from the zstd decoder and its frame splitter
    if (!options.raw && failure instanceof Error) return yield* Effect.fail(toDecompressionError(failure))
    return yield* Effect.die(failure)
  }).pipe(Effect.provideService(Blocks, restoreBlocks))
