/**
 * verifyBackup and latestBackup (src/api/verify.ts) over storage in memory:
 * the plaintext's size and SHA-256, the first damage as a typed error, and
 * a service without backups.
 */
import { Effect, Layer, Stream } from "effect"
import * as crypto from "node:crypto"
import { describe, expect, it } from "vitest"
import * as Ubackup from "../../src/api/Ubackup.ts"
import { latestBackup, NoBackups, verifyBackup } from "../../src/api/verify.ts"
import { Compression, makeCompression } from "../../src/compression/Compression.ts"
import { Encryption, makeEncryption } from "../../src/encryption/Encryption.ts"
import { DecryptError } from "../../src/encryption/errors.ts"
import { generateDecryptionKey, parseDecryptionKeys, parseRecipient } from "../../src/encryption/keys.ts"
import { memoryStorage } from "../harness/fakes.ts"

describe("verifyBackup", () => {
  it("gives the plaintext's size and SHA-256; a flipped byte is a Tampered DecryptError; no backups is NoBackups", async () => {
    const identity = await Effect.runPromise(generateDecryptionKey("x25519"))
    const keys = await Effect.runPromise(parseDecryptionKeys(identity, "test key"))
    const storage = memoryStorage()
    const stages = Layer.mergeAll(
      storage.layer,
      Layer.succeed(Compression, makeCompression({ algorithm: "zstd" })),
      Layer.effect(Encryption, Effect.map(parseRecipient(keys.encryptionKeys[0]!, "test"), (r) => makeEncryption([r])))
    )
    const plaintext = Buffer.concat([Buffer.from("row\n".repeat(100_000)), crypto.randomBytes(300_000)])
    const result = await Effect.gen(function*() {
      const ubackup = yield* Ubackup.Ubackup
      const stored = yield* ubackup.backupStream({ service: "db", taskId: "1", stream: Stream.make(plaintext) })
      const latest = yield* latestBackup("db")
      const good = yield* verifyBackup(latest.id, keys)
      // damage the stored object in place
      const object = storage.objects.get(stored.id)!
      const bytes = Buffer.from(object.bytes)
      bytes[Math.floor(bytes.length / 3)]! ^= 1 // in a chunk before the last
      storage.objects.set(stored.id, { ...object, bytes })
      const damaged = yield* Effect.flip(verifyBackup(stored.id, keys))
      const none = yield* Effect.flip(latestBackup("web"))
      return { stored, latest, good, damaged, none }
    }).pipe(Effect.provide(Layer.provideMerge(Ubackup.layer, stages)), Effect.runPromise)

    expect(result.latest.id).toBe(result.stored.id)
    expect(result.good).toMatchObject({
      id: result.stored.id,
      storedBytes: result.stored.size,
      plaintextBytes: plaintext.length,
      sha256: crypto.createHash("sha256").update(plaintext).digest("hex")
    })
    expect(result.damaged).toBeInstanceOf(DecryptError)
    expect((result.damaged as DecryptError).reason).toBe("Tampered")
    expect(result.none).toEqual(new NoBackups({ service: "web" }))
  })
})
