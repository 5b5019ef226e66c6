/**
 * Local directory storage, the embedded default. The backup `<id>` lives at
 * `<root>/<id>`. A backup is written to a hidden temporary file in the target
 * folder, fsynced, then renamed into place: readers never see a partial file,
 * and a failed or interrupted backup removes its temporary file.
 */
import { Effect, Layer, Stream } from "effect"
import * as NodeStream from "@effect/platform-node/NodeStream"
import * as crypto from "node:crypto"
import * as fs from "node:fs"
import * as fsp from "node:fs/promises"
import * as path from "node:path"
import { isBackupId, isSafeName } from "../pipeline/names.ts"
import { Storage, type StoredBackup, StorageError } from "./Storage.ts"

const isTemporary = (name: string) => name.startsWith(".")

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

  const put = <E>(id: string, body: Stream.Stream<Uint8Array, E>): Effect.Effect<StoredBackup, E | StorageError> => {
    if (!isBackupId(id)) return Effect.fail(invalidId("put", id))
    const final = resolve(id)
    const directory = path.dirname(final)
    const temporary = path.join(directory, `.${path.basename(final)}.${crypto.randomBytes(6).toString("hex")}.partial`)
    const fail = failure("put", id)
    return Effect.acquireUseRelease(
      Effect.tryPromise({
        try: async () => {
          await fsp.mkdir(directory, { recursive: true, mode: 0o700 })
          return await fsp.open(temporary, "wx", 0o600)
        },
        catch: fail
      }),
      (handle) =>
        Effect.gen(function*() {
          let size = 0
          yield* body.pipe(
            Stream.runForEachArray((buffers) => {
              for (const buffer of buffers) size += buffer.length
              return Effect.tryPromise({ try: () => writeAll(handle, buffers), catch: fail })
            })
          )
          // durable before visible: data, then the rename, then the folder entry;
          // once the stream ended cleanly the commit runs to its end
          yield* Effect.uninterruptible(Effect.tryPromise({
            try: async () => {
              await handle.sync()
              await handle.close()
              await fsp.rename(temporary, final)
              await syncDirectory(directory)
            },
            catch: fail
          }))
          return { id, size, modified: new Date() }
        }),
      (handle, exit) =>
        exit._tag === "Success"
          ? Effect.void
          : Effect.promise(async () => {
            await handle.close().catch(() => undefined)
            await fsp.rm(temporary, { force: true }).catch(() => undefined)
          })
    )
  }

  const get = (id: string): Stream.Stream<Uint8Array, StorageError> =>
    !isBackupId(id)
      ? Stream.fail(invalidId("get", id))
      : Stream.unwrap(
        Effect.tryPromise({ try: () => fsp.stat(resolve(id)), catch: failure("get", id) }).pipe(
          Effect.flatMap((stat) =>
            stat.isFile()
              ? Effect.succeed(
                NodeStream.fromReadable<Uint8Array, StorageError>({
                  evaluate: () => fs.createReadStream(resolve(id), { highWaterMark: 1024 * 1024 }),
                  onError: failure("get", id)
                })
              )
              : Effect.fail(new StorageError({ reason: "NotFound", operation: "get", subject: id, detail: "not a file" }))
          ),
          Effect.mapError((error) =>
            error.reason === "NotFound"
              ? new StorageError({ reason: "NotFound", operation: "get", subject: id, detail: "no such backup" })
              : error
          )
        )
      )

  const readDirectory = (directory: string, operation: string, subject: string) =>
    Effect.tryPromise({
      try: () => fsp.readdir(directory, { withFileTypes: true }),
      catch: failure(operation, subject)
    }).pipe(
      // a service (or a storage folder) that never got a backup has none
      Effect.catchIf((error) => error.reason === "NotFound", () => Effect.succeed([] as Array<fs.Dirent>))
    )

  const list = (service: string): Effect.Effect<ReadonlyArray<StoredBackup>, StorageError> =>
    !isSafeName(service)
      ? Effect.fail(new StorageError({ reason: "InvalidId", operation: "ls", subject: JSON.stringify(service), detail: "not a service name" }))
      : readDirectory(path.join(root, service), "ls", service).pipe(
        Effect.flatMap((entries) =>
          Effect.tryPromise({
            try: () =>
              Promise.all(
                entries
                  .filter((entry) => entry.isFile() && !isTemporary(entry.name))
                  .map(async (entry) => {
                    const stat = await fsp.stat(path.join(root, service, entry.name))
                    return { id: `${service}/${entry.name}`, size: stat.size, modified: stat.mtime }
                  })
              ),
            catch: failure("ls", service)
          })
        ),
        Effect.map((backups) => backups.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)))
      )

  const listServices = readDirectory(root, "ls-services", root).pipe(
    Effect.map((entries) =>
      entries
        .filter((entry) => entry.isDirectory() && !isTemporary(entry.name))
        .map((entry) => entry.name)
        .sort()
    )
  )

  return { location: `local ${root}`, put, get, list, listServices }
}

export const layerLocal = (root: string) => Layer.succeed(Storage, makeLocalStorage(root))
