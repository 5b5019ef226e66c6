/**
 * Standard streams for the verbs: stdout carries data (backup IDs,
 * decrypted bytes, keys); everything for humans goes to stderr.
 */
import * as NodeSink from "@effect/platform-node/NodeSink"
import { Effect, Schema, Stream } from "effect"
import * as crypto from "node:crypto"
import * as fs from "node:fs/promises"
import * as path from "node:path"
import { stdin } from "../snapshot/stdin.ts"

export class OutputError extends Schema.TaggedError<OutputError>()("OutputError", {
  cause: Schema.Defect()
}) {
  override get message() {
    const code = (this.cause as NodeJS.ErrnoException)?.code
    return code === "EPIPE" ? "standard output was closed before all data was written" : `writing standard output failed: ${String(this.cause)}`
  }
}

export class InputFileError extends Schema.TaggedError<InputFileError>()("InputFileError", {
  path: Schema.String,
  detail: Schema.String
}) {
  override get message() {
    return `${this.path}: ${this.detail}`
  }
}

export class InvalidFlagError extends Schema.TaggedError<InvalidFlagError>()("InvalidFlagError", {
  flag: Schema.String,
  detail: Schema.String
}) {
  override get message() {
    return `${this.flag}: ${this.detail}`
  }
}

export class OutputFileError extends Schema.TaggedError<OutputFileError>()("OutputFileError", {
  path: Schema.String,
  detail: Schema.String
}) {
  override get message() {
    return `${this.path}: ${this.detail}`
  }
}

const errorText = (cause: unknown) => (cause instanceof Error ? cause.message : String(cause))

/**
 * Writes a byte stream to `file` atomically: into a new, randomly named file
 * beside it (created exclusively, mode 0600: it may be a backup's
 * plaintext), flushed to disk, then renamed over `file`. A stream that fails
 * or is interrupted leaves `file` as it was and no temporary file.
 */
export const toFileAtomically = <E, R>(file: string, stream: Stream.Stream<Uint8Array, E, R>) =>
  Effect.gen(function*() {
    const temporary = path.join(path.dirname(file), `.${path.basename(file)}.${crypto.randomBytes(6).toString("hex")}.tmp`)
    const failed = (detail: string) => (cause: unknown) => new OutputFileError({ path: file, detail: `${detail}: ${errorText(cause)}` })
    const handle = yield* Effect.tryPromise({ try: () => fs.open(temporary, "wx", 0o600), catch: failed("cannot create a file beside it") })
    const write = (chunk: Uint8Array) =>
      Effect.tryPromise({
        try: async () => {
          for (let offset = 0; offset < chunk.length;) offset += (await handle.write(chunk, offset)).bytesWritten
        },
        catch: failed("cannot write")
      })
    yield* stream.pipe(
      Stream.runForEach(write),
      Effect.andThen(Effect.tryPromise({ try: () => handle.sync(), catch: failed("cannot flush") })),
      Effect.ensuring(Effect.promise(() => handle.close().catch(() => undefined))),
      Effect.andThen(Effect.tryPromise({ try: () => fs.rename(temporary, file), catch: failed("cannot rename the finished file into place") })),
      Effect.onExit((exit) => (exit._tag === "Success" ? Effect.void : Effect.promise(() => fs.rm(temporary, { force: true }))))
    )
  })

/** Writes a byte stream to stdout, with back-pressure; stdout stays open. */
export const toStdout = <E, R>(stream: Stream.Stream<Uint8Array, E, R>): Effect.Effect<void, E | OutputError, R> =>
  Stream.run(
    stream,
    NodeSink.fromWritable<OutputError, Uint8Array>({
      evaluate: () => process.stdout,
      onError: (cause) => new OutputError({ cause }),
      endOnDone: false
    })
  )

export const printLine = (text: string) => Effect.sync(() => void process.stdout.write(`${text}\n`))
export const printNote = (text: string) => Effect.sync(() => void process.stderr.write(`${text}\n`))

export const readStdinText = Stream.mkString(Stream.decodeText(stdin()))

export const readTextFile = (path: string) =>
  Effect.tryPromise({
    try: () => fs.readFile(path, "utf8"),
    catch: (cause) =>
      new InputFileError({
        path,
        detail: (cause as NodeJS.ErrnoException).code === "ENOENT" ? "file not found" : `cannot read: ${(cause as Error).message}`
      })
  })
