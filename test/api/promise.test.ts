/**
 * The Promise API with Node streams, over a real local folder: what it
 * stores is an ordinary age file (the real `age -d | zstd -d` reads it), and
 * its failures are ubackup's tagged errors, thrown or emitted as they are.
 */
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { Readable } from "node:stream"
import { buffer } from "node:stream/consumers"
import { describe, expect, it } from "vitest"
import { generateKeyPair, openUbackup } from "../../src/api/promise.ts"
import { requireCommands } from "../harness/tools.ts"

const plaintext = Buffer.from("row,value\n".repeat(200_000))

const setup = async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "ubackup-promise-"))
  const { identity, recipient } = await generateKeyPair()
  const ub = await openUbackup({ storage: { local: { path: dir } }, encryption_recipients: [recipient] })
  return { dir, identity, ub }
}

describe("openUbackup", () => {
  it("backup from a Readable, list, get and restore as Readables", async () => {
    const { dir, identity, ub } = await setup()
    try {
      const first = await ub.backup("app", "1", fs.createReadStream(writeTemp(plaintext)), { fileExtension: ".csv" })
      const second = await ub.backup("app", "1", Readable.from([plaintext.subarray(0, 10)]), { fileExtension: ".csv" })
      expect(first).toMatchObject({ bytesIn: plaintext.length })
      expect(first.id).toMatch(/^app\/.*_1\.csv\.zst\.age$/)
      expect(second.id).not.toBe(first.id) // the same minute: kept beside it, never over it
      const listed = await ub.list("app")
      expect(listed.map((backup) => backup.id)).toEqual([first.id, second.id])
      expect(listed[0]!.size).toBe(first.size)
      expect(listed[0]!.modified).toBeInstanceOf(Date)
      expect(await ub.listServices()).toEqual(["app"])
      expect(ub.location).toContain(dir)

      const stored = await buffer(ub.get(first.id))
      expect(stored.length).toBe(first.size)
      expect((await buffer(ub.restore(first.id, identity))).equals(plaintext)).toBe(true)
      expect((await buffer(ub.restore(second.id, identity))).toString()).toBe("row,value\n")
    } finally {
      await ub.close()
    }
  })

  it.runIf(requireCommands("promise API interop", "age", "zstd"))("what it stores, the real age and zstd read", async () => {
    const { identity, ub } = await setup()
    try {
      const { id } = await ub.backup("app", "1", Readable.from([plaintext]))
      const keyFile = writeTemp(Buffer.from(identity))
      const decrypted = execFileSync("sh", ["-c", `age -d -i ${keyFile} | zstd -d`], { input: await buffer(ub.get(id)), maxBuffer: 64 << 20 })
      expect(decrypted.equals(plaintext)).toBe(true)
    } finally {
      await ub.close()
    }
  })

  it("failures are tagged errors with their fields; a failed source stores nothing", async () => {
    const { dir, identity, ub } = await setup()
    try {
      const broken = new Readable({
        read() {
          this.push(plaintext.subarray(0, 100_000))
          this.destroy(new Error("disk read failed"))
        }
      })
      await expect(ub.backup("app", "1", broken)).rejects.toMatchObject({ _tag: "SourceError", detail: "disk read failed" })
      await expect(ub.backup("app", "1", Readable.from([]))).rejects.toMatchObject({ _tag: "EmptySnapshot", service: "app" })
      await expect(ub.backup("no/slash", "1", Readable.from([plaintext]))).rejects.toMatchObject({ _tag: "InvalidBackupName" })
      expect(await ub.list("app")).toEqual([])
      // no file at all: neither a backup nor a leftover (a service's folder may stay)
      expect(fs.readdirSync(dir, { recursive: true, withFileTypes: true }).filter((entry) => entry.isFile())).toEqual([])

      const missing = ub.get("app/2026-01-01 0000Z_host_1.zst.age")
      await expect(buffer(missing)).rejects.toMatchObject({ _tag: "StorageError", reason: "NotFound" })

      const { id } = await ub.backup("app", "1", Readable.from([plaintext]))
      const other = await generateKeyPair()
      await expect(buffer(ub.restore(id, other.identity))).rejects.toMatchObject({ _tag: "DecryptError" })
      await expect(buffer(ub.restore(id, "not a key"))).rejects.toMatchObject({ _tag: "KeyError" })
      expect((await buffer(ub.restore(id, identity))).equals(plaintext)).toBe(true)
    } finally {
      await ub.close()
    }
  })

  it("a bad config rejects with a ConfigError that names each bad field", async () => {
    const error = await openUbackup({ storage: {}, encryption_recipients: [], compression: "lz4" }, { name: "settings.json" }).then(
      () => undefined,
      (e: unknown) => e as { _tag: string; source: string; issues: Array<{ path: string }>; message: string }
    )
    expect(error?._tag).toBe("ConfigError")
    expect(error?.source).toBe("settings.json")
    expect(error?.issues.map((issue) => issue.path)).toContain("compression")
  })

  it("an RSA-4096 key pair works too (µbackup's key kind)", async () => {
    const { identity, recipient } = await generateKeyPair("rsa")
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "ubackup-promise-rsa-"))
    await using ub = await openUbackup({ storage: { local: { path: dir } }, encryption_recipients: [recipient], compression: "gzip" })
    const { id } = await ub.backup("app", "1", Readable.from([plaintext]), { fileExtension: ".csv" })
    expect(id).toMatch(/\.csv\.gz\.age$/)
    expect((await buffer(ub.restore(id, identity))).equals(plaintext)).toBe(true)
  })
})

const writeTemp = (bytes: Uint8Array) => {
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "ubackup-promise-src-")), "input")
  fs.writeFileSync(file, bytes, { mode: 0o600 })
  return file
}
