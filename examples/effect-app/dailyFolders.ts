/**
 * The app's own Storage: one folder per service per day,
 *
 *   <root>/<service>/<YYYY-MM-DD>/<the ID's file name>
 *
 * It keeps the contract of ubackup's Storage: a backup appears only once its
 * stream ended cleanly (written to a hidden file, then linked to its name),
 * never over another one (a taken ID gets the next numbered variant, `~2`),
 * and listings are oldest first.
 */
import { Clock, Effect, Layer, Stream } from "effect"
import { randomUUID } from "node:crypto"
import * as fs from "node:fs"
import * as fsp from "node:fs/promises"
import * as path from "node:path"
import { type CleanupOptions, isBackupId, parseBackupId, type RemoveFailure, Storage, StorageError, type StoredBackup } from "ubackup"

const failure = (operation: string, subject: string) => (cause: unknown) =>
  new StorageError({
    reason: (cause as { code?: string }).code === "ENOENT" ? "NotFound" : "Failed",
    operation,
    subject,
    detail: cause instanceof Error ? cause.message : String(cause)
  })

const tryFs = <A>(operation: string, subject: string, f: () => Promise<A>) =>
  Effect.tryPromise({ try: f, catch: failure(operation, subject) })

const invalid = (operation: string, subject: string) =>
  new StorageError({ reason: "InvalidId", operation, subject, detail: "not a backup ID of ubackup's" })

/** A service name is what may stand before the `/` of a backup ID. */
const isServiceName = (name: string) => isBackupId(`${name}/x`)

/** The n-th backup of one service, task and host within a minute gets `~n` after the time, as ubackup names it. */
const withSequence = (id: string, n: number) => (n === 1 ? id : id.replace(/^([^/]+\/\d{4}-\d{2}-\d{2} \d{4}Z)/, `$1~${n}`))

const oldestFirst = (a: StoredBackup, b: StoredBackup) => {
  const [pa, pb] = [parseBackupId(a.id)!, parseBackupId(b.id)!]
  return pa.time.getTime() - pb.time.getTime() || pa.sequence - pb.sequence || a.id.localeCompare(b.id)
}

/** `<service>/<day>/.<file>.<uuid>.partial`, under the root: what a backup that was killed left behind. */
const leftover = /^([^/]+)\/\d{4}-\d{2}-\d{2}\/\.(.+)\.[0-9a-f-]{36}\.partial$/

export const makeDailyFolders = (root: string): Storage["Service"] => {
  /** Where the backup `id` lives, or undefined for a name ubackup would not make. */
  const fileOf = (id: string) => {
    const parsed = isBackupId(id) ? parseBackupId(id) : undefined
    if (parsed === undefined) return undefined
    const day = parsed.time.toISOString().slice(0, 10)
    return path.join(root, parsed.service, day, id.slice(parsed.service.length + 1))
  }

  /** Links the finished file to the ID's name or, when that is taken, its first free numbered variant: link(2) never replaces a file. */
  const publish = async (temporary: string, id: string): Promise<string> => {
    for (let n = 1; ; n++) {
      const candidate = withSequence(id, n)
      try {
        await fsp.link(temporary, fileOf(candidate)!)
        return candidate
      } catch (cause) {
        if ((cause as { code?: string }).code !== "EEXIST") throw cause
      }
    }
  }

  const put = <E>(id: string, body: Stream.Stream<Uint8Array, E>): Effect.Effect<StoredBackup, E | StorageError> => {
    const file = fileOf(id)
    if (file === undefined) return Effect.fail(invalid("put", id))
    const temporary = path.join(path.dirname(file), `.${path.basename(file)}.${randomUUID()}.partial`)
    return Effect.acquireUseRelease(
      tryFs("put", id, async () => {
        await fsp.mkdir(path.dirname(file), { recursive: true, mode: 0o700 })
        return await fsp.open(temporary, "wx", 0o600)
      }),
      (handle) =>
        Effect.gen(function*() {
          let size = 0
          yield* Stream.runForEach(body, (chunk) => {
            size += chunk.length
            return tryFs("put", id, () => handle.appendFile(chunk))
          })
          yield* tryFs("put", id, () => handle.sync())
          const stored = yield* tryFs("put", id, () => publish(temporary, id))
          yield* Effect.logInfo(`daily folders: wrote ${path.relative(root, fileOf(stored)!)}`)
          return { id: stored, size, modified: new Date(yield* Clock.currentTimeMillis) }
        }),
      // a failed or interrupted backup leaves nothing behind
      (handle) => Effect.promise(() => handle.close().finally(() => fsp.rm(temporary, { force: true })))
    )
  }

  const get = (id: string): Stream.Stream<Uint8Array, StorageError> => {
    const file = fileOf(id)
    return file === undefined ? Stream.fail(invalid("get", id)) : Stream.fromAsyncIterable(fs.createReadStream(file), failure("get", id))
  }

  /** The names in a folder (or, `recursive`, the paths under it); none when it does not exist (yet). */
  const names = (folder: string, operation: string, subject: string, recursive = false) =>
    tryFs(operation, subject, () => fsp.readdir(folder, { recursive })).pipe(
      Effect.catchIf((error) => error.reason === "NotFound", () => Effect.succeed([] as Array<string>))
    )

  const list = (service: string): Effect.Effect<ReadonlyArray<StoredBackup>, StorageError> =>
    !isServiceName(service) ? Effect.fail(invalid("ls", service)) : Effect.gen(function*() {
      const backups: Array<StoredBackup> = []
      for (const day of yield* names(path.join(root, service), "ls", service)) {
        for (const name of yield* names(path.join(root, service, day), "ls", service)) {
          const id = `${service}/${name}`
          const file = path.join(root, service, day, name)
          if (fileOf(id) !== file) continue // hidden files (backups being written) and strangers
          const stat = yield* tryFs("ls", id, () => fsp.stat(file))
          backups.push({ id, size: stat.size, modified: stat.mtime })
        }
      }
      return backups.sort(oldestFirst)
    })

  const listServices = Effect.map(names(root, "ls-services", root), (found) => found.filter(isServiceName).sort())

  /** Removes the hidden files of backups that were killed mid-way, once inactive for `olderThanMs`. */
  const cleanup = ({ olderThanMs, hostname }: CleanupOptions) =>
    Effect.gen(function*() {
      const now = yield* Clock.currentTimeMillis
      const removed: Array<string> = []
      let kept = 0
      for (const relative of yield* names(root, "cleanup", root, true)) {
        const match = leftover.exec(relative)
        const id = match === null ? "" : `${match[1]}/${match[2]}`
        const parsed = parseBackupId(id)
        if (parsed === undefined) continue
        const file = path.join(root, relative)
        const { mtimeMs } = yield* tryFs("cleanup", id, () => fsp.stat(file))
        if (now - mtimeMs < olderThanMs || (hostname !== undefined && parsed.hostname !== hostname)) {
          kept++
        } else {
          yield* tryFs("cleanup", id, () => fsp.rm(file, { force: true }))
          removed.push(id)
        }
      }
      return { removed, kept }
    })

  /** Retention's deletes (`ubackup storage prune`, `prune` in the library): one file each; a missing one is already gone. */
  const remove = (ids: ReadonlyArray<string>) =>
    Effect.gen(function*() {
      const removed: Array<string> = []
      const failed: Array<RemoveFailure> = []
      for (const id of ids) {
        const file = fileOf(id)
        if (file === undefined) {
          failed.push({ id, reason: "InvalidId", detail: "not a backup ID" })
          continue
        }
        const result = yield* Effect.result(tryFs("rm", id, () => fsp.rm(file, { force: true })))
        if (result._tag === "Success") removed.push(id)
        else failed.push({ id, reason: result.failure.reason, detail: result.failure.detail })
      }
      return { removed, failed }
    })

  return { location: `daily folders ${root}`, put, get, list, listServices, cleanup, remove }
}

export const layerDailyFolders = (root: string): Layer.Layer<Storage> => Layer.sync(Storage, () => makeDailyFolders(root))
