/**
 * Key files and key strings: what users paste into the config and keep in
 * `backups.key`. Parsing names the source (file or config field) in every
 * error and never echoes key material.
 */
import { Clock, Effect } from "effect"
import * as crypto from "node:crypto"
import { promisify } from "node:util"
import type { Identity, Recipient } from "./age/recipient.ts"
import { sshRsaIdentity, sshRsaRecipient } from "./age/sshRsa.ts"
import * as bech32 from "./age/bech32.ts"
import {
  encodeIdentity,
  generateSecret,
  identityPrefix,
  recipientPrefix,
  x25519Identity,
  x25519Recipient
} from "./age/x25519.ts"
import { KeyError } from "./errors.ts"

export type KeyType = "rsa" | "x25519"
export const minimumRsaBits = 2048

/** What a decryption key file yields: age identities, and the RSA keys that also open µbackup files. */
export interface DecryptionKeys {
  readonly identities: ReadonlyArray<Identity>
  readonly rsaPrivateKeys: ReadonlyArray<crypto.KeyObject>
  /** The matching public keys, in the form `decryption-key-to-encryption-key` prints. */
  readonly encryptionKeys: ReadonlyArray<string>
}

const pemLabel = (text: string): string | undefined => /-----BEGIN ([A-Z0-9 ]+)-----/.exec(text)?.[1]

const rsaBits = (key: crypto.KeyObject) => key.asymmetricKeyDetails?.modulusLength ?? 0

const checkRsa = (key: crypto.KeyObject, source: string) =>
  key.asymmetricKeyType !== "rsa"
    ? Effect.fail(new KeyError({ source, reason: `an ${key.asymmetricKeyType?.toUpperCase()} key where an RSA key was expected` }))
    : rsaBits(key) < minimumRsaBits
    ? Effect.fail(new KeyError({ source, reason: `RSA key of ${rsaBits(key)} bits; at least ${minimumRsaBits} are needed` }))
    : Effect.succeed(key)

/** Reads one SSH wire string (uint32 length + bytes) at `offset`. */
const readSshString = (wire: Buffer, offset: number): [Buffer, number] | undefined => {
  if (offset + 4 > wire.length) return undefined
  const length = wire.readUInt32BE(offset)
  if (offset + 4 + length > wire.length) return undefined
  return [wire.subarray(offset + 4, offset + 4 + length), offset + 4 + length]
}

const parseSshRsaLine = (line: string, source: string) =>
  Effect.gen(function*() {
    const invalid = new KeyError({ source, reason: "not a valid ssh-rsa public key line" })
    const encoded = line.trim().split(/\s+/)[1]
    if (encoded === undefined) return yield* invalid
    const wire = Buffer.from(encoded, "base64")
    const type = readSshString(wire, 0)
    const exponent = type && readSshString(wire, type[1])
    const modulus = exponent && readSshString(wire, exponent[1])
    if (!type || !exponent || !modulus || type[0].toString() !== "ssh-rsa" || modulus[1] !== wire.length) {
      return yield* invalid
    }
    const unsigned = (b: Buffer) => (b[0] === 0 ? b.subarray(1) : b).toString("base64url")
    const key = yield* Effect.try({
      try: () => crypto.createPublicKey({ key: { kty: "RSA", n: unsigned(modulus[0]), e: unsigned(exponent[0]) }, format: "jwk" }),
      catch: () => invalid
    })
    return yield* checkRsa(key, source)
  })

const privateKeyAsRecipient =
  "this is a private key: the machine that takes backups must only hold the public key (see decryption-key-to-encryption-key)"

/**
 * One recipient: an `age1…` X25519 recipient, an `ssh-rsa AAAA…` line, or a
 * PEM RSA public key (PKCS#1 `RSA PUBLIC KEY` or SPKI `PUBLIC KEY`).
 */
export const parseRecipient = (text: string, source: string): Effect.Effect<Recipient, KeyError> =>
  Effect.gen(function*() {
    const trimmed = text.trim()
    if (trimmed === "") return yield* new KeyError({ source, reason: "empty key" })
    if (trimmed.startsWith(`${recipientPrefix}1`)) {
      const decoded = bech32.decode(trimmed)
      if (decoded?.prefix !== recipientPrefix || decoded.data.length !== 32) {
        return yield* new KeyError({ source, reason: "not a valid age1… X25519 recipient (bad checksum or length)" })
      }
      return x25519Recipient(decoded.data)
    }
    if (/^ssh-rsa\s/.test(trimmed)) return sshRsaRecipient(yield* parseSshRsaLine(trimmed, source))
    if (trimmed.startsWith("ssh-")) {
      return yield* new KeyError({ source, reason: `${trimmed.split(/\s/)[0]} keys are not supported; use ssh-rsa, RSA PEM or age1…` })
    }
    // an age identity pasted where its recipient belongs: say so, as for a PEM private key
    if (trimmed.toUpperCase().includes(identityPrefix)) return yield* new KeyError({ source, reason: privateKeyAsRecipient })
    const label = pemLabel(trimmed)
    if (label === undefined) {
      return yield* new KeyError({ source, reason: "not a key: expected age1…, ssh-rsa … or a PEM RSA public key" })
    }
    if (label !== "RSA PUBLIC KEY" && label !== "PUBLIC KEY") {
      return yield* new KeyError({
        source,
        reason: label.includes("PRIVATE") ? privateKeyAsRecipient : `unsupported PEM block "${label}"`
      })
    }
    const key = yield* Effect.try({
      try: () => crypto.createPublicKey(trimmed),
      catch: () => new KeyError({ source, reason: "PEM public key does not parse" })
    })
    return sshRsaRecipient(yield* checkRsa(key, source))
  })

const rsaPublicPem = (publicKey: crypto.KeyObject) => publicKey.export({ type: "pkcs1", format: "pem" }).toString().trim()

const parsePemPrivateKey = (text: string, label: string, source: string) =>
  Effect.gen(function*() {
    if (label === "ENCRYPTED PRIVATE KEY" || text.includes("Proc-Type: 4,ENCRYPTED")) {
      return yield* new KeyError({
        source,
        reason: "the key is passphrase-protected; write an unprotected copy with `openssl pkey -in KEY -out PLAIN.pem`"
      })
    }
    if (label === "OPENSSH PRIVATE KEY") {
      return yield* new KeyError({
        source,
        reason: "OpenSSH's own key format is not supported; convert a copy with `ssh-keygen -p -m PEM -f COPY`"
      })
    }
    if (label !== "RSA PRIVATE KEY" && label !== "PRIVATE KEY") {
      return yield* new KeyError({
        source,
        reason: label.includes("PUBLIC")
          ? "this is a public key: decrypting needs the private key"
          : `unsupported PEM block "${label}"`
      })
    }
    const key = yield* Effect.try({
      try: () => crypto.createPrivateKey(text),
      catch: () => new KeyError({ source, reason: "PEM private key does not parse" })
    })
    return yield* checkRsa(key, source)
  })

/**
 * A decryption key file: a PEM RSA private key (PKCS#1 or PKCS#8, as µbackup
 * wrote them) or an age identity file (`AGE-SECRET-KEY-1…` lines, `#` comments).
 */
export const parseDecryptionKeys = (text: string, source: string): Effect.Effect<DecryptionKeys, KeyError> =>
  Effect.gen(function*() {
    const label = pemLabel(text)
    if (label !== undefined) {
      const privateKey = yield* parsePemPrivateKey(text.trim(), label, source)
      const publicKey = crypto.createPublicKey(privateKey)
      return { identities: [sshRsaIdentity(privateKey)], rsaPrivateKeys: [privateKey], encryptionKeys: [rsaPublicPem(publicKey)] }
    }
    const identities: Array<ReturnType<typeof x25519Identity>> = []
    for (const [index, raw] of text.split("\n").entries()) {
      const line = raw.trim()
      if (line === "" || line.startsWith("#")) continue
      const where = `${source} line ${index + 1}`
      if (line.startsWith(`${identityPrefix}PQ-`)) {
        return yield* new KeyError({ source: where, reason: "post-quantum age identities are not supported" })
      }
      const decoded = bech32.decode(line)
      if (decoded?.prefix !== identityPrefix.toLowerCase() || decoded.data.length !== 32 || line !== line.toUpperCase()) {
        return yield* new KeyError({
          source: where,
          reason: line.startsWith(`${recipientPrefix}1`)
            ? "this is an age recipient (public key): decrypting needs the AGE-SECRET-KEY-1… identity"
            : "not an AGE-SECRET-KEY-1… identity or a PEM RSA private key"
        })
      }
      identities.push(x25519Identity(decoded.data))
    }
    if (identities.length === 0) return yield* new KeyError({ source, reason: "no key found (empty file)" })
    return { identities, rsaPrivateKeys: [], encryptionKeys: identities.map((i) => i.recipient) }
  })

/** A new decryption key file: RSA-4096 PKCS#1 PEM as µbackup wrote, or an age identity as age-keygen writes. */
export const generateDecryptionKey = (type: KeyType): Effect.Effect<string> =>
  type === "rsa"
    ? Effect.promise(() => promisify(crypto.generateKeyPair)("rsa", { modulusLength: 4096, publicExponent: 0x10001 })).pipe(
      Effect.map(({ privateKey }) => privateKey.export({ type: "pkcs1", format: "pem" }).toString())
    )
    : Effect.map(Clock.currentTimeMillis, (now) => {
      const secret = generateSecret()
      const { recipient } = x25519Identity(secret)
      const created = new Date(now).toISOString().replace(/\.\d+Z$/, "Z")
      return `# created: ${created}\n# public key: ${recipient}\n${encodeIdentity(secret)}\n`
    })
