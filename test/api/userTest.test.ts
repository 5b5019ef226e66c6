/**
 * What the README's "Testing an app that uses ubackup" shows, run as
 * written: only the package's root exports, a fake Docker engine, storage in
 * memory, ubackup's own compression and encryption, in milliseconds.
 */
import { Effect, Layer, Stream } from "effect"
import { describe, expect, it } from "vitest"
import {
  Compression,
  Encryption,
  generateKeyPair,
  layerMemory,
  layerSnapshotter,
  layerTargets,
  makeCompression,
  makeEncryption,
  makeFakeEngine,
  type MemoryObject,
  parseRecipient,
  runAll,
  Targets,
  Ubackup
} from "../../src/index.ts"

describe("a user's test with ubackup's fakes", () => {
  it("a labelled container in a fake engine is discovered, backed up into memory and restored", async () => {
    // --- as in the README
    const { identity, recipient } = await generateKeyPair()
    const docker = makeFakeEngine([{
      id: "a".repeat(64),
      name: "db",
      labels: { "ubackup.command": "pg_dump app" },
      exec: (argv) => ({ stdout: new TextEncoder().encode(`dump of ${argv.at(-1)}\n`), exitCode: 0 })
    }])
    const objects = new Map<string, MemoryObject>()
    const layers = Layer.mergeAll(
      layerTargets({ staticTargets: [] }),
      layerSnapshotter,
      layerMemory(objects),
      Layer.succeed(Compression, makeCompression({ algorithm: "zstd" })),
      Layer.effect(Encryption, Effect.map(parseRecipient(recipient, "test"), (r) => makeEncryption([r])))
    ).pipe(Layer.provideMerge(docker.layer))

    const restored = await Effect.gen(function*() {
      const discovered = yield* (yield* Targets).discover
      const [outcome] = yield* runAll(discovered, { concurrency: 1 })
      if (outcome?.result._tag !== "Stored") return yield* Effect.die(outcome?.result)
      const ubackup = yield* Ubackup.Ubackup
      return new TextDecoder().decode(yield* Stream.mkUint8Array(ubackup.restore(outcome.result.backup.id, identity)))
    }).pipe(Effect.provide(Ubackup.layer.pipe(Layer.provideMerge(layers))), Effect.runPromise)

    expect(restored).toBe("dump of app\n")
    expect(docker.calls).toContain("createExec db pg_dump app")
    // ---
    expect([...objects.keys()]).toEqual([expect.stringMatching(/^db\/.*\.zst\.age$/)])
  })
})
