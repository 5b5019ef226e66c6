/**
 * The `ssh-rsa` recipient type of age (filippo.io/age/agessh): the file key
 * sealed with RSA-OAEP-SHA-256 under the label "age-encryption.org/v1/ssh-rsa",
 * and a stanza argument naming the key by the first 4 bytes of the SHA-256 of
 * its SSH wire encoding. It lets µbackup's RSA-4096 key pairs keep working,
 * and the real `age -d -i key.pem` opens what we write.
 */
import * as crypto from "node:crypto"
import { DecryptError } from "../errors.ts"
import { decodeRaw, encodeRaw } from "./base64.ts"
import { fileKeySize } from "./header.ts"
import type { Identity, Recipient } from "./recipient.ts"

const oaepLabel = Buffer.from("age-encryption.org/v1/ssh-rsa")

const sshString = (bytes: Uint8Array): Buffer => {
  const length = Buffer.alloc(4)
  length.writeUInt32BE(bytes.length)
  return Buffer.concat([length, bytes])
}

/** SSH mpint: big-endian, minimal, with a 0x00 in front when the top bit is set. */
const sshMpint = (unsigned: Uint8Array): Buffer => {
  let start = 0
  while (start < unsigned.length - 1 && unsigned[start] === 0) start++
  const digits = unsigned.subarray(start)
  return sshString((digits[0]! & 0x80) !== 0 ? Buffer.concat([Buffer.of(0), digits]) : digits)
}

/** The key in the SSH wire format (RFC 4253 6.6): what `ssh-rsa AAAA…` lines carry. */
export const sshWireEncoding = (publicKey: crypto.KeyObject): Buffer => {
  const jwk = publicKey.export({ format: "jwk" })
  return Buffer.concat([
    sshString(Buffer.from("ssh-rsa")),
    sshMpint(Buffer.from(jwk.e!, "base64url")),
    sshMpint(Buffer.from(jwk.n!, "base64url"))
  ])
}

/** The `ssh-rsa AAAA…` line for a public key. */
export const sshPublicKeyLine = (publicKey: crypto.KeyObject): string =>
  `ssh-rsa ${sshWireEncoding(publicKey).toString("base64")}`

const fingerprint = (publicKey: crypto.KeyObject): string =>
  encodeRaw(crypto.createHash("sha256").update(sshWireEncoding(publicKey)).digest().subarray(0, 4))

const describe = (publicKey: crypto.KeyObject, tag: string) =>
  `RSA-${publicKey.asymmetricKeyDetails?.modulusLength ?? "?"} (ssh-rsa ${tag})`

export const sshRsaRecipient = (publicKey: crypto.KeyObject): Recipient => {
  const tag = fingerprint(publicKey)
  return {
    label: describe(publicKey, tag),
    wrap: (fileKey) => [{
      type: "ssh-rsa",
      args: [tag],
      body: crypto.publicEncrypt(
        { key: publicKey, padding: crypto.constants.RSA_PKCS1_OAEP_PADDING, oaepHash: "sha256", oaepLabel },
        fileKey
      )
    }]
  }
}

export const sshRsaIdentity = (privateKey: crypto.KeyObject): Identity => {
  const publicKey = crypto.createPublicKey(privateKey)
  const tag = fingerprint(publicKey)
  // RSA-OAEP output is as long as the modulus in whole bytes: a 2050-bit key writes 257
  const modulusBytes = Math.ceil((publicKey.asymmetricKeyDetails?.modulusLength ?? 0) / 8)
  return {
    label: describe(publicKey, tag),
    unwrap: (stanzas) => {
      for (const stanza of stanzas) {
        if (stanza.type !== "ssh-rsa") continue
        if (stanza.args.length !== 1 || decodeRaw(stanza.args[0]!)?.length !== 4) {
          throw new DecryptError({ reason: "Malformed", detail: "malformed ssh-rsa stanza" })
        }
        if (stanza.args[0] !== tag) continue
        let fileKey: Buffer | undefined
        try {
          if (stanza.body.length === modulusBytes) {
            fileKey = crypto.privateDecrypt(
              { key: privateKey, padding: crypto.constants.RSA_PKCS1_OAEP_PADDING, oaepHash: "sha256", oaepLabel },
              stanza.body
            )
          }
        } catch {
          fileKey = undefined
        }
        if (fileKey === undefined || fileKey.length !== fileKeySize) {
          throw new DecryptError({
            reason: "Tampered",
            detail: `the ssh-rsa stanza for ${describe(publicKey, tag)} does not open: the header was tampered with`
          })
        }
        return fileKey
      }
      return undefined
    }
  }
}
