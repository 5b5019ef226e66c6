/**
 * µbackup's `.gz.aes` files, read by the library's decrypt. The files are
 * made independently of ubackup, with openssl only: RSA-OAEP(SHA-256,
 * MGF1-SHA-256) of a random AES-256 key, its length as uint16 LE, a random
 * IV, then AES-256-CTR of a gzip stream. The openssl-only restore recipe at
 * the end of docs/FORMAT.md is run as written. `ubackup decrypt` of the same
 * files is tested in test/cli/decryptLegacy.test.ts.
 */
import { Effect, Stream } from "effect"
import { execFileSync } from "node:child_process"
import * as crypto from "node:crypto"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { decompress } from "../../src/compression/decompress.ts"
import { decrypt } from "../../src/encryption/decrypt.ts"
import { parseDecryptionKeys } from "../../src/encryption/keys.ts"
import { requireCommands } from "../harness/tools.ts"

const MiB = 1024 * 1024

/**
 * Writes `$out`: a µbackup file of the gzip of `$in` for the RSA public key
 * `$pub`, with openssl, gzip, od and printf only.
 */
const makeLegacyScript = `
set -eu
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
openssl rand -out "$work/aes" 32
openssl rand -out "$work/iv" 16
openssl pkeyutl -encrypt -pubin -inkey "$pub" -in "$work/aes" -out "$work/envelope" \\
  -pkeyopt rsa_padding_mode:oaep -pkeyopt rsa_oaep_md:sha256 -pkeyopt rsa_mgf1_md:sha256
L=$(wc -c < "$work/envelope" | tr -d ' ')
# uint16 little-endian, as octal escapes for printf
printf "\\\\$(printf %03o $((L % 256)))\\\\$(printf %03o $((L / 256)))" > "$out"
cat "$work/envelope" "$work/iv" >> "$out"
gzip -c < "$in" > "$out.gz"
openssl enc -aes-256-ctr -K "$(xxd -p -c 64 "$work/aes")" -iv "$(xxd -p "$work/iv")" < "$out.gz" >> "$out"
`

/** The last indented code block of docs/FORMAT.md: the openssl-only restore of a `.gz.aes` file. */
const formatRecipe = (): string => {
  const doc = fs.readFileSync(path.resolve(import.meta.dirname, "../../docs/FORMAT.md"), "utf8")
  const section = doc.slice(doc.indexOf("## µbackup's `.gz.aes` files"))
  const blocks = section.trimEnd().split(/\n\s*\n/).filter((block) => block.split("\n").every((line) => line.startsWith("    ")))
  const recipe = blocks.at(-1)
  if (recipe === undefined) throw new Error("docs/FORMAT.md: no restore recipe found")
  return recipe.split("\n").map((line) => line.slice(4)).join("\n")
}

describe.runIf(requireCommands("µbackup .gz.aes files", "openssl", "gzip", "xxd", "od"))("µbackup .gz.aes files", () => {
  let dir: string
  /** RSA-4096, PKCS#1 `RSA PRIVATE KEY`, as µbackup's key generation wrote it. */
  let pkcs1: string
  /** The same key as PKCS#8 `PRIVATE KEY`. */
  let pkcs8: string
  let publicPem: string
  const samples = {} as Record<"empty" | "small" | "large", { plain: string; legacy: string; content: Buffer }>

  const makeLegacy = (name: string, content: Buffer) => {
    const plain = path.join(dir, `${name}.plain`)
    const legacy = path.join(dir, `${name}.gz.aes`)
    fs.writeFileSync(plain, content)
    execFileSync("sh", ["-c", makeLegacyScript], { env: { ...process.env, pub: publicPem, in: plain, out: legacy }, stdio: "pipe" })
    return { plain, legacy, content }
  }

  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "ubackup-legacy-test-"))
    pkcs1 = path.join(dir, "backups.key")
    pkcs8 = path.join(dir, "backups.pkcs8.key")
    publicPem = path.join(dir, "backups.pub.pem")
    const openssl = (...args: Array<string>) => execFileSync("openssl", args, { stdio: "pipe" })
    openssl("genrsa", "-traditional", "-out", pkcs1, "4096")
    openssl("pkcs8", "-topk8", "-nocrypt", "-in", pkcs1, "-out", pkcs8)
    openssl("rsa", "-in", pkcs1, "-pubout", "-out", publicPem)
    expect(fs.readFileSync(pkcs1, "utf8")).toMatch(/^-----BEGIN RSA PRIVATE KEY-----\n/)
    expect(fs.readFileSync(pkcs8, "utf8")).toMatch(/^-----BEGIN PRIVATE KEY-----\n/)
    samples.empty = makeLegacy("empty", Buffer.alloc(0))
    samples.small = makeLegacy("small", Buffer.from("µbackup was here\n".repeat(40)))
    // text and incompressible bytes interleaved, so a misplaced block would show
    const parts: Array<Buffer> = []
    for (let i = 0; parts.reduce((n, part) => n + part.length, 0) < 3 * MiB; i++) {
      parts.push(Buffer.from(`line ${i}: ${"abcdefghij".repeat(i % 17)}\n`), crypto.randomBytes(i % 97))
    }
    samples.large = makeLegacy("large", Buffer.concat(parts))
  })

  afterAll(() => {
    if (dir !== undefined) fs.rmSync(dir, { recursive: true, force: true })
  })

  it("the files made here have µbackup's layout: uint16 LE 512, then 512 + 16 header bytes", () => {
    const file = fs.readFileSync(samples.small.legacy)
    expect(file.readUInt16LE(0)).toBe(512)
    expect(file.length).toBe(2 + 512 + 16 + fs.statSync(`${samples.small.legacy}.gz`).size)
  })

  it("the library decrypts it in any chunking: the header split across pushes", async () => {
    const keys = await Effect.runPromise(parseDecryptionKeys(fs.readFileSync(pkcs1, "utf8"), "backups.key"))
    const file = fs.readFileSync(samples.small.legacy)
    for (const chunkSize of [1, 2, 3, 7, 513, 530, 531, file.length]) {
      const chunks: Array<Uint8Array> = []
      for (let offset = 0; offset < file.length; offset += chunkSize) chunks.push(file.subarray(offset, offset + chunkSize))
      const out = await Effect.runPromise(Stream.runCollect(decompress(decrypt(keys)(Stream.fromIterable(chunks)))))
      expect(Buffer.concat(out).equals(samples.small.content), `chunks of ${chunkSize}`).toBe(true)
    }
  })

  describe.runIf(requireCommands("docs/FORMAT.md restore recipe", "sh", "head", "tail", "tr"))("docs/FORMAT.md", () => {
    it("the openssl-only restore recipe, run as written, restores the original", () => {
      const recipe = formatRecipe()
      expect(recipe).toContain("openssl pkeyutl -decrypt")
      for (const [size, key] of [["small", pkcs1], ["large", pkcs8], ["empty", pkcs1]] as const) {
        const work = fs.mkdtempSync(path.join(dir, "recipe-"))
        fs.copyFileSync(samples[size].legacy, path.join(work, "f.gz.aes"))
        fs.copyFileSync(key, path.join(work, "backups.key"))
        fs.writeFileSync(path.join(work, "restore.sh"), `set -e\n${recipe}\n`)
        const restored = execFileSync("sh", ["restore.sh"], { cwd: work, maxBuffer: 64 * MiB, stdio: ["ignore", "pipe", "pipe"] })
        expect(restored.equals(samples[size].content), `${size} with ${path.basename(key)}`).toBe(true)
      }
    })
  })
})
