/** Fake layers for fast, deterministic unit tests of the pipeline's logic. */
import { Layer, Stream } from "effect"
import { Compression } from "../../src/compression/Compression.ts"
import { Encryption } from "../../src/encryption/Encryption.ts"
import { Snapshotter, SnapshotError } from "../../src/snapshot/Snapshotter.ts"
import { layerMemory, type MemoryObject } from "../../src/storage/memory.ts"
import type { Target } from "../../src/domain/Target.ts"

/** The in-memory Storage (src/storage/memory.ts), with its map of published backups to look into. */
export const memoryStorage = () => {
  const objects = new Map<string, MemoryObject>()
  return { objects, layer: layerMemory(objects) }
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
