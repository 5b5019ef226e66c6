/** Fake layers for fast, deterministic unit tests of the pipeline's logic. */
import { Effect, Layer, Stream } from "effect"
import { Compression } from "../../src/compression/Compression.ts"
import { Encryption } from "../../src/encryption/Encryption.ts"
import { Snapshotter, SnapshotError } from "../../src/snapshot/Snapshotter.ts"
import { Storage } from "../../src/storage/Storage.ts"
import type { StoredBackup } from "../../src/domain/Outcome.ts"
import type { Target } from "../../src/domain/Target.ts"
import { withSequence } from "../../src/domain/names.ts"

/** Storage in a Map; `put` keeps an object only when its stream ends cleanly and never replaces one, as the real ones do. */
export const memoryStorage = () => {
  const objects = new Map<string, Uint8Array>()
  const layer = Layer.succeed(Storage, {
    location: "memory",
    put: <E>(id: string, body: Stream.Stream<Uint8Array, E>) =>
      Stream.runCollect(body).pipe(
        Effect.map((chunks) => {
          const bytes = Buffer.concat(chunks)
          let n = 1
          while (objects.has(withSequence(id, n))) n++
          objects.set(withSequence(id, n), bytes)
          return { id: withSequence(id, n), size: bytes.length, modified: new Date(0) } satisfies StoredBackup
        })
      ),
    get: (id: string) => Stream.make(objects.get(id) ?? new Uint8Array(0)),
    list: (service: string) =>
      Effect.succeed([...objects].filter(([id]) => id.startsWith(`${service}/`)).map(([id, bytes]) => ({ id, size: bytes.length, modified: new Date(0) }))),
    listServices: Effect.sync(() => [...new Set([...objects.keys()].map((id) => id.split("/")[0]!))]),
    cleanup: () => Effect.succeed({ removed: [], kept: 0 })
  })
  return { objects, layer }
}

export type FakeSnapshot = (target: Target) => Stream.Stream<Uint8Array, SnapshotError>

/** A Snapshotter whose output each test decides. */
export const fakeSnapshotter = (snapshot: FakeSnapshot) => Layer.succeed(Snapshotter, { snapshot })

export const exitFailure = (source: string, exitCode: number, stderr: string) =>
  new SnapshotError({ reason: "ExitCode", source, exitCode, stderrTail: stderr, detail: `exited with code ${exitCode}` })

/**
 * Compression and encryption that pass bytes through unchanged: for tests on
 * the test clock, where the real ones' work on libuv's thread pool would end
 * after the clock was moved.
 */
export const passthroughCodecs = Layer.mergeAll(
  Layer.succeed(Compression, { algorithm: "zstd", extension: ".zst", compress: (input) => input }),
  Layer.succeed(Encryption, { recipients: ["none (test)"], extension: ".age", encrypt: (input) => input })
)
