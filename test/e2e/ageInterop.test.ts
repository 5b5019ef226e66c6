/**
 * ubackup's backups are standard age v1 files (docs/FORMAT.md): the reference
 * `age` tool decrypts what the CLI writes, and `ubackup decrypt` reads what
 * `age` writes over streams made by the real `zstd` and `gzip`, single-frame,
 * multi-frame and with zstd's content checksum.
 */
import { execFileSync } from "node:child_process"
import * as crypto from "node:crypto"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { sshPublicKeyLine } from "../../src/encryption/age/sshRsa.ts"
import { type Run, ubackup } from "../harness/cli.ts"
import { requireCommands } from "../harness/tools.ts"

const MiB = 1024 * 1024

/** Real programs write and read whole backups in memory here: lift the 1 MiB default. */
const run = (command: string, args: ReadonlyArray<string>, input?: Uint8Array): Buffer =>
  execFileSync(command, args, { input, maxBuffer: 1024 * MiB, stdio: ["pipe", "pipe", "pipe"] })

const zstdCompress = (data: Uint8Array, ...flags: Array<string>): Buffer => run("zstd", ["-q", "-c", ...flags], data)
const gzipCompress = (data: Uint8Array): Buffer => run("gzip", ["-c"], data)
const zstdDecompress = (data: Uint8Array): Buffer => run("zstd", ["-q", "-d", "-c"], data)
const gunzip = (data: Uint8Array): Buffer => run("gzip", ["-d", "-c"], data)

/** ~5 MB: incompressible random runs between runs of repeated text, so more than one 4 MiB block. */
const mixedData = (): Buffer => {
  const parts: Array<Buffer> = []
  const text = Buffer.from("SELECT * FROM backups WHERE service = 'postgres' ORDER BY id;\n".repeat(1000))
  let size = 0
  for (let i = 0; size < 5 * MiB; i++) {
    const part = i % 2 === 0 ? crypto.randomBytes(48 * 1024 + i * 7) : text.subarray(0, 40 * 1024 + i * 13)
    parts.push(part)
    size += part.length
  }
  return Buffer.concat(parts)
}

const expectOk = (result: Run): Buffer => {
  expect(result.stderr.includes("error"), result.stderr).toBe(false)
  expect(result.code, result.stderr).toBe(0)
  return result.stdout
}

interface KeyDir {
  readonly dir: string
  readonly keyFile: string
  readonly publicKey: string
}

describe.runIf(requireCommands("age interoperability", "age", "zstd", "gzip"))("age interoperability", () => {
  let work: string
  let rsa: KeyDir
  let x25519: KeyDir
  /** `ssh-rsa AAAA…` for rsa's key: what `age -R` reads. */
  let sshRsaFile: string
  let data: Buffer

  const init = async (type: "rsa" | "x25519"): Promise<KeyDir> => {
    const dir = path.join(work, type)
    expectOk(await ubackup(["init", "--dir", dir, "--type", type]))
    return {
      dir,
      keyFile: path.join(dir, "backups.key"),
      publicKey: fs.readFileSync(path.join(dir, "backups.pub"), "utf8").trim()
    }
  }

  /** Writes a config next to the others (local storage in `dir`/backups) and returns its path. */
  const writeConfig = (dir: string, name: string, config: Record<string, unknown>): string => {
    const file = path.join(dir, name)
    fs.writeFileSync(file, JSON.stringify({ ...config, storage: { local: { path: "backups" } } }, null, 2))
    return file
  }

  /** Runs manual-backup and returns the stored age file. */
  const backup = async (config: string, input: Uint8Array): Promise<Buffer> => {
    const id = expectOk(await ubackup(["manual-backup", "--config", config, "svc", "t1"], { input })).toString().trim()
    expect(id).toMatch(/^svc\/.+_t1\.(zst|gz)\.age$/)
    return fs.readFileSync(path.join(path.dirname(config), "backups", id))
  }

  beforeAll(async () => {
    work = fs.mkdtempSync(path.join(os.tmpdir(), "ubackup-interop-"))
    rsa = await init("rsa")
    x25519 = await init("x25519")
    sshRsaFile = path.join(work, "sshrsa.pub")
    fs.writeFileSync(sshRsaFile, sshPublicKeyLine(crypto.createPublicKey(rsa.publicKey)) + "\n")
    data = mixedData()
  })

  afterAll(() => {
    if (work !== undefined) fs.rmSync(work, { recursive: true, force: true })
  })

  describe("ubackup → age", () => {
    const cases = [
      { key: "rsa", compression: "zstd" },
      { key: "rsa", compression: "gzip" },
      { key: "x25519", compression: "zstd" },
      { key: "x25519", compression: "gzip" }
    ] as const

    it.each(cases)("$key key, $compression: age -d then the real decompressor", async ({ key, compression }) => {
      const keys = key === "rsa" ? rsa : x25519
      const config = key === "rsa"
        ? writeConfig(keys.dir, `config-${compression}.json`, { encryption_publickey: keys.publicKey, compression })
        : writeConfig(keys.dir, `config-${compression}.json`, { encryption_recipients: [keys.publicKey], compression })
      const file = await backup(config, data)
      expect(file.subarray(0, 22).toString()).toBe("age-encryption.org/v1\n")
      expect(file.toString("latin1")).toContain(key === "rsa" ? "\n-> ssh-rsa " : "\n-> X25519 ")

      const ageFile = path.join(work, `${key}-${compression}.age`)
      fs.writeFileSync(ageFile, file)
      const compressed = run("age", ["-d", "-i", keys.keyFile, ageFile])
      const magic = compression === "zstd" ? "28b52ffd" : "1f8b"
      expect(compressed.subarray(0, magic.length / 2).toString("hex")).toBe(magic)
      const plain = compression === "zstd" ? zstdDecompress(compressed) : gunzip(compressed)
      expect(plain.equals(data)).toBe(true)

      // and ubackup reads it back too
      expect(expectOk(await ubackup(["decrypt", keys.keyFile], { input: file })).equals(data)).toBe(true)
    })
  })

  describe("age → ubackup", () => {
    const half = () => Math.floor(data.length / 2)
    const streams: ReadonlyArray<{ name: string; make: () => Buffer }> = [
      { name: "zstd -c", make: () => zstdCompress(data) },
      { name: "gzip -c", make: () => gzipCompress(data) },
      {
        name: "two zstd frames concatenated",
        make: () => Buffer.concat([zstdCompress(data.subarray(0, half())), zstdCompress(data.subarray(half()))])
      },
      { name: "zstd --check", make: () => zstdCompress(data, "--check") },
      {
        name: "two gzip members concatenated",
        make: () => Buffer.concat([gzipCompress(data.subarray(0, half())), gzipCompress(data.subarray(half()))])
      }
    ]

    it.each(streams)("$name, for an ssh-rsa and an X25519 recipient", async ({ make }) => {
      const compressed = make()
      // the real tools agree on what the stream holds
      const decoded = compressed[0] === 0x1f ? gunzip(compressed) : zstdDecompress(compressed)
      expect(decoded.equals(data)).toBe(true)

      const recipients = [
        { name: "ssh-rsa", args: ["-R", sshRsaFile], keyFile: rsa.keyFile, stanza: "\n-> ssh-rsa " },
        { name: "X25519", args: ["-r", x25519.publicKey], keyFile: x25519.keyFile, stanza: "\n-> X25519 " }
      ]
      for (const recipient of recipients) {
        const encrypted = run("age", ["-e", ...recipient.args], compressed)
        expect(encrypted.toString("latin1"), recipient.name).toContain(recipient.stanza)

        const plain = expectOk(await ubackup(["decrypt", recipient.keyFile], { input: encrypted }))
        expect(plain.length, recipient.name).toBe(data.length)
        expect(plain.equals(data), recipient.name).toBe(true)

        const raw = expectOk(await ubackup(["decrypt", "--raw", recipient.keyFile], { input: encrypted }))
        expect(raw.length, recipient.name).toBe(compressed.length)
        expect(raw.equals(compressed), recipient.name).toBe(true)
      }
    })
  })

  it("several recipients: a backup for an RSA PEM and an age1 recipient opens with either key, in ubackup and in age", async () => {
    const dir = path.join(work, "multi")
    fs.mkdirSync(dir)
    const config = writeConfig(dir, "config.json", {
      encryption_publickey: rsa.publicKey,
      encryption_recipients: [x25519.publicKey],
      compression: "zstd"
    })
    const file = await backup(config, data)
    const text = file.toString("latin1")
    expect(text).toContain("\n-> ssh-rsa ")
    expect(text).toContain("\n-> X25519 ")
    const ageFile = path.join(dir, "multi.age")
    fs.writeFileSync(ageFile, file)

    for (const keyFile of [rsa.keyFile, x25519.keyFile]) {
      const plain = expectOk(await ubackup(["decrypt", keyFile], { input: file }))
      expect(plain.equals(data), keyFile).toBe(true)
      const compressed = run("age", ["-d", "-i", keyFile, ageFile])
      expect(expectOk(await ubackup(["decrypt", "--raw", keyFile], { input: file })).equals(compressed), keyFile).toBe(true)
      expect(zstdDecompress(compressed).equals(data), keyFile).toBe(true)
    }
  })
})
