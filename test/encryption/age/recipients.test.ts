import { Effect } from "effect"
import { beforeAll, describe, expect, it } from "vitest"
import * as crypto from "node:crypto"
import { AgeDecryptor, AgeEncryptor } from "../../../src/encryption/age/file.ts"
import type { Identity, Recipient } from "../../../src/encryption/age/recipient.ts"
import { sshRsaIdentity, sshRsaRecipient } from "../../../src/encryption/age/sshRsa.ts"
import { generateSecret, x25519Identity, x25519Recipient } from "../../../src/encryption/age/x25519.ts"
import { DecryptError } from "../../../src/encryption/errors.ts"
import * as bech32 from "../../../src/encryption/age/bech32.ts"

const roundTrip = (recipients: ReadonlyArray<Recipient>, identities: ReadonlyArray<Identity>, plaintext: Buffer) => {
  const encryptor = new AgeEncryptor(recipients)
  const file = Buffer.concat([encryptor.prelude, ...encryptor.push(plaintext), ...encryptor.finish()])
  const decryptor = new AgeDecryptor(identities)
  return Buffer.concat([...decryptor.push(file), ...decryptor.finish()])
}

describe("age recipients", () => {
  let rsa: crypto.KeyPairKeyObjectResult
  beforeAll(() => {
    rsa = crypto.generateKeyPairSync("rsa", { modulusLength: 2048 })
  })
  const x25519 = generateSecret()
  const recipientOf = (secret: Uint8Array) => x25519Recipient(bech32.decode(x25519Identity(secret).recipient)!.data)

  it("X25519 and ssh-rsa each unwrap a file made for both", () => {
    const plaintext = crypto.randomBytes(100_000)
    const recipients = [recipientOf(x25519), sshRsaRecipient(rsa.publicKey)]
    expect(roundTrip(recipients, [x25519Identity(x25519)], plaintext)).toEqual(plaintext)
    expect(roundTrip(recipients, [sshRsaIdentity(rsa.privateKey)], plaintext)).toEqual(plaintext)
  })

  it("an identity no stanza is for fails with NoMatchingKey, naming both sides but no key material", () => {
    const other = generateSecret()
    let error: unknown
    try {
      roundTrip([recipientOf(x25519)], [x25519Identity(other)], Buffer.from("x"))
    } catch (e) {
      error = e
    }
    expect(error).toBeInstanceOf(DecryptError)
    expect((error as DecryptError).reason).toBe("NoMatchingKey")
    expect((error as DecryptError).message).toContain("X25519")
  })

  it("an ssh-rsa stanza with our tag that does not open is tampering, not a mismatch", () => {
    const encryptor = new AgeEncryptor([sshRsaRecipient(rsa.publicKey)])
    const file = Buffer.concat([encryptor.prelude, ...encryptor.finish()])
    const text = file.toString("latin1")
    const bodyStart = text.indexOf("\n", text.indexOf("-> ssh-rsa")) + 1
    file[bodyStart + 10] = file[bodyStart + 10] === 0x41 ? 0x42 : 0x41 // change one base64 character
    const decryptor = new AgeDecryptor([sshRsaIdentity(rsa.privateKey)])
    expect(() => decryptor.push(file)).toThrow(DecryptError)
  })

  it("keeps the file key only as long as needed", () => {
    // the prelude is the header + nonce: encrypting twice to the same recipient never repeats it
    const a = new AgeEncryptor([recipientOf(x25519)])
    const b = new AgeEncryptor([recipientOf(x25519)])
    expect(a.prelude.equals(b.prelude)).toBe(false)
    void Effect.void
  })
})
