/**
 * drill, drillWarning and reportDrill (src/api/drill.ts) over storage in
 * memory and the test clock: a fresh good backup passes, the same one a day
 * later is Stale, a service without backups fails, and each failure becomes
 * one Warning for the sinks. The CLI with real tar and psql checks:
 * test/cli/drill.test.ts, test/e2e/postgres.test.ts.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer, Stream } from "effect"
import { TestClock } from "effect/testing"
import { Alerts } from "../../src/alert/Alerts.ts"
import { none } from "../../src/alert/layer.ts"
import { drill, drillWarning, reportDrill } from "../../src/api/drill.ts"
import * as Ubackup from "../../src/api/Ubackup.ts"
import { Compression, makeCompression } from "../../src/compression/Compression.ts"
import type { Warning } from "../../src/domain/Warning.ts"
import { Encryption, makeEncryption } from "../../src/encryption/Encryption.ts"
import { generateDecryptionKey, parseDecryptionKeys, parseRecipient } from "../../src/encryption/keys.ts"
import { memoryStorage } from "../harness/fakes.ts"

describe("drill (test clock)", () => {
  it.effect("fresh and good: ok; a day later: Stale; no backups: DrillFailed; each failure one warning", () =>
    Effect.gen(function*() {
      const keys = yield* parseDecryptionKeys(yield* generateDecryptionKey("x25519"), "test key")
      const recipient = yield* parseRecipient(keys.encryptionKeys[0]!, "test")
      const sent: Array<Warning> = []
      const layer = Layer.provideMerge(
        Ubackup.layer,
        Layer.mergeAll(
          memoryStorage().layer,
          Layer.succeed(Compression, makeCompression({ algorithm: "zstd" })),
          Layer.succeed(Encryption, makeEncryption([recipient])),
          Layer.succeed(Alerts, { ...none, warning: (warning) => Effect.sync(() => sent.push(warning)).pipe(Effect.as(true)) })
        )
      )
      yield* Effect.gen(function*() {
        yield* TestClock.setTime(Date.parse("2026-12-07T01:00:30Z"))
        const ubackup = yield* Ubackup.Ubackup
        yield* ubackup.backupStream({ service: "db", taskId: "1", stream: Stream.make(new TextEncoder().encode("dump\n")) })

        const fresh = yield* drill(keys, { services: ["db", "web"], staleAfterMs: 3600_000 })
        assert.deepStrictEqual(fresh.map((result) => [result.service, result.ok, result.stale]), [["db", true, false], ["web", false, false]])
        assert.strictEqual(fresh[0]!.verification?.plaintextBytes, 5)
        assert.strictEqual(drillWarning(fresh[1]!)?.kind, "DrillFailed")

        yield* TestClock.adjust("1 day")
        const later = yield* drill(keys, { staleAfterMs: 3600_000 })
        assert.deepStrictEqual(later.map((result) => [result.service, result.ok, result.stale]), [["db", false, true]])
        assert.match(later[0]!.problem!, /the newest backup is 24h 0m old \(stale after 1h 0m\)/)
        assert.isTrue(yield* reportDrill([...fresh, ...later]))
      }).pipe(Effect.provide(layer))
      assert.deepStrictEqual(sent.map((warning) => [warning.kind, warning.service]), [["DrillFailed", "web"], ["Stale", "db"]])
      // the ID's time is the minute the backup started (01:00), the drill a day after 01:00:30
      assert.strictEqual(sent[1]!.figures["age_seconds"], 86_430)
    }))
})
