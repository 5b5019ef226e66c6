/**
 * An Effect app that builds ubackup out of stages of its choosing: its own
 * Storage (dailyFolders.ts) and logger, ubackup's zstd compression and age
 * encryption, and the Ubackup service over them. It backs up a stream twice,
 * lists the backups, restores the newest and checks that the bytes match.
 */
import { Cause, Data, Effect, Layer, Logger, Stream } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import {
  Compression,
  Encryption,
  generateDecryptionKey,
  makeCompression,
  makeEncryption,
  parseDecryptionKeys,
  parseRecipient,
  Ubackup
} from "ubackup"
import { layerDailyFolders } from "./dailyFolders.ts"

class Mismatch extends Data.TaggedError("Mismatch")<{ readonly message: string }> {}

/** The app's logger, in place of Effect's: one plain line per message. */
const AppLogger = Logger.layer([
  Logger.make(({ cause, logLevel, message }) => {
    const parts = (Array.isArray(message) ? message : [message]).map((part) => typeof part === "string" ? part : JSON.stringify(part))
    if (cause.reasons.length > 0) parts.push(Cause.pretty(cause))
    console.log(`[effect-app] ${logLevel.toUpperCase()} ${parts.join(" ")}`)
  })
])

/** The three stages the Ubackup service runs: any of them can be the app's own. */
const stages = (root: string, recipient: string) =>
  Layer.mergeAll(
    Layer.succeed(Compression, makeCompression({ algorithm: "zstd" })),
    Layer.effect(Encryption, Effect.map(parseRecipient(recipient, "recipient"), (parsed) => makeEncryption([parsed]))),
    layerDailyFolders(root)
  )

/** What the app backs up: an export it produces as a stream, line by line. */
const lines = Array.from({ length: 20_000 }, (_, i) => `${JSON.stringify({ id: i, name: `item ${i}`, stock: (i * 7919) % 1000 })}\n`)
const original = new TextEncoder().encode(lines.join(""))
const exportStream = Stream.fromIterable(lines).pipe(Stream.encodeText)

const program = (identity: string) =>
  Effect.gen(function*() {
    const ubackup = yield* Ubackup.Ubackup
    yield* Effect.logInfo(`backing up to ${ubackup.location}`)
    let last = ""
    for (let run = 1; run <= 2; run++) {
      const stored = yield* ubackup.backupStream({ service: "inventory", taskId: "export", fileExtension: ".jsonl", stream: exportStream })
      yield* Effect.logInfo(`stored ${stored.id}: ${stored.bytesIn} bytes in, ${stored.size} stored`)
      last = stored.id
    }

    const backups = yield* ubackup.list("inventory") // oldest first
    const newest = backups.at(-1)!
    yield* Effect.logInfo(`listed ${backups.length} backups of inventory, newest ${newest.id}`)
    if (newest.id !== last) return yield* new Mismatch({ message: `the newest backup is ${newest.id}, not ${last}` })

    const restored = yield* Stream.mkUint8Array(ubackup.restore(newest.id, identity))
    if (!Buffer.from(restored).equals(original)) {
      return yield* new Mismatch({ message: `restored ${restored.length} bytes that differ from the ${original.length} backed up` })
    }
    yield* Effect.logInfo(`restored ${restored.length} bytes: they match the stream backed up`)
  })

const main = Effect.gen(function*() {
  const identity = yield* generateDecryptionKey("x25519") // the private key: a real app keeps it off this host
  const { encryptionKeys } = yield* parseDecryptionKeys(identity, "the new key")
  const root = yield* Effect.acquireRelease(
    Effect.sync(() => fs.mkdtempSync(path.join(os.tmpdir(), "effect-app-"))),
    (dir) => Effect.sync(() => fs.rmSync(dir, { recursive: true, force: true }))
  )
  yield* program(identity).pipe(Effect.provide(Ubackup.layer.pipe(Layer.provide(stages(root, encryptionKeys[0]!)))))
})

main.pipe(
  Effect.scoped,
  Effect.tapCause((cause) => Effect.logError("failed:", cause)),
  Effect.provide(AppLogger),
  Effect.runPromise
).catch(() => {
  process.exitCode = 1
})
