/**
 * The restore verbs through the real CLI on local storage. `verify`: a good
 * backup's plaintext size and SHA-256 (as sha256sum gives them for the
 * input), and a distinct error and a non-zero exit for each kind of damage.
 * `storage get --decrypt` and `-o`: the plaintext or the stored bytes, to a
 * file that appears only once complete. The library's verifyBackup is tested
 * in test/api/verify.test.ts.
 */
import * as crypto from "node:crypto"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { initKeys, ubackup } from "../harness/cli.ts"

const MiB = 1024 * 1024

describe("restore verbs", () => {
  let dir: string
  let config: string
  let keyFile: string
  let root: string
  const input = Buffer.concat([Buffer.from("a table row\n".repeat(100_000)), crypto.randomBytes(2 * MiB)])
  const sha256 = crypto.createHash("sha256").update(input).digest("hex")
  let id: string
  let original: Buffer

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "ubackup-verify-test-"))
    keyFile = (await initKeys(dir)).keyFile
    config = path.join(dir, "config.json")
    root = path.join(dir, "backups")
    const backup = await ubackup(["manual-backup", "db", "t1", "--config", config], { input })
    expect(backup.code, backup.stderr).toBe(0)
    id = backup.stdout.toString().trim()
    const other = await ubackup(["manual-backup", "web", "t1", "--config", config], { input: "x" })
    expect(other.code, other.stderr).toBe(0)
    original = fs.readFileSync(path.join(root, id))
  })

  afterAll(() => {
    if (dir !== undefined) fs.rmSync(dir, { recursive: true, force: true })
  })

  /** Runs verify of `id` with the stored file replaced by `damaged`, and puts the original back. */
  const verifyDamaged = async (damaged: Buffer, key = keyFile) => {
    fs.writeFileSync(path.join(root, id), damaged)
    try {
      return await ubackup(["verify", id, "--key", key, "--config", config])
    } finally {
      fs.writeFileSync(path.join(root, id), original)
    }
  }

  it("a good backup: ok, its plaintext size and SHA-256, by ID and by --latest", async () => {
    for (const args of [[id], ["--latest", "db"]]) {
      const run = await ubackup(["verify", ...args, "--key", keyFile, "--config", config])
      expect(run.code, run.stderr).toBe(0)
      const [ok, verified, size, hash] = run.stdout.toString().trimEnd().split("\t")
      expect([ok, verified, size, hash]).toEqual(["ok", id, `${input.length} bytes`, `sha256 ${sha256}`])
    }
  })

  it("--all --json: every service's newest backup, as JSON", async () => {
    const run = await ubackup(["verify", "--all", "--json", "--key", keyFile, "--config", config])
    expect(run.code, run.stderr).toBe(0)
    const results = JSON.parse(run.stdout.toString()) as Array<Record<string, unknown>>
    expect(results.map((result) => [result.ok, String(result.id).split("/")[0]])).toEqual([[true, "db"], [true, "web"]])
    expect(results[0]).toMatchObject({ plaintextBytes: input.length, sha256, storedBytes: original.length })
  })

  it("each kind of damage has its own message and exit 1: a flipped byte, truncation, the wrong key, not a backup", async () => {
    const flipped = Buffer.from(original)
    flipped[Math.floor(flipped.length / 2)]! ^= 1
    // one at a time: each replaces the same stored file
    const cases: Array<[string, Buffer, RegExp]> = [
      ["flipped", flipped, /chunk \d+ failed authentication: the backup was tampered with or corrupted/],
      ["truncated", original.subarray(0, original.length - 1000), /truncated/],
      ["not a backup", input.subarray(0, 5000), /the input is not a backup/]
    ]
    for (const [name, damaged, message] of cases) {
      const run = await verifyDamaged(damaged)
      expect(run.code, name).toBe(1)
      expect(run.stderr, name).toMatch(message)
      expect(run.stdout.toString(), name).not.toMatch(/^ok/)
    }
    const otherKey = path.join(dir, "other.key")
    const generate = await ubackup(["decryption-key-generate", "--type", "x25519"])
    fs.writeFileSync(otherKey, generate.stdout)
    const wrongKey = await ubackup(["verify", id, "--key", otherKey, "--config", config])
    expect(wrongKey.code).toBe(1)
    expect(wrongKey.stderr).toMatch(/no key opens this backup/)
  })

  it("refusals: no backup chosen, two ways chosen, --all of empty storage, a service without backups", async () => {
    const none = await ubackup(["verify", "--key", keyFile, "--config", config])
    expect([none.code, none.stderr]).toEqual([1, expect.stringMatching(/exactly one of: a backup ID, --latest <service>, --all/)])
    const two = await ubackup(["verify", id, "--all", "--key", keyFile, "--config", config])
    expect(two.code).toBe(1)
    const emptyConfig = path.join(dir, "empty-storage.json")
    const settings = JSON.parse(fs.readFileSync(config, "utf8")) as Record<string, unknown>
    fs.writeFileSync(emptyConfig, JSON.stringify({ ...settings, storage: { local: { path: path.join(dir, "no-backups-here") } } }))
    const nothing = await ubackup(["verify", "--all", "--key", keyFile, "--config", emptyConfig])
    expect([nothing.code, nothing.stderr]).toEqual([1, expect.stringMatching(/--all: no backups at all in /)])
    const missing = await ubackup(["verify", "--latest", "nosuch", "--key", keyFile, "--config", config])
    expect([missing.code, missing.stderr]).toEqual([1, expect.stringMatching(/no backups of service "nosuch"/)])
  })

  it("storage get --decrypt: the plaintext, to stdout or with -o to a file of mode 0600; without --decrypt -o holds the stored bytes", async () => {
    const toStdout = await ubackup(["storage", "get", id, "--decrypt", keyFile, "--config", config])
    expect(toStdout.code, toStdout.stderr).toBe(0)
    expect(toStdout.stdout.equals(input)).toBe(true)
    const plain = path.join(dir, "restored.bin")
    const toFile = await ubackup(["storage", "get", id, "--decrypt", keyFile, "-o", plain, "--config", config])
    expect([toFile.code, toFile.stdout.length], toFile.stderr).toEqual([0, 0])
    expect(fs.readFileSync(plain).equals(input)).toBe(true)
    expect(fs.statSync(plain).mode & 0o777).toBe(0o600)
    const encrypted = path.join(dir, "stored.age")
    const raw = await ubackup(["storage", "get", id, "-o", encrypted, "--config", config])
    expect(raw.code, raw.stderr).toBe(0)
    expect(fs.readFileSync(encrypted).equals(original)).toBe(true)
  })

  it("storage get -o of a damaged backup or with the wrong key: exit 1, the file left as it was, no temporary file", async () => {
    const target = path.join(dir, "kept.txt")
    fs.writeFileSync(target, "what was there before\n")
    const before = fs.readdirSync(dir).sort()
    const flipped = Buffer.from(original)
    flipped[Math.floor(flipped.length * 0.9)]! ^= 1
    fs.writeFileSync(path.join(root, id), flipped)
    try {
      const run = await ubackup(["storage", "get", id, "--decrypt", keyFile, "-o", target, "--config", config])
      expect(run.code).toBe(1)
      expect(run.stderr).toMatch(/failed authentication|truncated/)
    } finally {
      fs.writeFileSync(path.join(root, id), original)
    }
    expect(fs.readFileSync(target, "utf8")).toBe("what was there before\n")
    expect(fs.readdirSync(dir).sort()).toEqual(before)
  })

  it("restore --host -- <command>: the plaintext on the command's stdin, by ID and by --latest; the command's failure is the exit status", async () => {
    const out = path.join(dir, "from-command.bin")
    for (const choice of [[id], ["--latest", "db"]]) {
      fs.rmSync(out, { force: true })
      const run = await ubackup(["restore", ...choice, "--key", keyFile, "--host", "--config", config, "--", "sh", "-c", 'cat > "$0"', out])
      expect(run.code, run.stderr).toBe(0)
      expect(fs.readFileSync(out).equals(input)).toBe(true)
    }
    const failing = await ubackup(["restore", id, "--key", keyFile, "--host", "--config", config, "--", "sh", "-c", "cat > /dev/null; exit 3"])
    expect([failing.code, failing.stderr]).toEqual([1, expect.stringMatching(/exited with status 3/)])
    const early = await ubackup(["restore", id, "--key", keyFile, "--host", "--config", config, "--", "head", "-c", "10"])
    expect([early.code, early.stderr]).toEqual([1, expect.stringMatching(/stopped reading before the end of the backup/)])
    const missing = await ubackup(["restore", id, "--key", keyFile, "--host", "--config", config, "--", "no-such-command-here"])
    expect([missing.code, missing.stderr]).toEqual([1, expect.stringMatching(/could not start/)])
    const noCommand = await ubackup(["restore", id, "--key", keyFile, "--host", "--config", config])
    expect([noCommand.code, noCommand.stderr]).toEqual([1, expect.stringMatching(/give the command to restore into after --/)])
  })

  it("restore of a damaged backup: the command is stopped, and the damage is the error", async () => {
    const flipped = Buffer.from(original)
    flipped[Math.floor(flipped.length * 0.9)]! ^= 1
    fs.writeFileSync(path.join(root, id), flipped)
    try {
      const marker = path.join(dir, "finished")
      const run = await ubackup(["restore", id, "--key", keyFile, "--host", "--config", config, "--", "sh", "-c", 'cat > /dev/null && touch "$0"', marker])
      expect(run.code).toBe(1)
      expect(run.stderr).toMatch(/failed authentication|truncated/)
      expect(fs.existsSync(marker)).toBe(false)
    } finally {
      fs.writeFileSync(path.join(root, id), original)
    }
  })
})
