/**
 * Local directory storage through the library (makeLocalStorage): where and
 * how backups are written, listings, and failed or interrupted puts that
 * leave neither a backup nor a temporary file behind; folders open to
 * others and symlinks out of the folder are refused. The same storage
 * through the CLI is tested in test/cli/storageLocal.test.ts.
 */
import { Cause, Data, Effect, Fiber, Stream } from "effect"
import * as crypto from "node:crypto"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { makeLocalStorage } from "../../src/storage/local.ts"
import { waitFor } from "../harness/tools.ts"

const MiB = 1024 * 1024

class SnapshotFailed extends Data.TaggedError("SnapshotFailed")<{ readonly afterBytes: number }> {}

/** The names in `directory`, hidden ones included; none when it does not exist. */
const entries = (directory: string): Array<string> => (fs.existsSync(directory) ? fs.readdirSync(directory).sort() : [])

/** `count` chunks of 1 MiB of random bytes (one buffer, repeated). */
const mebibytes = (count: number) => {
  const chunk = crypto.randomBytes(MiB)
  return Stream.fromIterable(Array.from({ length: count }, () => chunk))
}

describe("local storage", () => {
  let dir: string

  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "ubackup-local-test-"))
  })

  afterAll(() => {
    if (dir !== undefined) fs.rmSync(dir, { recursive: true, force: true })
  })

  describe("through the library", () => {
    let libraryRoot: string
    beforeAll(() => {
      libraryRoot = fs.mkdtempSync(path.join(dir, "library-"))
    })

    it("put writes every byte to <root>/<id>, mode 0600, and reports the size", async () => {
      const storage = makeLocalStorage(libraryRoot)
      const id = "lib/2024-01-01 0000Z_host_task.zst.age"
      const chunks = [crypto.randomBytes(1000), crypto.randomBytes(MiB + 7), Buffer.alloc(0), crypto.randomBytes(3)]
      const stored = await Effect.runPromise(storage.put(id, Stream.fromIterable(chunks)))
      const expected = Buffer.concat(chunks)
      expect(stored.id).toBe(id)
      expect(stored.size).toBe(expected.length)
      const file = path.join(libraryRoot, id)
      expect(fs.readFileSync(file).equals(expected)).toBe(true)
      expect(fs.statSync(file).mode & 0o777).toBe(0o600)
      expect(entries(path.join(libraryRoot, "lib"))).toEqual([path.basename(id)])
      const listed = await Effect.runPromise(storage.list("lib"))
      expect(listed.map((backup) => [backup.id, backup.size])).toEqual([[id, expected.length]])
    })

    it("a put larger than the background datasync interval (32 MiB) stores every byte", async () => {
      const storage = makeLocalStorage(libraryRoot)
      const id = "big/2024-01-01 0000Z_host_task.zst.age"
      const stored = await Effect.runPromise(storage.put(id, mebibytes(70)))
      expect(stored.size).toBe(70 * MiB)
      expect(fs.statSync(path.join(libraryRoot, id)).size).toBe(70 * MiB)
      expect(entries(path.join(libraryRoot, "big"))).toEqual([path.basename(id)])
    })

    it("a put whose stream fails leaves no file and no temporary file, and fails with the stream's error", async () => {
      const storage = makeLocalStorage(libraryRoot)
      const id = "failing/2024-01-01 0000Z_host_task.zst.age"
      const body = mebibytes(3).pipe(Stream.concat(Stream.fail(new SnapshotFailed({ afterBytes: 3 * MiB }))))
      const error = await Effect.runPromise(Effect.flip(storage.put(id, body)))
      expect(error).toBeInstanceOf(SnapshotFailed)
      expect(error).toEqual(new SnapshotFailed({ afterBytes: 3 * MiB }))
      expect(entries(path.join(libraryRoot, "failing"))).toEqual([])
    })

    it("a failed put leaves an earlier backup with the same ID untouched", async () => {
      const storage = makeLocalStorage(libraryRoot)
      const id = "kept/2024-01-01 0000Z_host_task.zst.age"
      await Effect.runPromise(storage.put(id, Stream.make(new Uint8Array([1, 2, 3]))))
      const body = mebibytes(2).pipe(Stream.concat(Stream.fail(new SnapshotFailed({ afterBytes: 2 * MiB }))))
      expect(await Effect.runPromise(Effect.flip(storage.put(id, body)))).toBeInstanceOf(SnapshotFailed)
      expect([...fs.readFileSync(path.join(libraryRoot, id))]).toEqual([1, 2, 3])
      expect(entries(path.join(libraryRoot, "kept"))).toEqual([path.basename(id)])
    })

    it("a put interrupted while its stream is stalled leaves no file and no temporary file", async () => {
      const storage = makeLocalStorage(libraryRoot)
      const folder = path.join(libraryRoot, "stalled")
      const fiber = Effect.runFork(storage.put("stalled/2024-01-01 0000Z_host_task.zst.age", mebibytes(2).pipe(Stream.concat(Stream.never))))
      const temporary = await waitFor("the temporary file", () => entries(folder).find((name) => name.endsWith(".partial")))
      await waitFor("2 MiB in the temporary file", () => (fs.statSync(path.join(folder, temporary)).size >= 2 * MiB ? true : undefined))
      const exit = await Effect.runPromise(Fiber.interrupt(fiber).pipe(Effect.andThen(Fiber.await(fiber))))
      expect(exit._tag === "Failure" && Cause.hasInterruptsOnly(exit.cause)).toBe(true)
      expect(entries(folder)).toEqual([])
    })

    it("a storage folder writable by its group or by every user is refused, naming the folder and the fix", async () => {
      for (const mode of [0o770, 0o777]) {
        const open = fs.mkdtempSync(path.join(dir, "open-"))
        fs.chmodSync(open, mode)
        const storage = makeLocalStorage(open)
        for (const attempt of [storage.put("svc/2024-01-01 0000Z_host_task.zst.age", Stream.make(new Uint8Array([1]))), storage.list("svc")]) {
          const error = await Effect.runPromise(Effect.flip(attempt as Effect.Effect<unknown, { _tag: string }>))
          expect(error).toMatchObject({ _tag: "StorageError", reason: "AccessDenied", subject: open })
          expect(String((error as { message?: string }).message)).toMatch(/writable by .*chmod go-w/)
        }
        expect(entries(open)).toEqual([])
      }
    })

    it("a symlink in the storage folder that points out of it is neither listed, read nor written through", async () => {
      const guarded = fs.mkdtempSync(path.join(dir, "guarded-"))
      const outside = path.join(dir, "outside-secret")
      fs.writeFileSync(outside, "host secret")
      const storage = makeLocalStorage(guarded)
      const real = "svc/2024-01-01 0000Z_host_task.zst.age"
      await Effect.runPromise(storage.put(real, Stream.make(new Uint8Array([7]))))
      const planted = "svc/2024-01-02 0000Z_host_task.zst.age"
      fs.symlinkSync(outside, path.join(guarded, planted))
      fs.symlinkSync(dir, path.join(guarded, "linked-service"))
      const listed = await Effect.runPromise(storage.list("svc"))
      expect(listed.map((backup) => backup.id)).toEqual([real])
      const read = await Effect.runPromise(Effect.flip(Stream.runCollect(storage.get(planted))))
      expect(read).toMatchObject({ _tag: "StorageError", reason: "AccessDenied" })
      const viaService = await Effect.runPromise(Effect.flip(Stream.runCollect(storage.get("linked-service/outside-secret"))))
      expect(viaService).toMatchObject({ _tag: "StorageError" })
      const intoLink = await Effect.runPromise(Effect.flip(storage.put("linked-service/2024-01-01 0000Z_host_task.zst.age", Stream.make(new Uint8Array([1])))))
      expect(intoLink).toMatchObject({ _tag: "StorageError", reason: "AccessDenied" })
      expect(fs.existsSync(path.join(dir, "2024-01-01 0000Z_host_task.zst.age"))).toBe(false)
    })

    it("rejects IDs and service names that are not one safe path segment each", async () => {
      const storage = makeLocalStorage(libraryRoot)
      for (const id of ["../escape/x", "x", "a/b/c", "svc/.hidden", "svc/"]) {
        const error = await Effect.runPromise(Effect.flip(storage.put(id, Stream.make(new Uint8Array([1])))))
        expect(error).toMatchObject({ _tag: "StorageError", reason: "InvalidId" })
      }
      expect(await Effect.runPromise(Effect.flip(storage.list("..")))).toMatchObject({ reason: "InvalidId" })
      expect(fs.existsSync(path.join(path.dirname(libraryRoot), "escape"))).toBe(false)
    })
  })
})
