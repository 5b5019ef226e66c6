/**
 * consumePlaintext (src/api/plaintext.ts), the fast restore path, on backups
 * made by the real `age` and `zstd`/`gzip`: the plaintext chunk by chunk (or
 * the compressed stream with `raw`), each failure as its own typed error (the
 * stored stream's, the consumer's, the decryption's, the decompression's),
 * and an interrupted restore that stops without leaving a decoder thread.
 */
import { Effect, Fiber, Schema, Stream } from "effect"
import { execFileSync } from "node:child_process"
import * as crypto from "node:crypto"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { describe, expect, it } from "vitest"
import { consumePlaintext } from "../../src/api/plaintext.ts"
import { DecompressionError } from "../../src/compression/decompress.ts"
import { runningDecoders } from "../../src/compression/zstdWorkers.ts"
import { DecryptError } from "../../src/encryption/errors.ts"
import { generateDecryptionKey, parseDecryptionKeys } from "../../src/encryption/keys.ts"
import { requireCommands } from "../harness/tools.ts"

const MiB = 1024 * 1024

class Broken extends Schema.TaggedError<Broken>()("Broken", { detail: Schema.String }) {}
class Refused extends Schema.TaggedError<Refused>()("Refused", { cause: Schema.Defect() }) {}

const pieces = (input: Buffer, size: number) =>
  Array.from({ length: Math.ceil(input.length / size) }, (_, i) => input.subarray(i * size, (i + 1) * size))

describe.runIf(requireCommands("consumePlaintext", "age", "zstd", "gzip"))("consumePlaintext", () => {
  const setup = Effect.gen(function*() {
    const identity = yield* generateDecryptionKey("x25519")
    const keys = yield* parseDecryptionKeys(identity, "test key")
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "ubackup-plaintext-"))
    const recipients = path.join(dir, "recipients")
    fs.writeFileSync(recipients, `${keys.encryptionKeys[0]}\n`)
    const encrypt = (input: Buffer) => execFileSync("age", ["-R", recipients], { input, maxBuffer: 256 * MiB })
    return { keys, encrypt }
  })

  const plain = Buffer.concat([Buffer.from("row\n".repeat(2_000_000)), crypto.randomBytes(3 * MiB)])
  const sha256 = (bytes: Uint8Array) => crypto.createHash("sha256").update(bytes).digest("hex")

  /** Hashes as it goes and resolves once done with the chunk, like verify. */
  const hasher = () => {
    const hash = crypto.createHash("sha256")
    let bytes = 0
    return {
      consume: (chunk: Uint8Array) => {
        hash.update(chunk)
        bytes += chunk.length
      },
      result: () => ({ sha256: hash.digest("hex"), bytes })
    }
  }
  const onConsumerError = (cause: unknown) => new Refused({ cause })

  it("the plaintext of age + zstd and age + gzip backups, in chunks of any size; raw gives the compressed stream", async () => {
    const { keys, encrypt } = await Effect.runPromise(setup)
    const zstdBackup = encrypt(execFileSync("zstd", ["-q", "-c"], { input: plain, maxBuffer: 256 * MiB }))
    const gzipped = execFileSync("gzip", ["-c"], { input: plain, maxBuffer: 256 * MiB })
    for (const [name, backup] of [["zstd", zstdBackup], ["gzip", encrypt(gzipped)]] as const) {
      for (const size of [1000, 3 * MiB]) {
        const sink = hasher()
        await Effect.runPromise(consumePlaintext(Stream.fromIterable(pieces(backup, size)), keys, sink.consume, { onConsumerError }))
        expect(sink.result(), `${name}, chunks of ${size}`).toEqual({ sha256: sha256(plain), bytes: plain.length })
      }
    }
    const raw = hasher()
    await Effect.runPromise(consumePlaintext(Stream.make(encrypt(gzipped)), keys, raw.consume, { raw: true, onConsumerError }))
    expect(raw.result()).toEqual({ sha256: sha256(gzipped), bytes: gzipped.length })
  })

  it("fails with the stored stream's error, the consumer's (mapped), a DecryptError or a DecompressionError", async () => {
    const { keys, encrypt } = await Effect.runPromise(setup)
    const backup = encrypt(execFileSync("zstd", ["-q", "-c"], { input: plain, maxBuffer: 256 * MiB }))
    const run = (stored: Stream.Stream<Uint8Array, Broken>, consume: (chunk: Uint8Array) => void | Promise<void> = () => undefined) =>
      Effect.runPromise(Effect.flip(consumePlaintext(stored, keys, consume, { onConsumerError })))

    const broken = await run(Stream.concat(Stream.fromIterable(pieces(backup, MiB).slice(0, 2)), Stream.fail(new Broken({ detail: "gone" }))))
    expect(broken).toEqual(new Broken({ detail: "gone" }))

    const refused = await run(Stream.make(backup), () => Promise.reject(new Error("disk full")))
    expect(refused).toBeInstanceOf(Refused)
    expect(String((refused as Refused).cause)).toContain("disk full")

    const truncated = await run(Stream.make(backup.subarray(0, backup.length - 100)))
    expect(truncated).toBeInstanceOf(DecryptError)
    expect((truncated as DecryptError).reason).toBe("Truncated")

    const notCompressed = await run(Stream.make(encrypt(Buffer.from("just text, neither zstd nor gzip"))))
    expect(notCompressed).toBeInstanceOf(DecompressionError)
    expect((notCompressed as DecompressionError).message).toContain("--raw")

    // a valid age file whose zstd stream is cut: the decoder's own error, typed
    const cutZstd = execFileSync("zstd", ["-q", "-c"], { input: plain, maxBuffer: 256 * MiB })
    const cut = await run(Stream.make(encrypt(cutZstd.subarray(0, cutZstd.length - 5000))))
    expect(cut).toBeInstanceOf(DecompressionError)
    expect((cut as DecompressionError).message).toMatch(/truncated/)

    for (let i = 0; i < 100 && runningDecoders() > 0; i++) await new Promise((resolve) => setTimeout(resolve, 20))
    expect(runningDecoders()).toBe(0)
  })

  it("an interrupted restore stops, with no decoder thread left", async () => {
    const { keys, encrypt } = await Effect.runPromise(setup)
    const backup = encrypt(execFileSync("zstd", ["-q", "-c"], { input: plain, maxBuffer: 256 * MiB }))
    let chunks = 0
    let onStart = () => {}
    const started = new Promise<void>((resolve) => {
      onStart = resolve
    })
    // a slow consumer: the restore is still running when it is interrupted
    const consume = async () => {
      chunks++
      onStart()
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
    const exit = await Effect.gen(function*() {
      const fiber = yield* Effect.forkChild(consumePlaintext(Stream.fromIterable(pieces(backup, 64 * 1024)), keys, consume, { onConsumerError }))
      yield* Effect.promise(() => started)
      yield* Fiber.interrupt(fiber)
      return yield* Fiber.await(fiber)
    }).pipe(Effect.runPromise)
    expect(exit._tag).toBe("Failure")
    expect(chunks).toBeLessThan(10)
    for (let i = 0; i < 100 && runningDecoders() > 0; i++) await new Promise((resolve) => setTimeout(resolve, 20))
    expect(runningDecoders()).toBe(0)
  })
})
