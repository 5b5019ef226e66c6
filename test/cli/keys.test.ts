/**
 * Key files through the real CLI: decryption-key-generate,
 * decryption-key-to-encryption-key and decrypt. Keys are checked against
 * openssl, age-keygen and ssh-keygen. Every refusal exits 1 with one clear
 * line that names the bad file, no stack trace, and no key material. The
 * library's parsers (parseRecipient, parseDecryptionKeys) are tested in
 * test/encryption/keys.test.ts.
 */
import { execFileSync } from "node:child_process"
import * as crypto from "node:crypto"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { type Run, ubackup } from "../harness/cli.ts"
import { hasCommand, requireCommands } from "../harness/tools.ts"

const hasOpenssl = requireCommands("key tests against openssl", "openssl")
const hasAgeKeygen = requireCommands("key tests against age-keygen", "age-keygen")
const hasSshKeygen = hasCommand("ssh-keygen")

const openssl = (args: ReadonlyArray<string>, input?: string): string =>
  execFileSync("openssl", args, { input: input ?? "", stdio: ["pipe", "pipe", "pipe"] }).toString()

/** Lines of a key file that carry key material: PEM base64 lines, age identities. */
const secretLines = (keyText: string): Array<string> =>
  keyText
    .split("\n")
    .map((line) => line.trim())
    .filter((line) => /^[A-Za-z0-9+/=]{16,}$/.test(line) || line.startsWith("AGE-SECRET-KEY-"))

/** No line of key material, nor a 24-character piece of one, in `output`. */
const expectNoKeyMaterial = (output: string, keyText: string) => {
  for (const line of secretLines(keyText)) {
    expect(output).not.toContain(line)
    for (let start = 0; start + 24 <= line.length; start += 12) expect(output).not.toContain(line.slice(start, start + 24))
  }
}

/** Exit 1, nothing on stdout, one message on stderr that matches, no stack trace. */
const expectRefusal = (run: Run, pattern: RegExp, options: { names?: string; keyText?: string } = {}) => {
  expect(run.code, run.stderr).toBe(1)
  expect(run.stdout.length).toBe(0)
  expect(run.stderr).toMatch(/^ubackup: error: /)
  expect(run.stderr).toMatch(pattern)
  expect(run.stderr).not.toMatch(/\n\s+at /)
  expect(run.stderr).not.toMatch(/Error:|TypeError|\.ts:\d+/)
  if (options.names !== undefined) expect(run.stderr).toContain(`${options.names}: `)
  if (options.keyText !== undefined) expectNoKeyMaterial(run.stderr, options.keyText)
}

describe("keys", () => {
  let dir: string
  /** From `ubackup decryption-key-generate`: RSA-4096, PKCS#1. */
  let rsaKey: string
  let rsaKeyFile: string
  /** The same key as PKCS#8. */
  let rsaPkcs8: string
  /** From `ubackup decryption-key-generate --type x25519`. */
  let ageIdentity: string
  let ageIdentityFile: string
  let ageRecipient: string
  let ageRecipientFile: string
  let rsaPublicFile: string
  /** An age backup of `backupPlaintext` made by `manual-backup`, for ageIdentity. */
  let backupFile: string
  const backupPlaintext = Buffer.from("a backup to open\n".repeat(500))

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "ubackup-keys-test-"))
    const [rsa, age] = await Promise.all([
      ubackup(["decryption-key-generate"]),
      ubackup(["decryption-key-generate", "--type", "x25519"])
    ])
    expect(rsa.code, rsa.stderr).toBe(0)
    expect(age.code, age.stderr).toBe(0)
    rsaKey = rsa.stdout.toString()
    ageIdentity = age.stdout.toString()
    rsaKeyFile = path.join(dir, "rsa.key")
    ageIdentityFile = path.join(dir, "age.key")
    fs.writeFileSync(rsaKeyFile, rsaKey, { mode: 0o600 })
    fs.writeFileSync(ageIdentityFile, ageIdentity, { mode: 0o600 })
    rsaPkcs8 = crypto.createPrivateKey(rsaKey).export({ type: "pkcs8", format: "pem" }).toString()
    ageRecipient = /^# public key: (age1\S+)$/m.exec(ageIdentity)?.[1] ?? ""
    ageRecipientFile = path.join(dir, "age.pub")
    fs.writeFileSync(ageRecipientFile, `${ageRecipient}\n`)
    rsaPublicFile = path.join(dir, "rsa.pub")
    fs.writeFileSync(rsaPublicFile, crypto.createPublicKey(rsaKey).export({ type: "pkcs1", format: "pem" }))

    const config = path.join(dir, "config.json")
    fs.writeFileSync(config, JSON.stringify({ encryption_recipients: [ageRecipient], storage: { local: { path: "backups" } } }))
    const backup = await ubackup(["manual-backup", "keys", "task1", "--config", config], { input: backupPlaintext })
    expect(backup.code, backup.stderr).toBe(0)
    backupFile = path.join(dir, "backups", backup.stdout.toString().trim())
  })

  afterAll(() => {
    if (dir !== undefined) fs.rmSync(dir, { recursive: true, force: true })
  })

  describe("decryption-key-generate", () => {
    it("default: an RSA-4096 PKCS#1 PEM private key", () => {
      expect(rsaKey).toMatch(/^-----BEGIN RSA PRIVATE KEY-----\n[A-Za-z0-9+/=\n]+-----END RSA PRIVATE KEY-----\n$/)
      const key = crypto.createPrivateKey(rsaKey)
      expect(key.asymmetricKeyType).toBe("rsa")
      expect(key.asymmetricKeyDetails?.modulusLength).toBe(4096)
      expect(key.asymmetricKeyDetails?.publicExponent).toBe(65537n)
    })

    it.runIf(hasOpenssl)("openssl reads it as a consistent 4096-bit RSA key", () => {
      const text = openssl(["rsa", "-check", "-noout", "-text"], rsaKey)
      expect(text).toContain("Private-Key: (4096 bit")
      expect(text).toContain("RSA key ok")
    })

    it("--type x25519: an age identity file as age-keygen writes it", () => {
      const lines = ageIdentity.split("\n")
      expect(lines).toHaveLength(4)
      expect(lines[0]).toMatch(/^# created: \d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/)
      expect(lines[1]).toMatch(/^# public key: age1[02-9ac-hj-np-z]{58}$/)
      expect(lines[2]).toMatch(/^AGE-SECRET-KEY-1[02-9AC-HJ-NP-Z]{58}$/)
      expect(lines[3]).toBe("")
    })

    it("two keys are never the same", async () => {
      const again = await ubackup(["decryption-key-generate", "--type", "x25519"])
      expect(again.code, again.stderr).toBe(0)
      expect(again.stdout.toString().split("\n")[2]).not.toBe(ageIdentity.split("\n")[2])
    })

    it.runIf(hasAgeKeygen)("age-keygen -y derives the recipient the comment names", () => {
      const derived = execFileSync("age-keygen", ["-y", ageIdentityFile]).toString().trim()
      expect(derived).toBe(ageRecipient)
    })
  })

  describe("decryption-key-to-encryption-key", () => {
    it.runIf(hasOpenssl)("PKCS#1 and PKCS#8 RSA keys: the RSA PUBLIC KEY that openssl -RSAPublicKey_out prints", async () => {
      const expected = openssl(["rsa", "-RSAPublicKey_out"], rsaKey).trim()
      expect(expected).toMatch(/^-----BEGIN RSA PUBLIC KEY-----\n/)
      for (const input of [rsaKey, rsaPkcs8]) {
        const run = await ubackup(["decryption-key-to-encryption-key"], { input })
        expect(run.code, run.stderr).toBe(0)
        expect(run.stdout.toString()).toBe(`${expected}\n`)
        expect(run.stderr).toBe("")
      }
    })

    it.runIf(hasAgeKeygen)("age identities: the age1… recipient age-keygen -y prints", async () => {
      const fromAgeKeygen = path.join(dir, "age-keygen.key")
      fs.rmSync(fromAgeKeygen, { force: true })
      execFileSync("age-keygen", ["-o", fromAgeKeygen], { stdio: "pipe" })
      for (const file of [ageIdentityFile, fromAgeKeygen]) {
        const run = await ubackup(["decryption-key-to-encryption-key"], { input: fs.readFileSync(file) })
        expect(run.code, run.stderr).toBe(0)
        expect(run.stdout.toString()).toBe(execFileSync("age-keygen", ["-y", file]).toString())
      }
    })

    it("an empty stdin", async () => {
      expectRefusal(await ubackup(["decryption-key-to-encryption-key"], { input: "" }), /no key found/, { names: "standard input" })
    })

    it("a public key where a private key is expected: RSA PKCS#1, SPKI, an age1 recipient", async () => {
      const spki = crypto.createPublicKey(rsaKey).export({ type: "spki", format: "pem" }).toString()
      for (const input of [fs.readFileSync(rsaPublicFile, "utf8"), spki]) {
        const run = await ubackup(["decryption-key-to-encryption-key"], { input })
        expectRefusal(run, /this is a public key: decrypting needs the private key/, { names: "standard input" })
      }
      const age = await ubackup(["decryption-key-to-encryption-key"], { input: `${ageRecipient}\n` })
      expectRefusal(age, /this is an age recipient/, { names: "standard input line 1", keyText: ageRecipient })
    })

    it.runIf(hasOpenssl)("a passphrase-protected PEM: PKCS#8 (genpkey -aes256) and traditional (Proc-Type)", async () => {
      const pkcs8 = openssl(["genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-aes256", "-pass", "pass:x"])
      expect(pkcs8).toMatch(/^-----BEGIN ENCRYPTED PRIVATE KEY-----/)
      const traditional = openssl(["rsa", "-aes256", "-traditional", "-passout", "pass:x"], rsaKey)
      expect(traditional).toContain("Proc-Type: 4,ENCRYPTED")
      for (const input of [pkcs8, traditional]) {
        const run = await ubackup(["decryption-key-to-encryption-key"], { input })
        expectRefusal(run, /passphrase-protected/, { names: "standard input", keyText: input })
      }
    })

    it.runIf(hasSshKeygen)("an OpenSSH-format private key", async () => {
      const file = path.join(dir, "id_rsa")
      execFileSync("ssh-keygen", ["-q", "-t", "rsa", "-b", "2048", "-N", "", "-C", "", "-f", file])
      const input = fs.readFileSync(file, "utf8")
      expect(input).toMatch(/^-----BEGIN OPENSSH PRIVATE KEY-----/)
      const run = await ubackup(["decryption-key-to-encryption-key"], { input })
      expectRefusal(run, /OpenSSH's own key format is not supported/, { names: "standard input", keyText: input })
    })

    it("garbage, a damaged PEM and a damaged age identity", async () => {
      const garbage = await ubackup(["decryption-key-to-encryption-key"], { input: "hello world, not a key\n" })
      expectRefusal(garbage, /not an AGE-SECRET-KEY-1… identity or a PEM RSA private key/, { names: "standard input line 1" })
      expect(garbage.stderr).not.toContain("hello world")

      const lines = rsaKey.split("\n")
      const damagedPem = [...lines.slice(0, 5), ...lines.slice(6)].join("\n")
      const pem = await ubackup(["decryption-key-to-encryption-key"], { input: damagedPem })
      expectRefusal(pem, /PEM private key does not parse/, { names: "standard input", keyText: rsaKey })

      const identity = ageIdentity.split("\n")[2]!
      const flipped = identity.slice(0, -1) + (identity.endsWith("Q") ? "P" : "Q")
      const age = await ubackup(["decryption-key-to-encryption-key"], { input: `# a comment\n${flipped}\n` })
      expectRefusal(age, /not an AGE-SECRET-KEY-1… identity/, { names: "standard input line 2", keyText: flipped })
    })

    it.runIf(hasOpenssl)("an RSA key of 1024 bits is too small", async () => {
      const input = openssl(["genrsa", "1024"])
      const run = await ubackup(["decryption-key-to-encryption-key"], { input })
      expectRefusal(run, /RSA key of 1024 bits; at least 2048 are needed/, { names: "standard input", keyText: input })
    })

    it("a non-RSA PEM private key (Ed25519) is refused", async () => {
      const input = crypto.generateKeyPairSync("ed25519").privateKey.export({ type: "pkcs8", format: "pem" }).toString()
      const run = await ubackup(["decryption-key-to-encryption-key"], { input })
      expectRefusal(run, /ED25519 key where an RSA key was expected/, { names: "standard input", keyText: input })
    })
  })

  describe("RSA keys whose size is not a multiple of 8 bits", () => {
    for (const bits of [2050, 3073]) {
      it(`a ${bits}-bit key: manual-backup encrypts for it and decrypt opens it (its OAEP block is ${Math.ceil(bits / 8)} bytes)`, async () => {
        const { privateKey, publicKey } = crypto.generateKeyPairSync("rsa", { modulusLength: bits })
        const keyFile = path.join(dir, `rsa-${bits}.key`)
        fs.writeFileSync(keyFile, privateKey.export({ type: "pkcs1", format: "pem" }), { mode: 0o600 })
        const config = path.join(dir, `rsa-${bits}.json`)
        fs.writeFileSync(config, JSON.stringify({
          encryption_publickey: publicKey.export({ type: "pkcs1", format: "pem" }).toString(),
          storage: { local: { path: `backups-${bits}` } }
        }))
        const backup = await ubackup(["manual-backup", "odd", "t", "--config", config], { input: backupPlaintext })
        expect(backup.code, backup.stderr).toBe(0)
        const file = path.join(dir, `backups-${bits}`, backup.stdout.toString().trim())
        const run = await ubackup(["decrypt", keyFile], { input: fs.readFileSync(file) })
        expect(run.code, run.stderr).toBe(0)
        expect(run.stdout.equals(backupPlaintext)).toBe(true)
      })
    }
  })

  describe("decrypt: refusals", () => {
    it("the right key opens the backup (the baseline for what follows)", async () => {
      const run = await ubackup(["decrypt", ageIdentityFile], { input: fs.readFileSync(backupFile) })
      expect(run.code, run.stderr).toBe(0)
      expect(run.stdout.equals(backupPlaintext)).toBe(true)
    })

    it("the wrong key: another age identity, an RSA key", async () => {
      const other = await ubackup(["decryption-key-generate", "--type", "x25519"])
      const otherFile = path.join(dir, "other-age.key")
      fs.writeFileSync(otherFile, other.stdout)
      for (const [file, text] of [[otherFile, other.stdout.toString()], [rsaKeyFile, rsaKey]] as const) {
        const run = await ubackup(["decrypt", file], { input: fs.readFileSync(backupFile) })
        expectRefusal(run, /no key opens this backup: it is encrypted to X25519/, { keyText: text })
        expectNoKeyMaterial(run.stderr, ageIdentity)
      }
    })

    it("an age recipient file or an RSA public key given as the key file", async () => {
      const age = await ubackup(["decrypt", ageRecipientFile], { input: fs.readFileSync(backupFile) })
      expectRefusal(age, /this is an age recipient \(public key\): decrypting needs the AGE-SECRET-KEY-1… identity/, {
        names: `${ageRecipientFile} line 1`
      })
      expect(age.stderr).not.toContain(ageRecipient)
      const rsa = await ubackup(["decrypt", rsaPublicFile], { input: fs.readFileSync(backupFile) })
      expectRefusal(rsa, /this is a public key: decrypting needs the private key/, {
        names: rsaPublicFile,
        keyText: fs.readFileSync(rsaPublicFile, "utf8")
      })
    })

    it("a passphrase-protected key file is named", async () => {
      const file = path.join(dir, "protected.key")
      fs.writeFileSync(file, crypto.createPrivateKey(rsaKey).export({ type: "pkcs8", format: "pem", cipher: "aes-256-cbc", passphrase: "x" }))
      const run = await ubackup(["decrypt", file], { input: fs.readFileSync(backupFile) })
      expectRefusal(run, /passphrase-protected/, { names: file, keyText: fs.readFileSync(file, "utf8") })
    })

    it("input that is no backup: random bytes, a plain gzip file, ASCII-armored age", async () => {
      const gzip = execFileSync("gzip", ["-c"], { input: backupPlaintext })
      for (const input of [crypto.randomBytes(4096), gzip, Buffer.from("hello\n")]) {
        for (const key of [ageIdentityFile, rsaKeyFile]) {
          const run = await ubackup(["decrypt", key], { input })
          expectRefusal(run, /the input is not a backup: neither an age file \(ubackup\) nor a µbackup \.gz\.aes file/, {
            keyText: fs.readFileSync(key, "utf8")
          })
        }
      }
      const armored = await ubackup(["decrypt", ageIdentityFile], { input: "-----BEGIN AGE ENCRYPTED FILE-----\nYWdl\n" })
      expectRefusal(armored, /ASCII-armored age file/)
    })

    it("an empty stdin", async () => {
      expectRefusal(await ubackup(["decrypt", ageIdentityFile], { input: "" }), /no input: the backup is empty/)
    })

    it("a truncated backup", async () => {
      const file = fs.readFileSync(backupFile)
      for (const length of [20, 100, file.length - 1]) {
        expectRefusal(await ubackup(["decrypt", ageIdentityFile], { input: file.subarray(0, length) }), /truncated/)
      }
    })

    it("a missing key file, and a folder given as key file", async () => {
      const missing = path.join(dir, "no-such.key")
      expectRefusal(await ubackup(["decrypt", missing], { input: fs.readFileSync(backupFile) }), /file not found/, { names: missing })
      expectRefusal(await ubackup(["decrypt", dir], { input: fs.readFileSync(backupFile) }), /cannot read/, { names: dir })
    })

    it("an empty key file", async () => {
      const empty = path.join(dir, "empty.key")
      fs.writeFileSync(empty, "# only a comment\n\n")
      expectRefusal(await ubackup(["decrypt", empty], { input: fs.readFileSync(backupFile) }), /no key found/, { names: empty })
    })
  })
})
