/**
 * Standard input as a snapshot stream (`manual-backup`, `decrypt`), read into
 * the shared block pool whether it is a file (`< dump.sql`) or a pipe.
 */
import { Effect, Stream } from "effect"
import { Blocks } from "../stream/pool.ts"
import { type ReadError, readFd } from "../stream/fd.ts"

export const stdin = (): Stream.Stream<Uint8Array, ReadError> =>
  Stream.unwrap(Effect.map(Blocks, (pool) => readFd(0, "standard input", pool)))
