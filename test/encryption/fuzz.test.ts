/**
 * Property: whatever bytes reach `decrypt`, it ends (no hang) with either the
 * exact plaintext of an unmodified backup, or a typed `DecryptError` raised
 * on purpose (not a stray exception wrapped into one), after releasing only
 * plaintext that authenticated: a prefix of the original that ends at a
 * chunk boundary before the first damaged chunk, and never the final chunk.
 *
 * Real age files (0 B, 1 B, exactly two full chunks, ~200 KiB over four
 * chunks, two recipient stanzas) are damaged by fast-check: random bytes,
 * truncation, bit flips (anywhere, and packed into the header), chunks
 * reordered, repeated, dropped or taken from another encryption of the same
 * plaintext, header lines edited, spans inserted, deleted, overwritten or
 * appended, and other key sets. Each input also arrives in randomly cut
 * pieces, so the incremental header and payload parsers see every split.
 * age is not malleable: a changed file that decrypts is a failure too.
 *
 * The damage is test/harness/ageDamage.ts; a smaller sample of it goes
 * through the real `bin/ubackup decrypt` in test/cli/decryptFuzz.test.ts.
 */
import { Cause, Effect, Exit, Option, Result, Stream } from "effect"
import fc from "fast-check"
import * as crypto from "node:crypto"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { encodeIdentity, generateSecret } from "../../src/encryption/age/x25519.ts"
import { decrypt } from "../../src/encryption/decrypt.ts"
import { DecryptError } from "../../src/encryption/errors.ts"
import { type DecryptionKeys, parseDecryptionKeys } from "../../src/encryption/keys.ts"
import {
  b64,
  type Backup,
  bitFlips,
  caseTimeout,
  chunkEdits,
  chunkSize,
  flipBits,
  headerEdits,
  KiB,
  makeBackup,
  type Mutation,
  mutation,
  type Outcome,
  problemsOf,
  randomInput,
  sealedChunkSize,
  spliceEdits,
  truncation,
  unmodified
} from "../harness/ageDamage.ts"

/** Runs the real decrypt stream over `pieces`, keeping what it released before it ended. */
const runDecrypt = async (keys: DecryptionKeys, pieces: ReadonlyArray<Buffer>): Promise<Outcome> => {
  const released: Array<Buffer> = []
  const exit = await Effect.runPromiseExit(
    decrypt(keys)(Stream.fromIterable(pieces)).pipe(
      Stream.runForEach((chunk) => Effect.sync(() => void released.push(Buffer.from(chunk)))),
      Effect.timeoutOption(caseTimeout)
    )
  )
  const out = Buffer.concat(released)
  if (Exit.isSuccess(exit)) return Option.isSome(exit.value) ? { kind: "succeeded", out } : { kind: "hang", out }
  const found = Cause.findError(exit.cause)
  if (Cause.hasDies(exit.cause) || Cause.hasInterrupts(exit.cause) || Result.isFailure(found) || !(found.success instanceof DecryptError)) {
    return { kind: "defect", out, cause: Cause.pretty(exit.cause).split("\n")[0]! }
  }
  return { kind: "failed", out, error: found.success }
}

/** How an input arrives: cut at `cuts` (modulo its length), its first `trickle` bytes one at a time. */
interface Feed {
  readonly cuts: ReadonlyArray<number>
  readonly trickle: number
}

/** The pieces `bytes` arrives in, as `feed` says. */
const piecesOf = (bytes: Buffer, feed: Feed): Array<Buffer> => {
  const trickle = Math.min(feed.trickle, bytes.length)
  const at = [...new Set([...Array.from({ length: trickle }, (_, i) => i + 1), ...feed.cuts.map((c) => c % (bytes.length + 1))])]
    .filter((c) => c > 0 && c < bytes.length)
    .sort((a, b) => a - b)
  const pieces: Array<Buffer> = []
  let start = 0
  for (const cut of [...at, bytes.length]) {
    pieces.push(bytes.subarray(start, cut))
    start = cut
  }
  return pieces
}

const feedArb: fc.Arbitrary<Feed> = fc.record({ cuts: fc.array(fc.nat(), { maxLength: 6 }), trickle: fc.oneof(fc.constant(0), fc.nat({ max: 300 })) })

const stats = { inProcess: 0, succeeded: 0, failedTyped: 0, reasons: new Map<string, number>() }

const count = (outcome: Outcome) => {
  stats.inProcess++
  if (outcome.kind === "succeeded") stats.succeeded++
  else if (outcome.kind === "failed") {
    stats.failedTyped++
    stats.reasons.set(outcome.error.reason, (stats.reasons.get(outcome.error.reason) ?? 0) + 1)
  }
}

describe("decrypt fuzzing", () => {
  let keys: DecryptionKeys
  let otherKeys: DecryptionKeys
  let backups: ReadonlyArray<Backup>

  const backup = (name: string, plaintext: Buffer, payload: Buffer = plaintext, recipientTexts = keys.encryptionKeys): Promise<Backup> =>
    makeBackup(name, plaintext, payload, recipientTexts)

  beforeAll(async () => {
    keys = Effect.runSync(parseDecryptionKeys(`${encodeIdentity(generateSecret())}\n`, "our key"))
    otherKeys = Effect.runSync(parseDecryptionKeys(`${encodeIdentity(generateSecret())}\n`, "other key"))
    backups = [
      await backup("0 B", Buffer.alloc(0)),
      await backup("1 B", crypto.randomBytes(1)),
      await backup("128 KiB (two full chunks)", crypto.randomBytes(2 * chunkSize)),
      await backup("200 KiB", crypto.randomBytes(200 * KiB + 123)),
      // another recipient's stanza first: the identity must skip it, not stop at it
      await backup("70 kB, two stanzas", crypto.randomBytes(70_000), undefined, [...otherKeys.encryptionKeys, ...keys.encryptionKeys])
    ]
    for (const b of backups) expect(b.file.subarray(0, 22).toString()).toBe("age-encryption.org/v1\n")
    expect(backups[3]!.chunks.length).toBe(4)
    expect(backups[2]!.chunks.map((c) => c.length)).toEqual([sealedChunkSize, sealedChunkSize])
  })

  afterAll(() => {
    const reasons = [...stats.reasons].sort((a, b) => b[1] - a[1]).map(([reason, n]) => `${reason} ${n}`).join(", ")
    console.log(`fuzz: ${stats.inProcess} in-process cases, ${stats.succeeded} succeeded (identical), ${stats.failedTyped} failed typed (${reasons})`)
  })

  /** Runs `numRuns` cases of `mutate` over every backup, with the right keys unless told otherwise. */
  const fuzz = async (
    numRuns: number,
    mutate: (backup: Backup) => fc.Arbitrary<Mutation>,
    /** Cases run first, every time: damage that once got through. */
    examples: (backup: Backup) => ReadonlyArray<Mutation> = () => []
  ) => {
    type Case = { readonly backup: Backup; readonly mutation: Mutation; readonly feed: Feed }
    const cases: fc.Arbitrary<Case> = fc.constantFrom(...backups).chain((b) => fc.record({ backup: fc.constant(b), mutation: mutate(b), feed: feedArb }))
    const given = backups.flatMap((backup) => examples(backup).map((mutation): [Case] => [{ backup, mutation, feed: { cuts: [], trickle: 0 } }]))
    await fc.assert(
      fc.asyncProperty(cases, async ({ backup, mutation, feed }) => {
        const outcome = await runDecrypt(keys, piecesOf(mutation.bytes, feed))
        count(outcome)
        // the twin is a whole other valid encryption: reassembled in order, it must open too
        const problems = problemsOf(backup, mutation.bytes, outcome, unmodified(backup, mutation.bytes))
        expect(problems, `${backup.name}: ${mutation.what}`).toEqual([])
      }),
      { numRuns, examples: given }
    )
  }

  it("undamaged backups decrypt exactly, however the input is cut", async () => {
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...backups), feedArb, async (backup, feed) => {
        const outcome = await runDecrypt(keys, piecesOf(backup.file, feed))
        count(outcome)
        expect(problemsOf(backup, backup.file, outcome, true), backup.name).toEqual([])
      }),
      { numRuns: 50 }
    )
  })

  it("random bytes, alone or after a real header", () => fuzz(300, randomInput))
  it("truncation at any offset", () => fuzz(300, truncation))
  it("1 to 8 bit flips anywhere", () => fuzz(400, (b) => bitFlips(b, b.file.length)))
  it("1 to 8 bit flips in the header and nonce", () => fuzz(300, (b) => bitFlips(b, b.payloadStart)))
  it("chunks reordered, repeated, dropped, or from another encryption", () => fuzz(300, chunkEdits))
  it("header lines deleted, repeated, swapped, replaced, inserted, extended, cut", () =>
    fuzz(400, headerEdits, (backup) => {
      // a low-order share: OpenSSL refuses the derivation, which once surfaced as its own words
      const lines = backup.file.subarray(0, backup.headerEnd).toString("latin1").split("\n")
      lines[1] = `-> X25519 ${b64(Buffer.alloc(32))}`
      return [mutation("low-order X25519 share", Buffer.concat([Buffer.from(lines.join("\n"), "latin1"), backup.file.subarray(backup.headerEnd)]))]
    }))
  it("spans inserted, deleted, overwritten, appended", () => fuzz(250, spliceEdits))

  it("other key sets: the wrong key alone fails, ours among others opens", async () => {
    const sets = () => ({
      ours: keys,
      other: otherKeys,
      "other, then ours": { ...keys, identities: [...otherKeys.identities, ...keys.identities] },
      "ours, then other": { ...keys, identities: [...keys.identities, ...otherKeys.identities] },
      none: { ...keys, identities: [] }
    })
    type SetName = keyof ReturnType<typeof sets>
    const names = Object.keys(sets()) as Array<SetName>
    const flips = fc.array(fc.record({ at: fc.nat(), bit: fc.nat({ max: 7 }) }), { maxLength: 2 })
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...backups), fc.constantFrom(...names), flips, feedArb, async (backup, name, drawn, feed) => {
        const bytes = flipBits(backup.file, drawn.map((f) => ({ at: f.at % backup.file.length, bit: f.bit })))
        const outcome = await runDecrypt(sets()[name], piecesOf(bytes, feed))
        count(outcome)
        // the "other" key is a recipient of the two-stanza backup only
        const opens = name !== "none" && (name !== "other" || backup.name.includes("two stanzas"))
        const problems = problemsOf(backup, bytes, outcome, opens && unmodified(backup, bytes))
        expect(problems, `${backup.name} with ${name} keys, ${drawn.length} flips`).toEqual([])
      }),
      { numRuns: 100 }
    )
  })
})
