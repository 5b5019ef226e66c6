/**
 * Standard streams for the verbs: stdout carries data (backup IDs,
 * decrypted bytes, keys); everything for humans goes to stderr.
 */
import * as NodeSink from "@effect/platform-node/NodeSink"
import { Effect, Schema, Stream } from "effect"
import * as fs from "node:fs/promises"
import { stdin } from "../snapshot/stdin.ts"
import { printableLine } from "../text/printable.ts"

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

/**
 * Writes one chunk to stdout and resolves once it is written out (not just
 * queued): the chunk may be reused after that (`consumePlaintext`).
 */
export const writeStdout = (chunk: Uint8Array): Promise<void> =>
  new Promise((resolve, reject) => {
    process.stdout.write(chunk, (error) => (error ? reject(error) : resolve()))
  })

/**
 * A line of output, awaited until written: when the reader closed the pipe
 * (`| head`), the verb stops there with an OutputError, which main.ts turns
 * into exit code 1 without a message.
 */
export const printLine = (text: string): Effect.Effect<void, OutputError> =>
  Effect.tryPromise({ try: () => writeStdout(Buffer.from(`${text}\n`)), catch: (cause) => new OutputError({ cause }) })
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

/** Cells are escaped to one line each: names and errors may come from a container. */
export const table = (rows: ReadonlyArray<ReadonlyArray<string>>): string => {
  const cells = rows.map((row) => row.map(printableLine))
  const widths = cells[0]!.map((_, column) => Math.max(...cells.map((row) => row[column]!.length)))
  return cells.map((row) => row.map((cell, column) => (column === row.length - 1 ? cell : cell.padEnd(widths[column]!))).join("  ")).join("\n")
}
