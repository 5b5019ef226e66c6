/**
 * `ubackup restore --into <container> -- <command>` on the real engine: a
 * tar of a tree, backed up with manual-backup, is unpacked by `tar -x` run in
 * a busybox container through the exec API with stdin attached, and the tree
 * that comes out is the tree that went in. A failing command, a command
 * that stops reading, a missing container and a damaged backup each exit
 * non-zero. PostgreSQL (rows compared) is in test/e2e/postgres.test.ts.
 */
import { execFileSync } from "node:child_process"
import * as crypto from "node:crypto"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { initKeys, ubackup } from "../harness/cli.ts"
import { buildBusyboxImage, docker, requireDocker, runContainer } from "../harness/docker.ts"

const ready = requireDocker("ubackup restore --into")
const suffix = crypto.randomBytes(3).toString("hex")

describe.runIf(ready)("ubackup restore --into a container", () => {
  const container = `ubackup-test-restore-into-${suffix}`
  let dir: string
  let config: string
  let keyFile: string
  let root: string
  let id: string
  let tree: string

  /** path and SHA-256 of every file below `folder` in the container, sorted. */
  const listing = async (folder: string) =>
    (await docker("exec", container, "sh", "-c", `cd ${folder} && find . -type f -exec sha256sum {} + | sort -k2`)).split("\n")

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "ubackup-restore-into-"))
    keyFile = (await initKeys(dir)).keyFile
    config = path.join(dir, "config.json")
    root = path.join(dir, "backups")
    tree = path.join(dir, "tree")
    fs.mkdirSync(path.join(tree, "sub", "deeper"), { recursive: true })
    fs.writeFileSync(path.join(tree, "readme.txt"), "hello\n")
    fs.writeFileSync(path.join(tree, "sub", "random.bin"), crypto.randomBytes(3 * 1024 * 1024))
    fs.writeFileSync(path.join(tree, "sub", "deeper", "rows.csv"), "1,a\n".repeat(200_000))
    const tar = execFileSync("tar", ["-cf", "-", "-C", tree, "."], { maxBuffer: 64 * 1024 * 1024 })
    await buildBusyboxImage()
    await runContainer({ name: container })
    const backup = await ubackup(["manual-backup", "files", "t1", "--config", config], { input: tar })
    expect(backup.code, backup.stderr).toBe(0)
    id = backup.stdout.toString().trim()
  }, 120_000)

  afterAll(async () => {
    await docker("rm", "-fv", container).catch(() => undefined)
    if (dir !== undefined) fs.rmSync(dir, { recursive: true, force: true })
  })

  it("tar -x in the container: the tree that comes out is the tree that went in, by ID and by --latest", async () => {
    const expected = execFileSync("sh", ["-c", "find . -type f -exec sha256sum {} + | sort -k2"], { cwd: tree }).toString().trim().split("\n")
    for (const [folder, choice] of [["/restored", [id]], ["/latest", ["--latest", "files"]]] as const) {
      await docker("exec", container, "mkdir", "-p", folder)
      const run = await ubackup(["restore", ...choice, "--key", keyFile, "--into", container, "--config", config, "--", "tar", "-xf", "-", "-C", folder])
      expect(run.code, run.stderr).toBe(0)
      expect(await listing(folder)).toEqual(expected)
    }
  }, 120_000)

  it("the command's failure is the exit status, with the end of its stderr; so are a command that stops reading and a missing container", async () => {
    const failing = await ubackup(["restore", id, "--key", keyFile, "--into", container, "--config", config, "--", "sh", "-c", "cat > /dev/null; echo broken >&2; exit 3"])
    expect([failing.code, failing.stderr]).toEqual([1, expect.stringMatching(/exited with status 3.*broken/s)])
    const early = await ubackup(["restore", id, "--key", keyFile, "--into", container, "--config", config, "--", "head", "-c", "10"])
    expect(early.code, early.stderr).toBe(1)
    expect(early.stderr).toMatch(/stopped reading before the end of the backup/)
    const missing = await ubackup(["restore", id, "--key", keyFile, "--into", `${container}-gone`, "--config", config, "--", "cat"])
    expect([missing.code, missing.stderr]).toEqual([1, expect.stringMatching(/could not start.*No such container/s)])
    const both = await ubackup(["restore", id, "--key", keyFile, "--host", "--into", container, "--config", config, "--", "cat"])
    expect([both.code, both.stderr]).toEqual([1, expect.stringMatching(/--host, or --into <container> \(one of them\)/)])
  }, 120_000)

  it("a damaged backup: the command in the container is stopped before its input ends, and the damage is the error", async () => {
    const original = fs.readFileSync(path.join(root, id))
    const flipped = Buffer.from(original)
    flipped[Math.floor(flipped.length * 0.9)]! ^= 1
    fs.writeFileSync(path.join(root, id), flipped)
    try {
      const run = await ubackup(["restore", id, "--key", keyFile, "--into", container, "--config", config, "--", "sh", "-c", "cat > /dev/null && touch /finished"])
      expect(run.code).toBe(1)
      expect(run.stderr).toMatch(/failed authentication|truncated/)
      await new Promise((resolve) => setTimeout(resolve, 500))
      expect(await docker("exec", container, "sh", "-c", "test -e /finished && echo yes || echo no")).toBe("no")
    } finally {
      fs.writeFileSync(path.join(root, id), original)
    }
  }, 120_000)
})
