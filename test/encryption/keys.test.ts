/**
 * Key strings through the library: parseRecipient (what a config may name)
 * and parseDecryptionKeys (what decrypt reads), over keys made by
 * generateDecryptionKey and ssh-keygen. Every refusal is a KeyError whose
 * message names the source, and holds no key material. The key verbs of the
 * CLI are tested in test/cli/keys.test.ts.
 */
import { Effect } from "effect"
import { execFileSync } from "node:child_process"
import * as crypto from "node:crypto"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { KeyError } from "../../src/encryption/errors.ts"
import { generateDecryptionKey, parseDecryptionKeys, parseRecipient } from "../../src/encryption/keys.ts"
import { hasCommand } from "../harness/tools.ts"

const hasSshKeygen = hasCommand("ssh-keygen")

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

/** The SSH wire string: uint32 length, bytes. */
const sshString = (bytes: Uint8Array) => {
  const length = Buffer.alloc(4)
  length.writeUInt32BE(bytes.length)
  return Buffer.concat([length, bytes])
}
/** An mpint from unsigned big-endian bytes: 0x00 in front when the top bit is set. */
const sshMpint = (unsigned: Buffer) => sshString(unsigned[0]! & 0x80 ? Buffer.concat([Buffer.of(0), unsigned]) : unsigned)

/** `ssh-rsa AAAA…`, built here from the key's modulus and exponent (RFC 4253 §6.6). */
const sshRsaLine = (publicKey: crypto.KeyObject) => {
  const jwk = publicKey.export({ format: "jwk" })
  const wire = Buffer.concat([
    sshString(Buffer.from("ssh-rsa")),
    sshMpint(Buffer.from(jwk.e!, "base64url")),
    sshMpint(Buffer.from(jwk.n!, "base64url"))
  ])
  return `ssh-rsa ${wire.toString("base64")} user@host`
}

const refusal = <A>(effect: Effect.Effect<A, KeyError>) => Effect.runPromise(Effect.flip(effect))

describe("keys", () => {
  let dir: string
  /** From generateDecryptionKey("rsa"), as `decryption-key-generate` prints it: RSA-4096, PKCS#1. */
  let rsaKey: string
  let rsaKeyFile: string
  /** The same key as PKCS#8. */
  let rsaPkcs8: string
  /** From generateDecryptionKey("x25519"), as `decryption-key-generate --type x25519` prints it. */
  let ageIdentity: string
  let ageRecipient: string
  let rsaPublicFile: string

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "ubackup-keys-test-"))
    const [rsa, age] = await Promise.all([
      Effect.runPromise(generateDecryptionKey("rsa")),
      Effect.runPromise(generateDecryptionKey("x25519"))
    ])
    rsaKey = rsa
    ageIdentity = age
    rsaKeyFile = path.join(dir, "rsa.key")
    fs.writeFileSync(rsaKeyFile, rsaKey, { mode: 0o600 })
    rsaPkcs8 = crypto.createPrivateKey(rsaKey).export({ type: "pkcs8", format: "pem" }).toString()
    ageRecipient = /^# public key: (age1\S+)$/m.exec(ageIdentity)?.[1] ?? ""
    rsaPublicFile = path.join(dir, "rsa.pub")
    fs.writeFileSync(rsaPublicFile, crypto.createPublicKey(rsaKey).export({ type: "pkcs1", format: "pem" }))
  })

  afterAll(() => {
    if (dir !== undefined) fs.rmSync(dir, { recursive: true, force: true })
  })

  describe("library: parseRecipient", () => {
    it("accepts an age1 recipient, an ssh-rsa line, PKCS#1 and SPKI PEM public keys", async () => {
      const publicKey = crypto.createPublicKey(rsaKey)
      const age = await Effect.runPromise(parseRecipient(ageRecipient, "r"))
      expect(age.label).toMatch(/^X25519 age1/)
      const rsaForms = [
        sshRsaLine(publicKey),
        publicKey.export({ type: "pkcs1", format: "pem" }).toString(),
        publicKey.export({ type: "spki", format: "pem" }).toString()
      ]
      const labels = await Promise.all(rsaForms.map((text) => Effect.runPromise(parseRecipient(text, "r")).then((r) => r.label)))
      // one key, one fingerprint, whatever the form
      expect(new Set(labels).size).toBe(1)
      expect(labels[0]).toMatch(/^RSA-4096 \(ssh-rsa [A-Za-z0-9+/]{6}\)$/)
    })

    it.runIf(hasSshKeygen)("ssh-keygen's ssh-rsa line is the same key as the PEM", async () => {
      const line = execFileSync("ssh-keygen", ["-y", "-f", rsaKeyFile]).toString()
      expect(line).toMatch(/^ssh-rsa AAAA/)
      const [fromSsh, fromPem] = await Promise.all([
        Effect.runPromise(parseRecipient(line, "r")),
        Effect.runPromise(parseRecipient(fs.readFileSync(rsaPublicFile, "utf8"), "r"))
      ])
      expect(fromSsh.label).toBe(fromPem.label)
    })

    it("an age1 recipient with a bad checksum", async () => {
      const last = ageRecipient.at(-1)!
      const bad = ageRecipient.slice(0, -1) + (last === "q" ? "p" : "q")
      const error = await refusal(parseRecipient(bad, "encryption_recipients[0]"))
      expect(error).toBeInstanceOf(KeyError)
      expect(error.source).toBe("encryption_recipients[0]")
      expect(error.message).toBe("encryption_recipients[0]: not a valid age1… X25519 recipient (bad checksum or length)")
      // a recipient with extra text is not silently cut
      await refusal(parseRecipient(`${ageRecipient} # laptop`, "r"))
    })

    it("ssh-ed25519 lines: unsupported, clearly", async () => {
      const jwk = crypto.generateKeyPairSync("ed25519").publicKey.export({ format: "jwk" })
      const wire = Buffer.concat([sshString(Buffer.from("ssh-ed25519")), sshString(Buffer.from(jwk.x!, "base64url"))])
      const error = await refusal(parseRecipient(`ssh-ed25519 ${wire.toString("base64")} user@host`, "r"))
      expect(error.message).toBe("r: ssh-ed25519 keys are not supported; use ssh-rsa, RSA PEM or age1…")
    })

    it("a damaged ssh-rsa line, and an ssh-rsa key of 1024 bits", async () => {
      const line = sshRsaLine(crypto.createPublicKey(rsaKey))
      const cut = await refusal(parseRecipient(line.slice(0, 200), "r"))
      expect(cut.message).toBe("r: not a valid ssh-rsa public key line")
      const small = crypto.generateKeyPairSync("rsa", { modulusLength: 1024 }).publicKey
      const tooSmall = await refusal(parseRecipient(sshRsaLine(small), "r"))
      expect(tooSmall.message).toBe("r: RSA key of 1024 bits; at least 2048 are needed")
    })

    it("a PEM public key that is not RSA, or does not parse", async () => {
      const ed = crypto.generateKeyPairSync("ed25519").publicKey.export({ type: "spki", format: "pem" }).toString()
      expect((await refusal(parseRecipient(ed, "r"))).message).toMatch(/^r: an ED25519 key where an RSA key was expected$/)
      const broken = "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n"
      expect((await refusal(parseRecipient(broken, "r"))).message).toBe("r: PEM public key does not parse")
    })

    it("a private key where a recipient is expected is refused: PEM PKCS#1, PKCS#8, an age identity", async () => {
      const identityLine = ageIdentity.split("\n")[2]!
      for (const text of [rsaKey, rsaPkcs8, identityLine, ageIdentity]) {
        const error = await refusal(parseRecipient(text, "encryption_publickey"))
        expect(error.message).toMatch(/^encryption_publickey: this is a private key: the machine that takes backups must only hold the public key/)
        expectNoKeyMaterial(error.message, text)
      }
    })

    it("empty text and garbage", async () => {
      expect((await refusal(parseRecipient("  \n", "r"))).message).toBe("r: empty key")
      const garbage = await refusal(parseRecipient("SECRETGARBAGE", "r"))
      expect(garbage.message).toBe("r: not a key: expected age1…, ssh-rsa … or a PEM RSA public key")
    })
  })

  describe("library: parseDecryptionKeys", () => {
    it("RSA PKCS#1 and PKCS#8: one RSA key, its PKCS#1 public key", async () => {
      const expected = crypto.createPublicKey(rsaKey).export({ type: "pkcs1", format: "pem" }).toString().trim()
      for (const text of [rsaKey, rsaPkcs8, rsaKey.replace(/\n/g, "\r\n")]) {
        const keys = await Effect.runPromise(parseDecryptionKeys(text, "k"))
        expect(keys.rsaPrivateKeys).toHaveLength(1)
        expect(keys.identities).toHaveLength(1)
        expect(keys.encryptionKeys).toEqual([expected])
      }
    })

    it("age identity files: comments, blank lines, several identities", async () => {
      const other = await Effect.runPromise(generateDecryptionKey("x25519"))
      const otherRecipient = /^# public key: (age1\S+)$/m.exec(other)?.[1]
      const keys = await Effect.runPromise(parseDecryptionKeys(`${ageIdentity}\n   \n${other.replace(/\n/g, "\r\n")}`, "k"))
      expect(keys.rsaPrivateKeys).toHaveLength(0)
      expect(keys.encryptionKeys).toEqual([ageRecipient, otherRecipient])
    })

    it("refusals name the file and the line, never the key", async () => {
      const identityLine = ageIdentity.split("\n")[2]!
      const cases: Array<[string, string]> = [
        ["", "k: no key found (empty file)"],
        ["# nothing\n", "k: no key found (empty file)"],
        [`# c\n${identityLine.toLowerCase()}\n`, "k line 2: not an AGE-SECRET-KEY-1… identity or a PEM RSA private key"],
        [`${identityLine}\n${ageRecipient}\n`, "k line 2: this is an age recipient (public key): decrypting needs the AGE-SECRET-KEY-1… identity"],
        [`AGE-SECRET-KEY-PQ-1${identityLine.slice(16)}\n`, "k line 1: post-quantum age identities are not supported"],
        [`${identityLine} trailing\n`, "k line 1: not an AGE-SECRET-KEY-1… identity or a PEM RSA private key"]
      ]
      for (const [text, message] of cases) {
        const error = await refusal(parseDecryptionKeys(text, "k"))
        expect(error.message).toBe(message)
        expectNoKeyMaterial(error.message, ageIdentity)
      }
      const ec = crypto.generateKeyPairSync("ec", { namedCurve: "P-256" }).privateKey.export({ type: "sec1", format: "pem" }).toString()
      expect((await refusal(parseDecryptionKeys(ec, "k"))).message).toBe('k: unsupported PEM block "EC PRIVATE KEY"')
    })
  })
})
