/**
 * Local directory storage, the embedded default. The backup `<id>` lives at
 * `<root>/<id>`. A backup is written to a hidden temporary file in the target
 * folder, fsynced, then hard-linked to its name: link(2) never replaces an
 * existing file (a rename would), so a name that is taken meanwhile makes
 * the backup take the next numbered ID instead. Readers never see a partial
 * file, and a failed or interrupted backup removes its temporary file.
 *
 * The storage root must not be writable by other users (they could plant or
 * swap files), and `get`/`list` never follow a symlink out of it.
 */
import { Clock, Effect, Layer, Stream } from "effect"
import * as crypto from "node:crypto"
import * as fs from "node:fs"
import * as fsp from "node:fs/promises"
import * as path from "node:path"
import { compareBackupIds, isBackupId, isSafeName, parseBackupId, withSequence } from "../domain/names.ts"
import { type CleanupOptions, type CleanupResult, type RemoveFailure, type RemoveResult, Storage, StorageError } from "./Storage.ts"
import type { StoredBackup } from "../domain/Outcome.ts"
import { readFd } from "../stream/fd.ts"
import { SyncBehind } from "../stream/syncBehind.ts"
import { Blocks } from "../stream/pool.ts"

// the service this module implements, so that `ubackup/storage/local` and `ubackup/storage/s3` are complete on their own
export {
  type CleanupOptions,
  type CleanupResult,
  type RemoveFailure,
  type RemoveResult,
  Storage,
  StorageError,
  StorageFailure
} from "./Storage.ts"

const isTemporary = (name: string) => name.startsWith(".")

/** `.<file name of the ID>.<12 hex>.partial`: a backup being written (or one that was killed while it was). */
const temporaryName = /^\.(.+)\.[0-9a-f]{12}\.partial$/

/** More backups of one service, task and host in one minute than this is a runaway loop, not a schedule. */
const maxSequence = 10_000

/** link(2) unsupported on this filesystem (some FUSE and network mounts): publish by an exclusive copy instead. */
const noHardLinks = new Set(["EPERM", "ENOTSUP", "EOPNOTSUPP", "ENOSYS", "EXDEV", "EMLINK"])

const failure = (operation: string, subject: string) => (cause: unknown) => {
  const code = (cause as NodeJS.ErrnoException)?.code
  return new StorageError({
    reason: code === "ENOENT" ? "NotFound" : code === "EACCES" || code === "EPERM" ? "AccessDenied" : "Failed",
    operation,
    subject,
    detail: cause instanceof Error ? cause.message : String(cause)
  })
}

const invalidId = (operation: string, id: string) =>
  new StorageError({ reason: "InvalidId", operation, subject: JSON.stringify(id), detail: "not a backup ID (<service>/<file>)" })

/** Writes every byte of `buffers`, looping over short writes. */
const writeAll = async (handle: fsp.FileHandle, buffers: ReadonlyArray<Uint8Array>): Promise<void> => {
  let pending = [...buffers]
  while (pending.length > 0) {
    const { bytesWritten } = await handle.writev(pending)
    let skip = bytesWritten
    const rest: Array<Uint8Array> = []
    for (const buffer of pending) {
      if (skip >= buffer.length) {
        skip -= buffer.length
      } else {
        rest.push(skip > 0 ? buffer.subarray(skip) : buffer)
        skip = 0
      }
    }
    pending = rest
  }
}

const syncDirectory = async (directory: string) => {
  const handle = await fsp.open(directory, "r")
  try {
    await handle.sync()
  } finally {
    await handle.close()
  }
}

export const makeLocalStorage = (root: string): Storage["Service"] => {
  const resolve = (id: string) => path.join(root, id)

  /** The root's real path, once checked: owned by this user or root, not writable by group or others. */
  let checkedRoot: Promise<string> | undefined
  const checkRoot = (): Promise<string> =>
    (checkedRoot ??= (async () => {
      const real = await fsp.realpath(root)
      const stat = await fsp.stat(real)
      const uid = process.getuid?.() ?? 0
      // refused, so that nobody else can swap or plant backups
      const unsafe = (detail: string) => new StorageError({ reason: "AccessDenied", operation: "check", subject: root, detail })
      if (!stat.isDirectory()) throw unsafe("not a folder (storage.local.path)")
      if (stat.uid !== uid && stat.uid !== 0) {
        throw unsafe(`belongs to another user (uid ${stat.uid}); the storage folder must be this user's or root's`)
      }
      if ((stat.mode & 0o022) !== 0) {
        throw unsafe(
          `is writable by ${(stat.mode & 0o002) !== 0 ? "every user" : "its group"} (mode ${(stat.mode & 0o777).toString(8)}), ` +
            `so others could replace or plant backups: chmod go-w it (ubackup creates it with mode 700)`
        )
      }
      return real
    })()).catch((error) => {
      checkedRoot = undefined
      throw error
    })

  /** `file` (in the storage), unless its real path is outside the root (a symlink out of it). */
  const contained = async (file: string, operation: string, subject: string): Promise<string> => {
    const realRoot = await checkRoot()
    const real = await fsp.realpath(file)
    if (real !== realRoot && !real.startsWith(realRoot + path.sep)) {
      throw new StorageError({ reason: "AccessDenied", operation, subject, detail: "is a symlink out of the storage folder; not followed" })
    }
    return real
  }

  const tryFs = <A>(operation: string, subject: string, f: () => Promise<A>) =>
    Effect.tryPromise({ try: f, catch: (cause) => (cause instanceof StorageError ? cause : failure(operation, subject)(cause)) })

  /** Publishes the finished temporary file under `id` or its first free numbered variant; never over an existing file. */
  const publish = async (temporary: string, id: string): Promise<string> => {
    for (let n = 1; n <= maxSequence; n++) {
      const candidate = withSequence(id, n)
      try {
        await fsp.link(temporary, resolve(candidate))
        return candidate
      } catch (cause) {
        const code = (cause as NodeJS.ErrnoException).code ?? ""
        if (code === "EEXIST") continue
        if (!noHardLinks.has(code)) throw cause
      }
      try {
        await fsp.copyFile(temporary, resolve(candidate), fs.constants.COPYFILE_EXCL)
      } catch (cause) {
        if ((cause as NodeJS.ErrnoException).code === "EEXIST") continue
        throw cause
      }
      const copy = await fsp.open(resolve(candidate), "r")
      await copy.sync().finally(() => copy.close())
      return candidate
    }
    throw new StorageError({ reason: "Failed", operation: "put", subject: id, detail: `${maxSequence} backups of this ID in one minute: refusing more` })
  }

  const put = <E>(id: string, body: Stream.Stream<Uint8Array, E>): Effect.Effect<StoredBackup, E | StorageError> => {
    if (!isBackupId(id)) return Effect.fail(invalidId("put", id))
    const final = resolve(id)
    const directory = path.dirname(final)
    const temporary = path.join(directory, `.${path.basename(final)}.${crypto.randomBytes(6).toString("hex")}.partial`)
    return Effect.acquireUseRelease(
      tryFs("put", id, async () => {
        // the root is checked before anything is written into it, and the
        // service folder must not be a symlink out of it
        await fsp.mkdir(root, { recursive: true, mode: 0o700 })
        await checkRoot()
        await fsp.mkdir(directory, { recursive: true, mode: 0o700 })
        await contained(directory, "put", id)
        return await fsp.open(temporary, "wx", 0o600)
      }),
      (handle) =>
        Effect.gen(function*() {
          let size = 0
          const syncBehind = new SyncBehind(handle)
          yield* body.pipe(
            Stream.runForEachArray((buffers) => {
              let bytes = 0
              for (const buffer of buffers) bytes += buffer.length
              size += bytes
              return tryFs("put", id, async () => {
                await writeAll(handle, buffers)
                syncBehind.written(bytes)
              })
            })
          )
          // durable before visible: data, then the link, then the folder entry;
          // once the stream ended cleanly the commit runs to its end
          const published = yield* Effect.uninterruptible(tryFs("put", id, async () => {
            await syncBehind.settle()
            await handle.sync()
            await handle.close()
            const name = await publish(temporary, id)
            await fsp.rm(temporary, { force: true })
            await syncDirectory(directory)
            return name
          }))
          return { id: published, size, modified: new Date(yield* Clock.currentTimeMillis) }
        }),
      (handle, exit) =>
        Effect.promise(async () => {
          if (exit._tag === "Failure") await handle.close().catch(() => undefined)
          await fsp.rm(temporary, { force: true }).catch(() => undefined)
        })
    )
  }

  const get = (id: string): Stream.Stream<Uint8Array, StorageError> =>
    !isBackupId(id)
      ? Stream.fail(invalidId("get", id))
      : Stream.unwrap(
        tryFs("get", id, async () => {
          const real = await contained(resolve(id), "get", id)
          const stat = await fsp.stat(real)
          if (!stat.isFile()) throw new StorageError({ reason: "NotFound", operation: "get", subject: id, detail: "not a file" })
          return real
        }).pipe(
          // read into the pool's blocks, which a restore gives back once decrypted (src/api/plaintext.ts):
          // a fresh 1 MiB buffer per read left a verify ~15 MiB above a decrypt of the same backup
          Effect.map((real) =>
            Stream.unwrap(Effect.gen(function*() {
              const pool = yield* Blocks
              const handle = yield* Effect.acquireRelease(
                tryFs("get", id, () => fsp.open(real, "r")),
                (opened) => Effect.promise(() => opened.close())
              )
              return readFd(handle.fd, id, pool).pipe(Stream.mapError((error) => failure("get", id)(error.cause)))
            }))
          ),
          Effect.mapError((error) =>
            error.reason === "NotFound"
              ? new StorageError({ reason: "NotFound", operation: "get", subject: id, detail: "no such backup" })
              : error
          )
        )
      )

  /** The entries of a folder of the storage; none when it does not exist (yet). */
  const readDirectory = (directory: string, operation: string, subject: string) =>
    tryFs(operation, subject, async () => {
      await contained(directory, operation, subject)
      return await fsp.readdir(directory, { withFileTypes: true })
    }).pipe(
      // a service (or a storage folder) that never got a backup has none
      Effect.catchIf((error) => error.reason === "NotFound", () => Effect.succeed([] as Array<fs.Dirent>))
    )

  const list = (service: string): Effect.Effect<ReadonlyArray<StoredBackup>, StorageError> =>
    !isSafeName(service)
      ? Effect.fail(new StorageError({ reason: "InvalidId", operation: "ls", subject: JSON.stringify(service), detail: "not a service name" }))
      : readDirectory(path.join(root, service), "ls", service).pipe(
        Effect.flatMap((entries) =>
          tryFs("ls", service, () =>
            Promise.all(
              // regular files only: a symlink (Dirent of the link itself) is never listed
              entries
                .filter((entry) => entry.isFile() && !isTemporary(entry.name))
                .map(async (entry) => {
                  const stat = await fsp.lstat(path.join(root, service, entry.name))
                  return { id: `${service}/${entry.name}`, size: stat.size, modified: stat.mtime }
                })
            ))
        ),
        Effect.map((backups) => backups.sort((a, b) => compareBackupIds(a.id, b.id)))
      )

  const listServices = readDirectory(root, "ls-services", root).pipe(
    Effect.map((entries) =>
      entries
        .filter((entry) => entry.isDirectory() && !isTemporary(entry.name))
        .map((entry) => entry.name)
        .sort()
    )
  )

  const cleanup = (options: CleanupOptions): Effect.Effect<CleanupResult, StorageError> =>
    Effect.gen(function*() {
      const now = yield* Clock.currentTimeMillis
      const removed: Array<string> = []
      let kept = 0
      for (const service of yield* listServices) {
        for (const entry of yield* readDirectory(path.join(root, service), "cleanup", service)) {
          const match = temporaryName.exec(entry.name)
          if (!entry.isFile() || match === null) continue
          const id = `${service}/${match[1]}`
          const parsed = parseBackupId(id)
          if (parsed === undefined) continue
          const file = path.join(root, service, entry.name)
          const stat = yield* tryFs("cleanup", id, () => fsp.lstat(file))
          if ((options.hostname !== undefined && parsed.hostname !== options.hostname) || now - stat.mtimeMs < options.olderThanMs) {
            kept++
            continue
          }
          yield* tryFs("cleanup", id, () => fsp.rm(file, { force: true }))
          removed.push(id)
        }
      }
      return { removed, kept }
    })

  /** Unlinks each backup's file (never what a symlink points to), then makes the removals durable. */
  const remove = (ids: ReadonlyArray<string>): Effect.Effect<RemoveResult, StorageError> =>
    Effect.gen(function*() {
      yield* tryFs("rm", root, checkRoot)
      const removed: Array<string> = []
      const failed: Array<RemoveFailure> = []
      const directories = new Set<string>()
      for (const id of ids) {
        if (!isBackupId(id)) {
          failed.push({ id, reason: "InvalidId", detail: "not a backup ID (<service>/<file>)" })
          continue
        }
        const file = resolve(id)
        const outcome = yield* Effect.result(tryFs("rm", id, async () => {
          const stat = await fsp.lstat(file)
          if (!stat.isFile()) throw new StorageError({ reason: "Failed", operation: "rm", subject: id, detail: "not a regular file; left alone" })
          await contained(file, "rm", id)
          await fsp.unlink(file)
        }))
        if (outcome._tag === "Success" || outcome.failure.reason === "NotFound") {
          removed.push(id)
          directories.add(path.dirname(file))
        } else {
          failed.push({ id, reason: outcome.failure.reason, detail: outcome.failure.detail })
        }
      }
      for (const directory of directories) yield* tryFs("rm", directory, () => syncDirectory(directory))
      return { removed, failed }
    })

  return { location: `local ${root}`, put, get, list, listServices, cleanup, remove }
}


export const layerLocal = (root: string) => Layer.succeed(Storage, makeLocalStorage(root))
