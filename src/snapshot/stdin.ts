/**
 * Standard input as a snapshot stream (`manual-backup`, `decrypt`).
 *
 * A pipe is read through `process.stdin` (event-driven); a regular file
 * (`< dump.sql`) is read in 1 MiB blocks, far fewer reads than the 64 KiB
 * `process.stdin` would do.
 */
import { NodeStream } from "@effect/platform-node"
import { Schema, type Stream } from "effect"
import * as fs from "node:fs"

export class StdinError extends Schema.TaggedError<StdinError>()("StdinError", {
  cause: Schema.Defect()
}) {
  override get message() {
    return `reading standard input failed: ${this.cause instanceof Error ? this.cause.message : String(this.cause)}`
  }
}

const stdinIsFile = (): boolean => {
  try {
    return fs.fstatSync(0).isFile()
  } catch {
    return false
  }
}

export const stdin = (): Stream.Stream<Uint8Array, StdinError> =>
  NodeStream.fromReadable<Uint8Array, StdinError>({
    evaluate: () =>
      stdinIsFile()
        ? fs.createReadStream("", { fd: 0, autoClose: false, highWaterMark: 1024 * 1024 })
        : process.stdin,
    onError: (cause) => new StdinError({ cause }),
    closeOnDone: false
  })
