/**
 * runAll's logic with fake snapshots and storage: isolation of failures,
 * timeouts, invalid targets, order. The real engine runs in test/e2e/now.test.ts.
 */
import { Effect, Layer, Stream } from "effect"
import { describe, expect, it } from "vitest"
import * as crypto from "node:crypto"
import { Compression, makeCompression } from "../../src/compression/Compression.ts"
import type { Discovered, Target } from "../../src/domain/Target.ts"
import { Encryption, makeEncryption } from "../../src/encryption/Encryption.ts"
import { x25519Recipient } from "../../src/encryption/age/x25519.ts"
import { runAll } from "../../src/pipeline/run.ts"
import { exitFailure, fakeSnapshotter, memoryStorage } from "../harness/fakes.ts"

const staticTarget = (service: string, timeoutMs?: number): Target => ({
  _tag: "Static",
  service,
  taskId: "static",
  argv: [service],
  fileExtension: ".txt",
  timeoutMs,
  maxBytes: undefined
})

const run = (discovered: Discovered, snapshot: Parameters<typeof fakeSnapshotter>[0], concurrency = 2) => {
  const storage = memoryStorage()
  const layer = Layer.mergeAll(
    fakeSnapshotter(snapshot),
    storage.layer,
    Layer.succeed(Compression, makeCompression({ algorithm: "zstd", concurrency: 1 })),
    Layer.succeed(Encryption, makeEncryption([x25519Recipient(crypto.randomBytes(32))]))
  )
  return Effect.runPromise(runAll(discovered, { concurrency }).pipe(Effect.provide(layer))).then((outcomes) => ({ outcomes, storage }))
}

describe("runAll", () => {
  it("backs up every target; a failing one fails alone and stores nothing", async () => {
    const { outcomes, storage } = await run(
      { targets: [staticTarget("good"), staticTarget("bad"), staticTarget("also-good")], invalid: [] },
      (target) =>
        target.service === "bad"
          ? Stream.make(new Uint8Array([1, 2, 3])).pipe(Stream.concat(Stream.fail(exitFailure("host: bad", 3, "pg_dump: boom"))))
          : Stream.make(new TextEncoder().encode(`data of ${target.service}`))
    )
    expect(outcomes.map((o) => [o.service, o.result._tag])).toEqual([["good", "Stored"], ["bad", "Failed"], ["also-good", "Stored"]])
    const bad = outcomes[1]!.result
    expect(bad._tag === "Failed" ? bad.error : "").toContain("pg_dump: boom")
    expect([...storage.objects.keys()].map((id) => id.split("/")[0]).sort()).toEqual(["also-good", "good"])
  })

  it("a target past its timeout fails with a message saying so; the others finish", async () => {
    const { outcomes, storage } = await run(
      { targets: [staticTarget("hangs", 200), staticTarget("quick", 5000)], invalid: [] },
      (target) => (target.service === "hangs" ? Stream.never : Stream.make(new Uint8Array([7])))
    )
    expect(outcomes.map((o) => o.result._tag)).toEqual(["Failed", "Stored"])
    const hung = outcomes[0]!.result
    expect(hung._tag === "Failed" ? hung.error : "").toMatch(/timed out after 200ms/)
    expect(hung._tag === "Failed" ? hung.failure : undefined).toMatchObject({ _tag: "TargetTimeout", timeoutMs: 200 })
    expect([...storage.objects.keys()].every((id) => id.startsWith("quick/"))).toBe(true)
  })

  it("an empty snapshot is a failure, not an empty backup", async () => {
    const { outcomes, storage } = await run({ targets: [staticTarget("empty")], invalid: [] }, () => Stream.empty)
    expect(outcomes[0]!.result).toMatchObject({ _tag: "Failed", failure: { _tag: "EmptySnapshot" } })
    expect(storage.objects.size).toBe(0)
  })

  it("containers with an unusable command are reported as failed targets", async () => {
    const { outcomes } = await run(
      {
        targets: [staticTarget("fine")],
        invalid: [{ _tag: "Invalid", service: "web", taskId: "abc123abc123", containerName: "web1", commandText: "sh -c 'oops", reason: "unbalanced single quote", owner: "container abc123abc123" }]
      },
      () => Stream.make(new Uint8Array([1]))
    )
    expect(outcomes.map((o) => [o.service, o.result._tag])).toEqual([["web", "Failed"], ["fine", "Stored"]])
    expect(outcomes[0]!.result).toMatchObject({
      failure: { _tag: "InvalidTarget", containerName: "web1", reason: "unbalanced single quote" }
    })
  })

  it("runs at most `concurrency` targets at once", async () => {
    let running = 0
    let most = 0
    const slow = Stream.fromEffect(
      Effect.acquireUseRelease(
        Effect.sync(() => {
          running++
          most = Math.max(most, running)
        }),
        () => Effect.sleep("30 millis").pipe(Effect.as(new Uint8Array([1]))),
        () => Effect.sync(() => void running--)
      )
    )
    await run({ targets: ["a", "b", "c", "d", "e"].map((s) => staticTarget(s)), invalid: [] }, () => slow, 2)
    expect(most).toBe(2)
  })
})
