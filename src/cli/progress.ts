/**
 * One progress line on stderr for the long verbs: bytes, rate, and the share
 * done and ETA when the size is known, redrawn four times a second and
 * cleared at the end. Only on a terminal, and never with --quiet: a pipe or
 * a log file gets nothing, so scripts and journald see only real messages.
 */
import { Effect, Layer, Stream } from "effect"
import * as fs from "node:fs"
import { formatBytes } from "../domain/size.ts"
import { parseBackupId } from "../domain/names.ts"
import { Storage } from "../storage/Storage.ts"
import { countBytes } from "../stream/bytes.ts"
import { printable } from "../text/printable.ts"

const redrawEveryMs = 250

/** Whether progress is shown at all: stderr is a terminal and --quiet was not given. */
export const progressShown = (quiet: boolean) => !quiet && process.stderr.isTTY === true

/** An ETA: `3s`, `2m5s`, `1h4m` (floored, so never `1m60s`). */
const eta = (ms: number) => {
  const total = Math.floor(ms / 1000)
  if (total >= 3600) return `${Math.floor(total / 3600)}h${Math.floor((total % 3600) / 60)}m`
  if (total >= 60) return `${Math.floor(total / 60)}m${total % 60}s`
  return `${total}s`
}

/** `12.0 MiB, 48.0 MiB/s, 40% ETA 3s: label`: the figures first, so that a narrow terminal cuts the label */
export const progressLine = (label: string, bytes: number, elapsedMs: number, totalBytes: number | undefined): string => {
  const rate = elapsedMs > 0 ? (bytes / elapsedMs) * 1000 : 0
  const parts = [formatBytes(bytes), `${formatBytes(Math.round(rate))}/s`]
  if (totalBytes !== undefined && totalBytes > 0) {
    const share = Math.min(1, bytes / totalBytes)
    const left = rate > 0 ? ((totalBytes - bytes) / rate) * 1000 : undefined
    parts.push(`${Math.floor(share * 100)}%${left === undefined || share >= 1 ? "" : ` ETA ${eta(left)}`}`)
  }
  return `${parts.join(", ")}: ${label}`
}

/** Shows the progress of the bytes flowing through `stream` (see the module's comment). */
export const withProgress = (options: { readonly label: string; readonly totalBytes?: number | undefined; readonly quiet: boolean }) =>
<E, R>(stream: Stream.Stream<Uint8Array, E, R>): Stream.Stream<Uint8Array, E, R> => {
  if (!progressShown(options.quiet)) return stream
  return Stream.suspend(() => {
    const started = Date.now()
    let bytes = 0
    let timer: NodeJS.Timeout | undefined
    const width = () => Math.max(20, (process.stderr.columns || 80) - 1)
    const draw = () => void process.stderr.write(`\r\x1b[K${progressLine(options.label, bytes, Date.now() - started, options.totalBytes).slice(0, width())}`)
    return stream.pipe(
      countBytes((batch) => {
        bytes += batch
        if (timer === undefined) {
          // drawn at once, so that even a short transfer says what it did
          draw()
          timer = setInterval(draw, redrawEveryMs)
          timer.unref()
        }
      }),
      Stream.ensuring(Effect.sync(() => {
        if (timer === undefined) return
        clearInterval(timer)
        process.stderr.write("\r\x1b[K")
      }))
    )
  })
}

/** The size of standard input when it is a regular file (`< backup.age`), for the ETA. */
export const stdinSize = (): number | undefined => {
  try {
    const stat = fs.fstatSync(0)
    return stat.isFile() ? stat.size : undefined
  } catch {
    return undefined
  }
}

/**
 * The Storage in context with progress on every get, its size looked up in
 * the service's listing (one list call; without it, no ETA).
 */
export const layerStorageProgress = (quiet: boolean): Layer.Layer<Storage, never, Storage> =>
  Layer.effect(
    Storage,
    Effect.map(Storage, (storage) =>
      progressShown(quiet) ? Storage.of({
        ...storage,
        get: (id) =>
          Stream.unwrap(
            storage.list(parseBackupId(id)?.service ?? id.split("/")[0] ?? "").pipe(
              Effect.map((backups) => backups.find((backup) => backup.id === id)?.size),
              Effect.orElseSucceed(() => undefined),
              Effect.map((totalBytes) => storage.get(id).pipe(withProgress({ label: printable(id), totalBytes, quiet })))
            )
          )
      }) : storage)
  )
