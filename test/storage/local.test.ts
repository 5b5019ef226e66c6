/**
 * Local directory storage, through the real CLI and the library: where and
 * how backups are written, listings that skip temporary files, and failed,
 * interrupted or killed backups that leave neither a backup nor a
 * temporary file behind.
 */
import { Cause, Data, Effect, Fiber, Stream } from "effect"
import * as crypto from "node:crypto"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { makeLocalStorage } from "../../src/storage/local.ts"
import { initKeys, start, ubackup } from "../harness/cli.ts"
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
  let config: string
  let keyFile: string
  /** Where the config created by `init` stores backups. */
  let root: string

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "ubackup-local-test-"))
    keyFile = (await initKeys(dir)).keyFile
    config = path.join(dir, "config.json")
    root = path.join(dir, "backups")
  })

  afterAll(() => {
    if (dir !== undefined) fs.rmSync(dir, { recursive: true, force: true })
  })

  describe("through the CLI", () => {
    it("manual-backup writes <path>/<id> with mode 0600, and it decrypts to the input", async () => {
      const input = Buffer.concat([Buffer.from("hello, local storage\n".repeat(1000)), crypto.randomBytes(3 * MiB)])
      const backup = await ubackup(["manual-backup", "files", "task1", "--config", config], { input })
      expect(backup.code, backup.stderr).toBe(0)
      const id = backup.stdout.toString().trim()
      expect(id).toMatch(/^files\/\d{4}-\d{2}-\d{2} \d{4}Z_.+_task1\.zst\.age$/)

      const file = path.join(root, id)
      const stat = fs.statSync(file)
      expect(stat.isFile()).toBe(true)
      expect(stat.mode & 0o777).toBe(0o600)
      // the backup and nothing else: no temporary file is left next to it
      expect(entries(path.join(root, "files"))).toEqual([path.basename(id)])

      const long = await ubackup(["storage", "ls", "-l", "files", "--config", config])
      expect(long.code, long.stderr).toBe(0)
      const [listedId, size, time] = long.stdout.toString().trimEnd().split("\t")
      expect(listedId).toBe(id)
      expect(Number(size)).toBe(stat.size)
      expect(time).toBe(stat.mtime.toISOString())

      const get = await ubackup(["storage", "get", id, "--config", config])
      expect(get.code, get.stderr).toBe(0)
      expect(get.stdout.equals(fs.readFileSync(file))).toBe(true)
      const decrypt = await ubackup(["decrypt", keyFile], { input: get.stdout })
      expect(decrypt.code, decrypt.stderr).toBe(0)
      expect(decrypt.stdout.equals(input)).toBe(true)
    })

    it("an empty stdin fails and stores nothing", async () => {
      const backup = await ubackup(["manual-backup", "empty", "task1", "--config", config], { input: "" })
      expect(backup.code).toBe(1)
      expect(backup.stdout.length).toBe(0)
      expect(backup.stderr).toContain("produced no data")
      expect(entries(path.join(root, "empty"))).toEqual([])
    })

    it("SIGTERM while reading a slow stdin: exits non-zero, no backup and no temporary file", async () => {
      const folder = path.join(root, "killed")
      const { child, output, exited } = start(["manual-backup", "killed", "task1", "--config", config])
      try {
        // more than one compression block, so some output reaches the file; stdin stays open
        child.stdin.write(crypto.randomBytes(6 * MiB))
        const temporary = await waitFor("the backup's temporary file", () =>
          entries(folder).find((name) => name.startsWith(".") && name.endsWith(".partial")))
        await waitFor("data in the temporary file", () => {
          try {
            return fs.statSync(path.join(folder, temporary)).size > 0 ? true : undefined
          } catch {
            return undefined
          }
        })
        child.kill("SIGTERM")
        const exit = await Promise.race([
          exited,
          new Promise<"hung">((resolve) => setTimeout(() => resolve("hung"), 15_000))
        ])
        expect(exit, `the backup did not exit after SIGTERM; stderr: ${output().stderr}`).not.toBe("hung")
        if (exit === "hung") return
        expect(exit.signal).toBeNull()
        expect(exit.code).not.toBe(0)
        expect(exit.code).not.toBeNull()
        expect(output().stdout).toBe("")
        expect(entries(folder)).toEqual([])
      } finally {
        child.stdin.destroy()
        if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL")
      }
    })

    it("storage ls skips hidden temporary files; a service without backups lists nothing", async () => {
      const backup = await ubackup(["manual-backup", "listed", "task1", "--config", config], { input: "listed\n" })
      expect(backup.code, backup.stderr).toBe(0)
      const id = backup.stdout.toString().trim()
      // what a backup in progress (or a crashed one) leaves: a hidden file, a hidden folder
      fs.writeFileSync(path.join(root, "listed", `.${path.basename(id)}.0123456789ab.partial`), "partial")
      fs.mkdirSync(path.join(root, ".hidden-service"))
      fs.writeFileSync(path.join(root, ".hidden-service", "2024-01-01 0000Z_host_task.zst.age"), "hidden")

      const ls = await ubackup(["storage", "ls", "listed", "--config", config])
      expect(ls.code, ls.stderr).toBe(0)
      expect(ls.stdout.toString()).toBe(`${id}\n`)

      fs.mkdirSync(path.join(root, "nobackups"))
      for (const service of ["nobackups", "neverseen"]) {
        const none = await ubackup(["storage", "ls", service, "--config", config])
        expect(none.code, none.stderr).toBe(0)
        expect(none.stdout.toString()).toBe("")
        expect(none.stderr).toBe("")
      }
    })

    it("storage ls-services lists the service folders, sorted, without hidden ones", async () => {
      const services = await ubackup(["storage", "ls-services", "--config", config])
      expect(services.code, services.stderr).toBe(0)
      const listed = services.stdout.toString().split("\n").filter((line) => line !== "")
      const expected = entries(root).filter((name) => !name.startsWith(".") && fs.statSync(path.join(root, name)).isDirectory())
      expect(listed).toEqual(expected)
      expect(listed).toEqual(expect.arrayContaining(["files", "listed"]))
      expect(listed).not.toContain(".hidden-service")
    })

    it("storage ls and ls-services of a storage folder that does not exist yet print nothing", async () => {
      const fresh = fs.mkdtempSync(path.join(dir, "fresh-"))
      const freshConfig = path.join(fresh, "config.json")
      const loaded = JSON.parse(fs.readFileSync(config, "utf8")) as Record<string, unknown>
      fs.writeFileSync(freshConfig, JSON.stringify({ ...loaded, storage: { local: { path: "not-yet" } } }))
      for (const args of [["storage", "ls", "svc"], ["storage", "ls-services"]]) {
        const run = await ubackup([...args, "--config", freshConfig])
        expect(run.code, run.stderr).toBe(0)
        expect(run.stdout.toString()).toBe("")
      }
      expect(fs.existsSync(path.join(fresh, "not-yet"))).toBe(false)
    })

    it("storage get: a missing ID exits 1 with 'no such backup'; an invalid ID is rejected", async () => {
      const missing = await ubackup(["storage", "get", "files/2000-01-01 0000Z_host_none.zst.age", "--config", config])
      expect(missing.code).toBe(1)
      expect(missing.stdout.length).toBe(0)
      expect(missing.stderr).toMatch(/^ubackup: error: .*no such backup/)
      // a service folder is not a backup
      fs.mkdirSync(path.join(root, "files", "subfolder"), { recursive: true })
      const folder = await ubackup(["storage", "get", "files/subfolder", "--config", config])
      expect(folder.code).toBe(1)
      expect(folder.stderr).toContain("no such backup")
      fs.rmdirSync(path.join(root, "files", "subfolder"))
      for (const invalid of ["../x", "x", "files/../../config.json", "/etc/passwd", "files/.hidden"]) {
        const run = await ubackup(["storage", "get", invalid, "--config", config])
        expect(run.code, invalid).toBe(1)
        expect(run.stdout.length).toBe(0)
        expect(run.stderr, invalid).toContain("not a backup ID")
      }
    })
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
