/**
 * What this host stored before, per service: each backup's size and how long
 * it took, the newest few kept. Put-only credentials cannot list the
 * bucket, so the history is a small local state file rather than the
 * storage's listing. It serves the size-drop check (sizeDrop.ts).
 *
 *   layerFile(path)   a JSON file, rewritten atomically after each backup
 *                     (its folder made if missing); one process writes it:
 *                     two at once (a scheduler and a cron `now`) would each
 *                     keep only their own entries;
 *                     a missing or corrupt one starts an empty history (and
 *                     says so), a failed write is logged: neither stops a backup
 *   layerMemory       held in memory, for tests and for apps that keep none
 *
 * File (version 1):
 *   {"version":1,"services":{"<service>":[{"id","at","bytes","duration_ms"}, …oldest first]}}
 */
import { Context, Effect, Layer, Schema, Semaphore, Stream } from "effect"
import * as fs from "node:fs/promises"
import * as nodePath from "node:path"
import { writeFileAtomically } from "../stream/atomicFile.ts"

export interface HistoryEntry {
  readonly id: string
  /** When it was stored, epoch ms. */
  readonly at: number
  /** The stored (compressed, encrypted) size. */
  readonly bytes: number
  readonly durationMs: number
}

/** Entries kept per service: enough for any sensible median window. */
export const keptPerService = 30

export class BackupHistory extends Context.Service<BackupHistory, {
  /** Records a stored backup of `service`; returns the entries before it, oldest first. */
  readonly record: (service: string, entry: HistoryEntry) => Effect.Effect<ReadonlyArray<HistoryEntry>>
  /** The entries of `service`, oldest first. */
  readonly entries: (service: string) => Effect.Effect<ReadonlyArray<HistoryEntry>>
}>()("ubackup/BackupHistory") {
  /** The history in the state file at `path` (see the file's comment). */
  static readonly layerFile = (path: string): Layer.Layer<BackupHistory> => Layer.effect(BackupHistory, makeFile(path))
  /** The history in memory, empty at the start. */
  static readonly layerMemory: Layer.Layer<BackupHistory> = Layer.effect(
    BackupHistory,
    Effect.sync(() => make(new Map(), () => Effect.void))
  )
}

const FileEntry = Schema.Struct({
  id: Schema.String,
  at: Schema.Number,
  bytes: Schema.Number,
  duration_ms: Schema.Number
})
const HistoryFile = Schema.Struct({
  version: Schema.Literal(1),
  services: Schema.Record(Schema.String, Schema.Array(FileEntry))
})
const decodeFile = Schema.decodeUnknownEffect(Schema.fromJsonString(HistoryFile))

type Histories = Map<string, ReadonlyArray<HistoryEntry>>

const make = (histories: Histories, save: (histories: Histories) => Effect.Effect<void>): BackupHistory["Service"] => {
  // concurrent targets record at once; each write must see the others' entries
  const lock = Semaphore.makeUnsafe(1)
  return BackupHistory.of({
    entries: (service) => Effect.sync(() => histories.get(service) ?? []),
    record: (service, entry) =>
      lock.withPermit(Effect.gen(function*() {
        const before = histories.get(service) ?? []
        histories.set(service, [...before, entry].slice(-keptPerService))
        yield* save(histories)
        return before
      }))
  })
}

const encode = (histories: Histories): string =>
  JSON.stringify({
    version: 1,
    services: Object.fromEntries(
      [...histories].map(([service, entries]) => [
        service,
        entries.map((entry) => ({ id: entry.id, at: entry.at, bytes: entry.bytes, duration_ms: entry.durationMs }))
      ])
    )
  }) + "\n"

const load = (path: string): Effect.Effect<Histories> =>
  Effect.gen(function*() {
    const text = yield* Effect.tryPromise(() => fs.readFile(path, "utf8")).pipe(
      Effect.catch((error) => {
        const code = (error.cause as NodeJS.ErrnoException | undefined)?.code
        return code === "ENOENT"
          ? Effect.succeed(undefined)
          : Effect.logWarning(`backup history ${path} cannot be read (${String(error.cause)}): starting an empty one`).pipe(
            Effect.as(undefined)
          )
      })
    )
    if (text === undefined) return new Map()
    return yield* decodeFile(text).pipe(
      Effect.map((file): Histories =>
        new Map(Object.entries(file.services).map(([service, entries]) => [
          service,
          entries.map((entry) => ({ id: entry.id, at: entry.at, bytes: entry.bytes, durationMs: entry.duration_ms }))
        ]))
      ),
      Effect.catch(() =>
        Effect.logWarning(`backup history ${path} is not a valid history file: starting an empty one (it is rewritten after the next backup)`).pipe(
          Effect.as(new Map())
        )
      )
    )
  })

const makeFile = (file: string) =>
  Effect.map(load(file), (histories) =>
    make(histories, (current) =>
      // a state folder (~/.local/state/ubackup) may not exist yet
      Effect.promise(() => fs.mkdir(nodePath.dirname(file), { recursive: true, mode: 0o700 }).catch(() => undefined)).pipe(
        Effect.andThen(writeFileAtomically(file, Stream.make(new TextEncoder().encode(encode(current))), 0o600)),
        Effect.catch((error) => Effect.logWarning(`backup history not saved: ${error.message}`))
      )))
