/**
 * Several destinations (the config's storage list) in backupOne, with real
 * compression and encryption and memory storages: the same bytes land in
 * each; a destination that fails mid-stream drops out and the others still
 * publish, the backup failing with DestinationsFailed that says where it
 * is; a failing source stores nowhere. Local + RGW through the CLI, with
 * RGW failing mid-upload: test/e2e/destinations.test.ts.
 */
import { Effect, Layer, Stream } from "effect"
import * as crypto from "node:crypto"
import { describe, expect, it } from "vitest"
import { Compression, makeCompression } from "../../src/compression/Compression.ts"
import { Encryption, makeEncryption } from "../../src/encryption/Encryption.ts"
import { x25519Recipient } from "../../src/encryption/age/x25519.ts"
import { backupOne } from "../../src/pipeline/backup.ts"
import { makeMemoryStorage, type MemoryObject } from "../../src/storage/memory.ts"
import { MoreDestinations, Storage, StorageError } from "../../src/storage/Storage.ts"

const MiB = 1024 * 1024

/** A memory storage whose puts fail once `failAfter` bytes have come in (undefined: never; -1: before reading any). */
const destination = (name: string, failAfter?: number) => {
  const objects = new Map<string, MemoryObject>()
  const inner = makeMemoryStorage(objects)
  const storage: Storage["Service"] = {
    ...inner,
    put: (id, body) => {
      if (failAfter === undefined) return inner.put(id, body)
      // as a bucket that does not exist: the put fails before it reads its stream
      if (failAfter < 0) return Effect.fail(new StorageError({ reason: "Unavailable", operation: "put", subject: id, detail: `${name} is missing` }))
      let seen = 0
      const failing = body.pipe(Stream.mapEffect((chunk) => {
        seen += chunk.length
        return seen > failAfter
          ? Effect.fail(new StorageError({ reason: "Unavailable", operation: "put", subject: id, detail: `${name} went away` }))
          : Effect.succeed(chunk)
      }))
      return inner.put(id, failing)
    }
  }
  return { name, objects, storage }
}

const backUp = (snapshot: Stream.Stream<Uint8Array, string>, destinations: ReadonlyArray<ReturnType<typeof destination>>) => {
  const [first, ...more] = destinations
  const layer = Layer.mergeAll(
    Layer.succeed(Storage, first!.storage),
    Layer.succeed(MoreDestinations, { primary: first!.name, more: more.map(({ name, storage }) => ({ name, storage })) }),
    Layer.succeed(Compression, makeCompression({ algorithm: "zstd", concurrency: 1 })),
    Layer.succeed(Encryption, makeEncryption([x25519Recipient(crypto.randomBytes(32))]))
  )
  return Effect.runPromise(
    Effect.result(backupOne({ service: "db", taskId: "t", fileExtension: ".sql", sourceName: "test", snapshot })).pipe(Effect.provide(layer))
  )
}

const only = (objects: Map<string, MemoryObject>) => [...objects.values()].map((object) => Buffer.from(object.bytes))

describe("backupOne to several destinations", () => {
  const input = crypto.randomBytes(8 * MiB)
  const snapshot = () => Stream.fromIterable(Array.from({ length: 8 }, (_, i) => input.subarray(i * MiB, (i + 1) * MiB)))

  it("every destination gets the same bytes, under the same ID; the result lists each copy", async () => {
    const destinations = [destination("nas"), destination("offsite"), destination("cold")]
    const result = await backUp(snapshot(), destinations)
    expect(result._tag).toBe("Success")
    if (result._tag !== "Success") return
    const copies = destinations.map(({ objects }) => only(objects))
    expect(copies.map((list) => list.length)).toEqual([1, 1, 1])
    expect(copies[1]![0]!.equals(copies[0]![0]!) && copies[2]![0]!.equals(copies[0]![0]!)).toBe(true)
    expect(result.success.copies?.map((copy) => copy.destination)).toEqual(["nas", "offsite", "cold"])
    expect(new Set(result.success.copies?.map((copy) => copy.id))).toEqual(new Set([result.success.id]))
  })

  it("one failing mid-stream: the others publish whole, the backup fails saying where it is", async () => {
    const destinations = [destination("nas"), destination("offsite", 2 * MiB), destination("cold")]
    const result = await backUp(snapshot(), destinations)
    expect(result._tag).toBe("Failure")
    if (result._tag !== "Failure") return
    expect(result.failure).toMatchObject({ _tag: "DestinationsFailed", service: "db" })
    expect(String((result.failure as Error).message)).toMatch(/^db: stored on nas \(db\/.+\), cold \(db\/.+\), but not on offsite: storage put .*offsite went away$/)
    expect(destinations.map(({ objects }) => objects.size)).toEqual([1, 0, 1])
    expect(only(destinations[0]!.objects)[0]!.equals(only(destinations[2]!.objects)[0]!)).toBe(true)
  })

  it("one failing before it reads a byte (a missing bucket): the others are not held up, and publish", async () => {
    const destinations = [destination("nas"), destination("offsite", -1)]
    const result = await backUp(snapshot(), destinations)
    expect(result._tag === "Failure" ? String((result.failure as Error).message) : "").toMatch(/stored on nas .*but not on offsite: .*offsite is missing/)
    expect(destinations.map(({ objects }) => objects.size)).toEqual([1, 0])
  }, 10_000)

  it("every destination failing, or the source failing: the one error, nothing stored anywhere", async () => {
    const down = [destination("nas", 0), destination("offsite", 0)]
    const allDown = await backUp(snapshot(), down)
    expect(allDown._tag === "Failure" ? allDown.failure : undefined).toMatchObject({ _tag: "StorageError", detail: "nas went away" })
    const healthy = [destination("nas"), destination("offsite")]
    const broken = await backUp(Stream.concat(snapshot(), Stream.fail("pg_dump died")), healthy)
    expect(broken._tag === "Failure" ? broken.failure : undefined).toBe("pg_dump died")
    expect([...down, ...healthy].map(({ objects }) => objects.size)).toEqual([0, 0, 0, 0])
  })
})
