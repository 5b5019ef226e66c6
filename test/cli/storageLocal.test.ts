/**
 * Local directory storage through the real CLI (manual-backup, storage ls,
 * ls-services, get): where and how backups are written, listings that skip
 * temporary files, and a backup killed by SIGTERM that leaves neither a
 * backup nor a temporary file behind. The library's LocalStorage is tested
 * in test/storage/local.test.ts.
 */
import * as crypto from "node:crypto"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { initKeys, start, ubackup } from "../harness/cli.ts"
import { waitFor } from "../harness/tools.ts"

const MiB = 1024 * 1024

/** The names in `directory`, hidden ones included; none when it does not exist. */
const entries = (directory: string): Array<string> => (fs.existsSync(directory) ? fs.readdirSync(directory).sort() : [])

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
      const json = await ubackup(["storage", "ls", "--json", "files", "--config", config])
      expect(JSON.parse(json.stdout.toString())).toEqual([{ id, size_bytes: stat.size, modified: stat.mtime.toISOString() }])

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
})
