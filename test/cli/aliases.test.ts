/** µbackup's later verb names: `config example` and `decrypt-and-decompress` do what the verbs they alias do. */
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { describe, expect, it } from "vitest"
import { initKeys, ubackup } from "../harness/cli.ts"

describe("aliases", () => {
  it("config example prints what print-default-config prints, flags included", async () => {
    for (const flags of [[], ["--kitchensink"]]) {
      const example = await ubackup(["config", "example", ...flags])
      const original = await ubackup(["print-default-config", ...flags])
      expect(example.code).toBe(0)
      expect(example.stdout.toString()).toBe(original.stdout.toString())
      expect(JSON.parse(example.stdout.toString())).toHaveProperty("storage")
    }
  })

  it("decrypt-and-decompress restores what manual-backup stored, as decrypt does (--raw too)", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "ubackup-aliases-"))
    const { keyFile } = await initKeys(dir)
    const config = path.join(dir, "config.json")
    const data = "the same bytes back\n".repeat(1000)
    const stored = await ubackup(["manual-backup", "--config", config, "app", "1"], { input: data })
    expect(stored.code).toBe(0)
    const id = stored.stdout.toString().trim()
    const backup = (await ubackup(["storage", "get", id, "--config", config])).stdout
    const restored = await ubackup(["decrypt-and-decompress", keyFile], { input: backup })
    expect(restored.code).toBe(0)
    expect(restored.stdout.toString()).toBe(data)
    const raw = await ubackup(["decrypt-and-decompress", "--raw", keyFile], { input: backup })
    expect(raw.stdout.equals((await ubackup(["decrypt", "--raw", keyFile], { input: backup })).stdout)).toBe(true)
    const damaged = Buffer.from(backup)
    damaged[damaged.length - 5]! ^= 1
    expect((await ubackup(["decrypt-and-decompress", keyFile], { input: damaged })).code).not.toBe(0)
  })
})
