/**
 * Storage in memory, for tests (yours and ubackup's) and for trying the
 * library out. It keeps the contract the real ones keep and passes the same
 * conformance suite (test/storage/conformance.test.ts): an object appears
 * only once its stream ended cleanly, never over another (a taken ID gets the
 * next numbered variant), listings sort oldest first. Times come from `Clock`,
 * so a test clock decides `modified`. Nothing survives the process, so there
 * are never leftovers to clean up.
 */
import { Clock, Effect, Layer, Stream } from "effect"
import { compareBackupIds, isBackupId, isSafeName, withSequence } from "../domain/names.ts"
import type { StoredBackup } from "../domain/Outcome.ts"
import { type RemoveFailure, Storage, StorageError } from "./Storage.ts"

// the service this module implements, so that `ubackup/storage/memory` is complete on its own
export {
  type CleanupOptions,
  type CleanupResult,
  type RemoveFailure,
  type RemoveResult,
  Storage,
  StorageError,
  StorageFailure
} from "./Storage.ts"

export interface MemoryObject {
  readonly bytes: Uint8Array
  readonly modified: Date
}

/** `objects` holds the published backups by ID: pass your own map to look into it from a test. */
export const makeMemoryStorage = (objects: Map<string, MemoryObject> = new Map()): Storage["Service"] => {
  const invalid = (operation: string, subject: string, detail: string) =>
    new StorageError({ reason: "InvalidId", operation, subject: JSON.stringify(subject), detail })

  const put = <E>(id: string, body: Stream.Stream<Uint8Array, E>): Effect.Effect<StoredBackup, E | StorageError> =>
    !isBackupId(id)
      ? Effect.fail(invalid("put", id, "not a backup ID (<service>/<file>)"))
      : Effect.gen(function*() {
        const chunks = yield* Stream.runCollect(body)
        const bytes = new Uint8Array(Buffer.concat(chunks))
        const modified = new Date(yield* Clock.currentTimeMillis)
        // no yield between finding the free ID and taking it: concurrent puts cannot both take one
        let n = 1
        while (objects.has(withSequence(id, n))) n++
        const stored = withSequence(id, n)
        objects.set(stored, { bytes, modified })
        return { id: stored, size: bytes.length, modified }
      })

  const get = (id: string): Stream.Stream<Uint8Array, StorageError> =>
    !isBackupId(id)
      ? Stream.fail(invalid("get", id, "not a backup ID (<service>/<file>)"))
      : Stream.suspend(() => {
        const object = objects.get(id)
        return object === undefined
          ? Stream.fail(new StorageError({ reason: "NotFound", operation: "get", subject: id, detail: "no such backup" }))
          : Stream.make(object.bytes)
      })

  const list = (service: string): Effect.Effect<ReadonlyArray<StoredBackup>, StorageError> =>
    !isSafeName(service)
      ? Effect.fail(invalid("ls", service, "not a service name"))
      : Effect.sync(() =>
        [...objects]
          .filter(([id]) => id.startsWith(`${service}/`))
          .map(([id, { bytes, modified }]) => ({ id, size: bytes.length, modified }))
          .sort((a, b) => compareBackupIds(a.id, b.id))
      )

  const listServices = Effect.sync(() => [...new Set([...objects.keys()].map((id) => id.slice(0, id.indexOf("/"))))].sort())

  return {
    location: "memory",
    put,
    get,
    list,
    listServices,
    cleanup: () => Effect.succeed({ removed: [], kept: 0 }),
    remove: (ids) =>
      Effect.sync(() => {
        const removed: Array<string> = []
        const failed: Array<RemoveFailure> = []
        for (const id of ids) {
          if (!isBackupId(id)) {
            failed.push({ id, reason: "InvalidId", detail: "not a backup ID (<service>/<file>)" })
          } else {
            objects.delete(id)
            removed.push(id)
          }
        }
        return { removed, failed }
      })
  }
}

export const layerMemory = (objects?: Map<string, MemoryObject>): Layer.Layer<Storage> =>
  Layer.sync(Storage, () => makeMemoryStorage(objects))
