/**
 * The Effect API: `Ubackup.layer` over in-memory storage (the stage services
 * injected as layers), and `Ubackup.layerConfig` from a config value over a
 * real local folder, in the caller's own runtime.
 */
import { Effect, Layer, Logger, Stream } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { describe, expect, it } from "vitest"
import * as Ubackup from "../../src/api/Ubackup.ts"
import { Compression, makeCompression } from "../../src/compression/Compression.ts"
import { Encryption, makeEncryption } from "../../src/encryption/Encryption.ts"
import { generateDecryptionKey, parseDecryptionKeys, parseRecipient } from "../../src/encryption/keys.ts"
import { Hostname } from "../../src/pipeline/backup.ts"
import { memoryStorage } from "../harness/fakes.ts"

const key = async () => {
  const identity = await Effect.runPromise(generateDecryptionKey("x25519"))
  const keys = await Effect.runPromise(parseDecryptionKeys(identity, "test key"))
  return { identity, recipient: keys.encryptionKeys[0]! }
}

const plaintext = Buffer.from("the database, as the app saw it\n".repeat(50_000))
const chunks = Stream.fromIterable([plaintext.subarray(0, 700_000), plaintext.subarray(700_000)])

describe("Ubackup.layer (stage services injected)", () => {
  it("backupStream stores compressed, encrypted bytes; list, get and restore give them back", async () => {
    const { identity, recipient } = await key()
    const storage = memoryStorage()
    const stages = Layer.mergeAll(
      storage.layer,
      Layer.succeed(Compression, makeCompression({ algorithm: "zstd" })),
      Layer.effect(Encryption, Effect.map(parseRecipient(recipient, "test"), (r) => makeEncryption([r])))
    )
    const result = await Effect.gen(function*() {
      const ubackup = yield* Ubackup.Ubackup
      const stored = yield* ubackup.backupStream({ service: "app", taskId: "1", fileExtension: ".txt", stream: chunks })
      const listed = yield* ubackup.list("app")
      const services = yield* ubackup.listServices
      const raw = yield* Stream.mkUint8Array(ubackup.get(stored.id))
      const restored = yield* Stream.mkUint8Array(ubackup.restore(stored.id, identity))
      return { stored, listed, services, raw, restored, location: ubackup.location }
    }).pipe(Effect.provide(Ubackup.layer.pipe(Layer.provide(stages))), Effect.provideService(Hostname, "apphost"), Effect.runPromise)

    expect(result.stored.id).toMatch(/^app\/\d{4}-\d\d-\d\d \d{4}Z_apphost_1\.txt\.zst\.age$/)
    expect(result.stored.bytesIn).toBe(plaintext.length)
    expect(result.stored.size).toBeLessThan(plaintext.length / 10)
    expect(result.listed.map((backup) => backup.id)).toEqual([result.stored.id])
    expect(result.services).toEqual(["app"])
    expect(Buffer.from(result.raw.subarray(0, 21)).toString()).toBe("age-encryption.org/v1")
    expect(Buffer.from(result.restored).equals(plaintext)).toBe(true)
    expect(result.location).toBe("memory")
  })

  it("a failing stream or a bad name stores nothing; a wrong identity fails the restore with a DecryptError", async () => {
    const { recipient } = await key()
    const other = await key()
    const storage = memoryStorage()
    const stages = Layer.mergeAll(
      storage.layer,
      Layer.succeed(Compression, makeCompression({ algorithm: "gzip" })),
      Layer.effect(Encryption, Effect.map(parseRecipient(recipient, "test"), (r) => makeEncryption([r])))
    )
    const errors = await Effect.gen(function*() {
      const ubackup = yield* Ubackup.Ubackup
      const failing = yield* Effect.flip(ubackup.backupStream({
        service: "app",
        taskId: "1",
        stream: Stream.concat(chunks, Stream.fail("the dump broke" as const))
      }))
      const badName = yield* Effect.flip(ubackup.backupStream({ service: "../app", taskId: "1", stream: chunks }))
      const empty = yield* Effect.flip(ubackup.backupStream({ service: "app", taskId: "1", stream: Stream.empty }))
      const tooLarge = yield* Effect.flip(ubackup.backupStream({ service: "app", taskId: "1", stream: chunks, maxBytes: 1000 }))
      const stored = yield* ubackup.backupStream({ service: "app", taskId: "1", stream: chunks })
      const wrongKey = yield* Effect.flip(Stream.runDrain(ubackup.restore(stored.id, other.identity)))
      const badKey = yield* Effect.flip(Stream.runDrain(ubackup.restore(stored.id, "not a key")))
      return { failing, badName, empty, tooLarge, wrongKey, badKey }
    }).pipe(Effect.provide(Ubackup.layer.pipe(Layer.provide(stages))), Effect.runPromise)

    expect(errors.failing).toBe("the dump broke")
    expect(errors.badName._tag).toBe("InvalidBackupName")
    expect(errors.empty._tag).toBe("EmptySnapshot")
    expect(errors.tooLarge._tag).toBe("BackupTooLarge")
    expect(errors.wrongKey._tag).toBe("DecryptError")
    expect(errors.badKey._tag).toBe("KeyError")
    expect([...storage.objects.keys()]).toHaveLength(1)
  })
})

describe("Ubackup.layerConfig (the CLI's JSON config as a value)", () => {
  it("backs up to a local folder and restores, in the caller's runtime with its own logger", async () => {
    const { identity, recipient } = await key()
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "ubackup-api-"))
    const logged: Array<unknown> = []
    const logger = Logger.make(({ message }) => logged.push(message))
    const restored = await Effect.gen(function*() {
      const ubackup = yield* Ubackup.Ubackup
      const stored = yield* ubackup.backupStream({ service: "app", taskId: "7", fileExtension: ".sql", stream: chunks })
      yield* Effect.log(`stored ${stored.id}`)
      expect(fs.readdirSync(path.join(dir, "backups", "app"))).toEqual([path.basename(stored.id)])
      return yield* Stream.mkUint8Array(ubackup.restore(stored.id, identity))
    }).pipe(
      Effect.provide(Ubackup.layerConfig(
        { storage: { local: { path: "backups" } }, encryption_recipients: [recipient] },
        { baseDirectory: dir }
      )),
      Effect.provide(Logger.layer([logger])),
      Effect.runPromise
    )
    expect(Buffer.from(restored).equals(plaintext)).toBe(true)
    expect(logged.flat().join("\n")).toMatch(/stored app\//)
  })

  it("a bad config fails the layer with a ConfigError naming the field; a bad recipient with a KeyError", async () => {
    const build = (layer: ReturnType<typeof Ubackup.layerConfig>) => Effect.runPromise(Effect.flip(Effect.scoped(Layer.build(layer))))
    const bad = await build(Ubackup.layerConfig(
      { storage: { local: { path: "/tmp/x" } }, encryption_recipients: ["age1qqq"], compression: "lz4" },
      { name: "app settings" }
    ))
    expect(bad._tag).toBe("ConfigError")
    expect(bad.message).toContain("app settings")
    expect(bad.message).toContain("compression")

    const badKey = await build(Ubackup.layerConfig({ storage: { local: { path: "/tmp/x" } }, encryption_recipients: ["age1qqq"] }))
    expect(badKey._tag).toBe("KeyError")
    expect(badKey.message).toContain("encryption_recipients[0]")
  })
})
