/**
 * The native X25519 recipient type (age-encryption.org/v1, "The X25519
 * recipient type") on node:crypto.
 */
import * as crypto from "node:crypto"
import { DecryptError } from "../errors.ts"
import { decodeRaw, encodeRaw } from "./base64.ts"
import * as bech32 from "./bech32.ts"
import { fileKeySize } from "./header.ts"
import { hkdfSha256 } from "./kdf.ts"
import type { Identity, Recipient } from "./recipient.ts"

export const recipientPrefix = "age"
export const identityPrefix = "AGE-SECRET-KEY-"
const info = "age-encryption.org/v1/X25519"
const zeroNonce = Buffer.alloc(12)

// DER wrappers that turn raw 32-byte X25519 keys into node:crypto KeyObjects
const pkcs8Prefix = Buffer.from("302e020100300506032b656e04220420", "hex")
const spkiPrefix = Buffer.from("302a300506032b656e032100", "hex")

const privateKeyObject = (scalar: Uint8Array) =>
  crypto.createPrivateKey({ key: Buffer.concat([pkcs8Prefix, scalar]), format: "der", type: "pkcs8" })
const publicKeyObject = (point: Uint8Array) =>
  crypto.createPublicKey({ key: Buffer.concat([spkiPrefix, point]), format: "der", type: "spki" })
const rawPublicKey = (key: crypto.KeyObject): Buffer =>
  key.export({ format: "der", type: "spki" }).subarray(spkiPrefix.length)

const x25519 = (scalar: crypto.KeyObject, point: Uint8Array): Buffer =>
  crypto.diffieHellman({ privateKey: scalar, publicKey: publicKeyObject(point) })

const aead = (key: Uint8Array, input: Uint8Array, decrypt: boolean): Buffer | undefined => {
  if (!decrypt) {
    const cipher = crypto.createCipheriv("chacha20-poly1305", key, zeroNonce, { authTagLength: 16 })
    return Buffer.concat([cipher.update(input), cipher.final(), cipher.getAuthTag()])
  }
  const decipher = crypto.createDecipheriv("chacha20-poly1305", key, zeroNonce, { authTagLength: 16 })
  decipher.setAuthTag(input.subarray(input.length - 16))
  const out = decipher.update(input.subarray(0, input.length - 16))
  try {
    decipher.final()
    return out
  } catch {
    return undefined
  }
}

export const encodeRecipient = (publicKey: Uint8Array): string => bech32.encode(recipientPrefix, publicKey)
export const encodeIdentity = (secret: Uint8Array): string => bech32.encode(identityPrefix, secret)

export const x25519Recipient = (publicKey: Uint8Array): Recipient => {
  const text = encodeRecipient(publicKey)
  return {
    label: `X25519 ${text.slice(0, 12)}…${text.slice(-6)}`,
    wrap: (fileKey) => {
      const { privateKey: ephemeral, publicKey: ephemeralPublic } = crypto.generateKeyPairSync("x25519")
      const share = rawPublicKey(ephemeralPublic)
      const wrapKey = hkdfSha256(x25519(ephemeral, publicKey), Buffer.concat([share, publicKey]), info)
      return [{ type: "X25519", args: [encodeRaw(share)], body: aead(wrapKey, fileKey, false)! }]
    }
  }
}

export interface X25519Identity extends Identity {
  readonly recipient: string
}

export const x25519Identity = (secret: Uint8Array): X25519Identity => {
  const privateKey = privateKeyObject(secret)
  const publicKey = rawPublicKey(crypto.createPublicKey(privateKey))
  const recipient = encodeRecipient(publicKey)
  const malformed = (detail: string) =>
    new DecryptError({ reason: "Malformed", detail: `malformed X25519 stanza: ${detail}` })
  return {
    recipient,
    label: `X25519 ${recipient.slice(0, 12)}…${recipient.slice(-6)}`,
    unwrap: (stanzas) => {
      for (const stanza of stanzas) {
        if (stanza.type !== "X25519") continue
        if (stanza.args.length !== 1) throw malformed("wrong number of arguments")
        const share = decodeRaw(stanza.args[0]!)
        if (share === undefined || share.length !== 32) throw malformed("bad ephemeral share")
        if (stanza.body.length !== fileKeySize + 16) throw malformed("bad body length")
        let shared: Buffer
        try {
          shared = x25519(privateKey, share)
        } catch {
          // OpenSSL refuses to derive an all-zero secret rather than return it
          throw malformed("low-order ephemeral share")
        }
        if (shared.every((b) => b === 0)) throw malformed("low-order ephemeral share")
        const wrapKey = hkdfSha256(shared, Buffer.concat([share, publicKey]), info)
        const fileKey = aead(wrapKey, stanza.body, true)
        // a stanza for another X25519 recipient fails here: keep looking
        if (fileKey !== undefined) return fileKey
      }
      return undefined
    }
  }
}

/** A fresh identity: 32 bytes from the CSPRNG. */
export const generateSecret = (): Uint8Array => new Uint8Array(crypto.randomBytes(32))
