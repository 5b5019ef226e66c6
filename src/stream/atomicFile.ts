/**
 * Writing a file atomically: into a new, randomly named file beside it,
 * created exclusively (O_EXCL never follows a symlink someone planted there,
 * and a predictable name could be planted), flushed to disk, then renamed
 * over it (which replaces a symlink at `file` rather than writing through
 * it). A stream that fails or is interrupted leaves `file` as it was and no
 * temporary file.
 */
import { Effect, Schema, Stream } from "effect"
import * as crypto from "node:crypto"
import * as fs from "node:fs/promises"
import * as path from "node:path"
import { SyncBehind } from "./syncBehind.ts"

export class FileWriteError extends Schema.TaggedError<FileWriteError>()("FileWriteError", {
  path: Schema.String,
  detail: Schema.String
}) {
  override get message() {
    return `${this.path}: ${this.detail}`
  }
}

const errorText = (cause: unknown) => (cause instanceof Error ? cause.message : String(cause))

/**
 * Writes to `file` atomically, with the given mode (0600 for a backup's
 * plaintext), whatever `produce` writes through the function it is given;
 * that function resolves once a chunk is on its way to the disk, so the
 * chunk may be reused after that, and it rejects with a `FileWriteError`.
 */
export const writeFileAtomicallyWith = <E, R>(
  file: string,
  mode: number,
  produce: (write: (chunk: Uint8Array) => Promise<void>) => Effect.Effect<void, E, R>
) =>
  Effect.gen(function*() {
    const temporary = path.join(path.dirname(file), `.${path.basename(file)}.${crypto.randomBytes(6).toString("hex")}.tmp`)
    const failed = (detail: string) => (cause: unknown) => new FileWriteError({ path: file, detail: `${detail}: ${errorText(cause)}` })
    const handle = yield* Effect.tryPromise({ try: () => fs.open(temporary, "wx", mode), catch: failed("cannot create a file beside it") })
    // a restore of gigabytes is on disk by the time its last chunk is
    const syncBehind = new SyncBehind(handle)
    const write = async (chunk: Uint8Array) => {
      try {
        for (let offset = 0; offset < chunk.length;) offset += (await handle.write(chunk, offset)).bytesWritten
      } catch (cause) {
        throw failed("cannot write")(cause)
      }
      try {
        syncBehind.written(chunk.length)
      } catch (cause) {
        throw failed("cannot flush")(cause)
      }
    }
    yield* produce(write).pipe(
      Effect.andThen(Effect.tryPromise({ try: () => syncBehind.settle().then(() => handle.sync()), catch: failed("cannot flush") })),
      Effect.ensuring(Effect.promise(() => handle.close().catch(() => undefined))),
      Effect.andThen(Effect.tryPromise({ try: () => fs.rename(temporary, file), catch: failed("cannot rename the finished file into place") })),
      Effect.onExit((exit) => (exit._tag === "Success" ? Effect.void : Effect.promise(() => fs.rm(temporary, { force: true }))))
    )
  })

/** Writes `stream` to `file` atomically, with the given mode. */
export const writeFileAtomically = <E, R>(file: string, stream: Stream.Stream<Uint8Array, E, R>, mode: number) =>
  writeFileAtomicallyWith(file, mode, (write) =>
    Stream.runForEach(stream, (chunk) => Effect.tryPromise({ try: () => write(chunk), catch: (cause) => cause as FileWriteError })))
