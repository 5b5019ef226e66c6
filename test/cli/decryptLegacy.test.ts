/**
 * µbackup's `.gz.aes` files, read by `ubackup decrypt`. The files are made
 * independently of ubackup, with openssl only: RSA-OAEP(SHA-256, MGF1-SHA-256)
 * of a random AES-256 key, its length as uint16 LE, a random IV, then
 * AES-256-CTR of a gzip stream. The library's decrypt of the same files, and
 * the openssl-only restore recipe of docs/FORMAT.md, are tested in
 * test/encryption/legacy.test.ts.
 */
import { execFileSync } from "node:child_process"
import * as crypto from "node:crypto"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { binary, type Run, ubackup } from "../harness/cli.ts"
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

/** Runs `ubackup decrypt` with stdin read from a file (not a pipe): the 1 MiB block reader. */
const decryptFromFile = (args: ReadonlyArray<string>, file: string, output: string): void => {
  execFileSync("sh", ["-c", `"$0" "$@" < "$UB_IN" > "$UB_OUT"`, binary, ...args], {
    env: { ...process.env, UBACKUP_CONF: undefined, UB_IN: file, UB_OUT: output },
    stdio: ["ignore", "ignore", "pipe"]
  })
}

const expectError = (run: Run, pattern: RegExp) => {
  expect(run.code, run.stderr).toBe(1)
  expect(run.stdout.length).toBe(0)
  expect(run.stderr).toMatch(/^ubackup: error: /)
  expect(run.stderr).toMatch(pattern)
  expect(run.stderr).not.toMatch(/\n\s+at /) // no stack trace
}

describe.runIf(requireCommands("µbackup .gz.aes files", "openssl", "gzip", "xxd", "od"))("µbackup .gz.aes files", () => {
  let dir: string
  /** RSA-4096, PKCS#1 `RSA PRIVATE KEY`, as µbackup's key generation wrote it. */
  let pkcs1: string
  /** The same key as PKCS#8 `PRIVATE KEY`. */
  let pkcs8: string
  let publicPem: string
  let wrongSameSize: string
  let wrongOtherSize: string
  let ageKey: string
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
    wrongSameSize = path.join(dir, "wrong4096.key")
    wrongOtherSize = path.join(dir, "wrong2048.key")
    ageKey = path.join(dir, "age.key")
    const openssl = (...args: Array<string>) => execFileSync("openssl", args, { stdio: "pipe" })
    openssl("genrsa", "-traditional", "-out", pkcs1, "4096")
    openssl("pkcs8", "-topk8", "-nocrypt", "-in", pkcs1, "-out", pkcs8)
    openssl("rsa", "-in", pkcs1, "-pubout", "-out", publicPem)
    openssl("genrsa", "-out", wrongSameSize, "4096")
    openssl("genrsa", "-out", wrongOtherSize, "2048")
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

  beforeAll(async () => {
    // an age X25519 identity file (AGE-SECRET-KEY-1…), as age-keygen writes it
    const generated = await ubackup(["decryption-key-generate", "--type", "x25519"])
    expect(generated.code, generated.stderr).toBe(0)
    fs.writeFileSync(ageKey, generated.stdout)
  })

  afterAll(() => {
    if (dir !== undefined) fs.rmSync(dir, { recursive: true, force: true })
  })

  for (const [label, key] of [["PKCS#1", () => pkcs1], ["PKCS#8", () => pkcs8]] as const) {
    for (const size of ["empty", "small", "large"] as const) {
      it(`decrypt with the ${label} key gives the original (${size})`, async () => {
        const sample = samples[size]
        const run = await ubackup(["decrypt", key()], { input: fs.readFileSync(sample.legacy) })
        expect(run.code, run.stderr).toBe(0)
        // restored, with a warning that nothing in this format detects tampering
        expect(run.stderr).toMatch(/^ubackup: warning: this is a µbackup \.gz\.aes backup: its encryption \(AES-CTR\) is not authenticated/)
        expect(run.stdout.length).toBe(sample.content.length)
        expect(run.stdout.equals(sample.content)).toBe(true)
      })
    }
  }

  it("decrypt reads a stdin that is a regular file (the block reader) just as well", () => {
    const output = path.join(dir, "large.out")
    decryptFromFile(["decrypt", pkcs1], samples.large.legacy, output)
    expect(fs.readFileSync(output).equals(samples.large.content)).toBe(true)
  })

  it("--raw gives the gzip stream, byte for byte", async () => {
    for (const sample of Object.values(samples)) {
      const run = await ubackup(["decrypt", "--raw", pkcs8], { input: fs.readFileSync(sample.legacy) })
      expect(run.code, run.stderr).toBe(0)
      expect(run.stdout.equals(fs.readFileSync(`${sample.legacy}.gz`))).toBe(true)
    }
  })

  it("the wrong RSA key (same size): a clear error, exit 1, nothing on stdout", async () => {
    const run = await ubackup(["decrypt", wrongSameSize], { input: fs.readFileSync(samples.small.legacy) })
    expectError(run, /RSA key does not open this µbackup \(\.gz\.aes\) backup/)
  })

  it("the wrong RSA key (another size): a clear error, exit 1", async () => {
    const run = await ubackup(["decrypt", wrongOtherSize], { input: fs.readFileSync(samples.small.legacy) })
    expectError(run, /µbackup \(\.gz\.aes\) backup for an RSA key of another size/)
  })

  it("an age X25519 key file: the error says it needs the RSA key", async () => {
    const run = await ubackup(["decrypt", ageKey], { input: fs.readFileSync(samples.large.legacy) })
    expectError(run, /µbackup \(\.gz\.aes\) backup, which needs the RSA private key/)
  })

  it("a file cut inside its header is reported truncated; one cut in the gzip stream fails", async () => {
    const file = fs.readFileSync(samples.small.legacy)
    const header = await ubackup(["decrypt", pkcs1], { input: file.subarray(0, 2 + 512 + 10) })
    expectError(header, /truncated/)
    const body = await ubackup(["decrypt", pkcs1], { input: file.subarray(0, file.length - 10) })
    // (what was decompressed before the cut may have reached stdout: µbackup's format is not authenticated)
    expect(body.code).toBe(1)
    expect(body.stderr).toMatch(/^(ubackup: warning: this is a µbackup \.gz\.aes backup[^\n]*\n)?ubackup: error: decompression failed: unexpected end of file\n$/)
  })
})
