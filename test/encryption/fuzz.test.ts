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
 * Then a smaller sample of the same damage goes through the real
 * `bin/ubackup decrypt` (with and without --raw): non-zero exit, stdout a
 * prefix of the plaintext, one short `ubackup: error:` line, no stack trace.
 */
import { Cause, Effect, Exit, Option, Result, Stream } from "effect"
import fc from "fast-check"
import * as crypto from "node:crypto"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import * as zlib from "node:zlib"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { encodeIdentity, generateSecret } from "../../src/encryption/age/x25519.ts"
import { decrypt } from "../../src/encryption/decrypt.ts"
import { makeEncryption } from "../../src/encryption/Encryption.ts"
import { DecryptError, DecryptFailure } from "../../src/encryption/errors.ts"
import { type DecryptionKeys, parseDecryptionKeys, parseRecipient } from "../../src/encryption/keys.ts"
import { initKeys, type Run, ubackup } from "../harness/cli.ts"

const KiB = 1024
const chunkSize = 64 * KiB
const tagSize = 16
const sealedChunkSize = chunkSize + tagSize
const nonceSize = 16
/** Far above what one decryption of these sizes takes: only a hang reaches it. */
const caseTimeout = "5 seconds"

interface Backup {
  readonly name: string
  readonly plaintext: Buffer
  readonly file: Buffer
  /** Just after the newline of the `--- ` line. */
  readonly headerEnd: number
  /** headerEnd + the payload nonce: the first byte of chunk 0. */
  readonly payloadStart: number
  readonly chunks: ReadonlyArray<Buffer>
  /** Another encryption of the same plaintext to the same key: chunks that look right but belong to another file key. */
  readonly twin: Buffer
}

interface Mutation {
  /** For a failing case's report; short, never the bytes themselves. */
  readonly what: string
  readonly bytes: Buffer
}

/** fast-check prints a failing case with this: the description, not megabytes of bytes. */
const mutation = (what: string, bytes: Buffer): Mutation =>
  Object.assign({ what, bytes }, { [fc.toStringMethod]: () => `${what} (${bytes.length} bytes)` })

const layout = (file: Buffer) => {
  const headerEnd = file.indexOf("\n", file.indexOf("\n--- ") + 1) + 1
  const payloadStart = headerEnd + nonceSize
  const chunks: Array<Buffer> = []
  for (let start = payloadStart; start < file.length; start += sealedChunkSize) {
    chunks.push(file.subarray(start, Math.min(start + sealedChunkSize, file.length)))
  }
  return { headerEnd, payloadStart, chunks }
}

const collect = async (stream: Stream.Stream<Uint8Array>): Promise<Buffer> => {
  const parts: Array<Buffer> = []
  await Effect.runPromise(Stream.runForEach(stream, (chunk) => Effect.sync(() => void parts.push(Buffer.from(chunk)))))
  return Buffer.concat(parts)
}

/** Deterministic bytes from a seed: fast-check then only has to draw (and shrink) a number and a length. */
const seededBytes = (seed: number, length: number): Buffer => {
  const key = crypto.createHash("sha256").update(String(seed)).digest()
  return crypto.createCipheriv("chacha20", key, Buffer.alloc(16)).update(Buffer.alloc(length))
}

/** The first offset where `bytes` differs from `original` (a length, when one is a prefix of the other); -1 if equal. */
const firstDifference = (original: Buffer, bytes: Buffer): number => {
  const n = Math.min(original.length, bytes.length)
  let at = 0
  // whole blocks first: a byte loop over 200 KiB for each of thousands of cases would dominate the run
  for (const block = 4096; at + block <= n && original.subarray(at, at + block).equals(bytes.subarray(at, at + block)); at += block);
  while (at < n && original[at] === bytes[at]) at++
  return at === n && original.length === bytes.length ? -1 : at
}

type Outcome =
  | { readonly kind: "succeeded"; readonly out: Buffer }
  | { readonly kind: "failed"; readonly out: Buffer; readonly error: DecryptError }
  | { readonly kind: "defect"; readonly out: Buffer; readonly cause: string }
  | { readonly kind: "hang"; readonly out: Buffer }

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

/**
 * What is wrong with one outcome; empty when it keeps the property.
 * `chunkBounds`: also check the chunk-level rules (off for a decompressed CLI
 * output, whose offsets are not the payload's).
 */
const problemsOf = (backup: Backup, bytes: Buffer, outcome: Outcome, expectSuccess: boolean, chunkBounds = true): Array<string> => {
  const problems: Array<string> = []
  const { out } = outcome
  switch (outcome.kind) {
    case "hang":
      problems.push(`did not end within ${caseTimeout}`)
      break
    case "defect":
      problems.push(`not a typed failure: ${outcome.cause}`)
      break
    case "succeeded":
      if (!out.equals(backup.plaintext)) problems.push(`succeeded with ${out.length} bytes that are not the plaintext`)
      // every byte of an age file is authenticated, directly or through the keys it yields
      if (!expectSuccess) problems.push("a damaged file, or the wrong key, decrypted")
      return problems
    case "failed": {
      const { error } = outcome
      if (expectSuccess) problems.push(`the unmodified backup failed: ${error.message}`)
      if (error._tag !== "DecryptError" || !DecryptFailure.literals.includes(error.reason)) problems.push(`untyped reason ${String(error.reason)}`)
      // decrypt.ts wraps any stray exception this way: typed, but a bug that reached the user as a library's words
      if (error.detail.startsWith("decryption failed: ")) problems.push(`an unexpected exception, wrapped: ${error.detail}`)
      if (error.message.length > 300) problems.push(`a ${error.message.length}-character message`)
      break
    }
  }
  if (!out.equals(backup.plaintext.subarray(0, out.length))) {
    problems.push(`released ${out.length} bytes that are not a prefix of the plaintext`)
  } else if (chunkBounds) {
    if (out.length % chunkSize !== 0) problems.push(`released ${out.length} bytes: not whole chunks`)
    // the final chunk is released only once it authenticated as final, and then nothing can fail
    if (backup.plaintext.length > 0 && out.length >= backup.plaintext.length) problems.push("released the whole plaintext, then failed")
    // chunks that match the twin's authenticate under the twin's header: the later of the two damages bounds what may come out
    const damaged = Math.max(...[backup.file, backup.twin].map((original) => {
      const first = firstDifference(original, bytes)
      return first === -1 ? Infinity : first < backup.payloadStart ? 0 : Math.floor((first - backup.payloadStart) / sealedChunkSize)
    }))
    if (out.length / chunkSize > damaged) problems.push(`released ${out.length / chunkSize} chunk(s), but chunk ${damaged} is the first damaged`)
  }
  return problems
}

const unmodified = (backup: Backup, bytes: Buffer) => bytes.equals(backup.file) || bytes.equals(backup.twin)

const stats = { inProcess: 0, cli: 0, succeeded: 0, failedTyped: 0, reasons: new Map<string, number>() }

const count = (outcome: Outcome) => {
  stats.inProcess++
  if (outcome.kind === "succeeded") stats.succeeded++
  else if (outcome.kind === "failed") {
    stats.failedTyped++
    stats.reasons.set(outcome.error.reason, (stats.reasons.get(outcome.error.reason) ?? 0) + 1)
  }
}

// --- the damage ------------------------------------------------------------

const flipBits = (file: Buffer, flips: ReadonlyArray<{ readonly at: number; readonly bit: number }>): Buffer => {
  const copy = Buffer.from(file)
  for (const { at, bit } of flips) copy[at] = copy[at]! ^ (1 << bit)
  return copy
}

const randomInput = (backup: Backup): fc.Arbitrary<Mutation> => {
  const prefixes = {
    none: Buffer.alloc(0),
    magic: Buffer.from("age-encryption.org/"),
    version: Buffer.from("age-encryption.org/v1\n"),
    header: backup.file.subarray(0, backup.headerEnd),
    "header+nonce": backup.file.subarray(0, backup.payloadStart)
  }
  const body = fc.oneof(
    fc.uint8Array({ maxLength: 2048 }).map((b) => ({ what: `${b.length} drawn bytes`, bytes: Buffer.from(b) })),
    // long enough to cover several sealed chunks, too many to draw one by one
    fc.record({ seed: fc.integer(), length: fc.nat({ max: 3 * sealedChunkSize + 100 }) })
      .map(({ seed, length }) => ({ what: `${length} seeded bytes`, bytes: seededBytes(seed, length) }))
  )
  return fc.record({ prefix: fc.constantFrom(...(Object.keys(prefixes) as Array<keyof typeof prefixes>)), body }).map(({ prefix, body }) =>
    mutation(`${prefix} + ${body.what}`, Buffer.concat([prefixes[prefix], body.bytes]))
  )
}

const truncation = (backup: Backup): fc.Arbitrary<Mutation> => {
  const { file } = backup
  const edges = [backup.headerEnd, backup.payloadStart, ...backup.chunks.flatMap((c) => [c.byteOffset - file.byteOffset, c.byteOffset - file.byteOffset + c.length - tagSize])]
  const near = fc.record({ edge: fc.constantFrom(...edges), delta: fc.integer({ min: -2, max: 2 }) })
    .map(({ edge, delta }) => Math.min(Math.max(edge + delta, 0), file.length - 1))
  return fc.oneof(fc.nat({ max: file.length - 1 }), near).map((length) => mutation(`cut to ${length} of ${file.length} bytes`, file.subarray(0, length)))
}

const bitFlips = (backup: Backup, within: number): fc.Arbitrary<Mutation> =>
  fc.array(fc.record({ at: fc.nat({ max: within - 1 }), bit: fc.nat({ max: 7 }) }), { minLength: 1, maxLength: 8 })
    .map((flips) => mutation(`bits flipped at ${flips.map((f) => `${f.at}.${f.bit}`).join(", ")}`, flipBits(backup.file, flips)))

const chunkEdits = (backup: Backup): fc.Arbitrary<Mutation> => {
  const n = backup.chunks.length
  const twin = layout(backup.twin)
  const indices = backup.chunks.map((_, i) => i)
  type Pick = { readonly from: "self" | "twin"; readonly index: number }
  const self = (order: ReadonlyArray<number>): Array<Pick> => order.map((index) => ({ from: "self", index }))
  const pick = fc.record({ from: fc.constantFrom("self" as const, "twin" as const), index: fc.nat({ max: n - 1 }) })
  const order: fc.Arbitrary<ReadonlyArray<Pick>> = fc.oneof(
    fc.shuffledSubarray(indices, { minLength: n, maxLength: n }).map(self),
    fc.nat({ max: n - 1 }).map((drop) => self(indices.filter((i) => i !== drop))),
    fc.record({ at: fc.nat({ max: n }), copy: fc.nat({ max: n - 1 }) }).map(({ at, copy }) => self([...indices.slice(0, at), copy, ...indices.slice(at)])),
    fc.record({ at: fc.nat({ max: n - 1 }), index: fc.nat({ max: n - 1 }) })
      .map(({ at, index }) => indices.map((i): Pick => (i === at ? { from: "twin", index } : { from: "self", index: i }))),
    fc.array(pick, { maxLength: n + 2 })
  )
  return fc.record({ head: fc.constantFrom("self" as const, "twin" as const), order }).map(({ head, order }) =>
    mutation(
      `${head} header, chunks ${order.map((p) => `${p.from === "twin" ? "twin:" : ""}${p.index}`).join(" ") || "none"}`,
      Buffer.concat([
        (head === "self" ? backup.file : backup.twin).subarray(0, head === "self" ? backup.payloadStart : twin.payloadStart),
        ...order.map((p) => (p.from === "self" ? backup.chunks : twin.chunks)[p.index]!)
      ])
    )
  )
}

const b64 = (bytes: Uint8Array) => Buffer.from(bytes).toString("base64").replace(/=+$/, "")
/** Lines a hand-made header might hold: near-misses of the real grammar, and shares that no X25519 identity may accept. */
const craftedLines = [
  "age-encryption.org/v2",
  "age-encryption.org/v1 ",
  "age-encryption.org/v1\r",
  "AGE-ENCRYPTION.ORG/V1",
  "age-encryption.org/",
  // low-order points (0 and 1): the shared secret is all zeros
  `-> X25519 ${b64(Buffer.alloc(32))}`,
  `-> X25519 ${b64(Buffer.concat([Buffer.of(1), Buffer.alloc(31)]))}`,
  `-> X25519 ${b64(crypto.randomBytes(32))}\n${b64(crypto.randomBytes(32))}`,
  `-> X25519 ${b64(Buffer.alloc(32))}\n${b64(crypto.randomBytes(32))}`,
  `-> X25519 ${b64(crypto.randomBytes(31))}\n${b64(crypto.randomBytes(32))}`,
  `-> X25519 ${b64(crypto.randomBytes(32))}\n${b64(crypto.randomBytes(31))}`,
  "-> X25519",
  "-> X25519 a b",
  "-> x25519 AAAA",
  "-> scrypt c2FsdHNhbHRzYWx0c2FsdA 18",
  "-> ssh-rsa Wq3kDw\nAAAA",
  "-> ssh-rsa AAAAAA",
  "-> ssh-ed25519 AAAAAA AAAA",
  "-> grease-x y\n",
  "->",
  "-> ",
  "-> a  b",
  "---",
  "--- ",
  `--- ${"A".repeat(43)}`,
  `--- ${"A".repeat(42)}=`,
  `--- ${"A".repeat(44)}`,
  "",
  "A".repeat(64),
  "A".repeat(65),
  b64(crypto.randomBytes(32)),
  b64(crypto.randomBytes(48)),
  "\u00ff\u0000\u0080"
]

type LineEdit =
  | { readonly op: "delete" | "duplicate"; readonly i: number }
  | { readonly op: "swap"; readonly i: number; readonly j: number }
  | { readonly op: "replace" | "insert" | "append"; readonly i: number; readonly text: string }
  | { readonly op: "cut"; readonly i: number; readonly at: number }

const applyLineEdit = (lines: Array<string>, edit: LineEdit): void => {
  const i = edit.i % Math.max(lines.length, 1)
  switch (edit.op) {
    case "delete":
      lines.splice(i, 1)
      break
    case "duplicate":
      lines.splice(i, 0, lines[i] ?? "")
      break
    case "swap": {
      const j = edit.j % Math.max(lines.length, 1)
      const a = lines[i] ?? ""
      lines[i] = lines[j] ?? ""
      lines[j] = a
      break
    }
    case "replace":
      lines[i] = edit.text
      break
    case "insert":
      lines.splice(edit.i % (lines.length + 1), 0, edit.text)
      break
    case "append":
      lines[i] = `${lines[i] ?? ""}${edit.text}`
      break
    case "cut":
      lines[i] = (lines[i] ?? "").slice(0, edit.at)
      break
  }
}

const headerEdits = (backup: Backup): fc.Arbitrary<Mutation> => {
  const lines = backup.file.subarray(0, backup.headerEnd - 1).toString("latin1").split("\n")
  const i = fc.nat({ max: lines.length })
  const text = fc.oneof(fc.constantFrom(...craftedLines), fc.string({ unit: "binary-ascii", maxLength: 80 }))
  const edit: fc.Arbitrary<LineEdit> = fc.oneof(
    fc.record({ op: fc.constantFrom("delete" as const, "duplicate" as const), i }),
    fc.record({ op: fc.constant("swap" as const), i, j: i }),
    fc.record({ op: fc.constantFrom("replace" as const, "insert" as const), i, text }),
    fc.record({ op: fc.constant("append" as const), i, text: fc.constantFrom(" ", "\r", "=", "A", " x", "\t", "\n", "\nA") }),
    fc.record({ op: fc.constant("cut" as const), i, at: fc.nat({ max: 80 }) })
  )
  return fc.array(edit, { minLength: 1, maxLength: 3 }).map((edits) => {
    const edited = [...lines]
    for (const e of edits) applyLineEdit(edited, e)
    return mutation(
      `header edits ${JSON.stringify(edits)}`,
      Buffer.concat([Buffer.from(`${edited.join("\n")}\n`, "latin1"), backup.file.subarray(backup.headerEnd)])
    )
  })
}

const spliceEdits = (backup: Backup): fc.Arbitrary<Mutation> => {
  const { file } = backup
  const at = fc.nat({ max: file.length })
  const some = fc.uint8Array({ minLength: 1, maxLength: 64 }).map((b) => Buffer.from(b))
  return fc.oneof(
    fc.record({ at, bytes: some }).map(({ at, bytes }) =>
      mutation(`${bytes.length} bytes inserted at ${at}`, Buffer.concat([file.subarray(0, at), bytes, file.subarray(at)]))
    ),
    fc.record({ at, length: fc.integer({ min: 1, max: 2 * sealedChunkSize }) }).map(({ at, length }) =>
      mutation(`${length} bytes deleted at ${at}`, Buffer.concat([file.subarray(0, at), file.subarray(at + length)]))
    ),
    fc.record({ at, bytes: some }).map(({ at, bytes }) => {
      const copy = Buffer.from(file)
      copy.set(bytes.subarray(0, Math.max(copy.length - at, 0)), Math.min(at, copy.length))
      return mutation(`${bytes.length} bytes written at ${at}`, copy)
    }),
    fc.oneof(
      some.map((bytes) => ({ what: `${bytes.length} bytes appended`, bytes })),
      fc.constant({ what: "the last chunk appended again", bytes: backup.chunks.at(-1)! }),
      fc.constant({ what: "a 16-byte zero tag appended", bytes: Buffer.alloc(tagSize) }),
      fc.constant({ what: "the whole file appended", bytes: file })
    ).map(({ what, bytes }) => mutation(what, Buffer.concat([file, bytes])))
  )
}

describe("decrypt fuzzing", () => {
  let work: string
  let keyFile: string
  let keys: DecryptionKeys
  let otherKeys: DecryptionKeys
  let backups: ReadonlyArray<Backup>
  /** The payload is zstd of `plaintext`, as a real backup: for the CLI without --raw. */
  let compressed: Backup

  const encrypt = async (plaintext: Buffer, recipientTexts: ReadonlyArray<string>): Promise<Buffer> => {
    const recipients = recipientTexts.map((text) => Effect.runSync(parseRecipient(text, "test recipient")))
    // odd piece sizes, so the encryptor's chunking is not aligned with its input
    const pieces = Array.from({ length: Math.ceil(plaintext.length / 9_999) }, (_, i) => plaintext.subarray(i * 9_999, (i + 1) * 9_999))
    return collect(makeEncryption(recipients).encrypt(Stream.fromIterable(pieces)))
  }

  const backup = async (name: string, plaintext: Buffer, payload: Buffer = plaintext, recipientTexts = keys.encryptionKeys): Promise<Backup> => {
    const file = await encrypt(payload, recipientTexts)
    const twin = await encrypt(payload, recipientTexts)
    return Object.assign({ name, plaintext, file, twin, ...layout(file) }, { [fc.toStringMethod]: () => `the ${name} backup` })
  }

  beforeAll(async () => {
    work = fs.mkdtempSync(path.join(os.tmpdir(), "ubackup-fuzz-"))
    keyFile = (await initKeys(work)).keyFile
    keys = Effect.runSync(parseDecryptionKeys(fs.readFileSync(keyFile, "utf8"), keyFile))
    otherKeys = Effect.runSync(parseDecryptionKeys(`${encodeIdentity(generateSecret())}\n`, "other key"))
    backups = [
      await backup("0 B", Buffer.alloc(0)),
      await backup("1 B", crypto.randomBytes(1)),
      await backup("128 KiB (two full chunks)", crypto.randomBytes(2 * chunkSize)),
      await backup("200 KiB", crypto.randomBytes(200 * KiB + 123)),
      // another recipient's stanza first: the identity must skip it, not stop at it
      await backup("70 kB, two stanzas", crypto.randomBytes(70_000), undefined, [...otherKeys.encryptionKeys, ...keys.encryptionKeys])
    ]
    // random data does not compress: the zstd payload still spans four chunks
    const data = crypto.randomBytes(200 * KiB)
    compressed = await backup("zstd of 200 KiB", data, zlib.zstdCompressSync(data))
    for (const b of [...backups, compressed]) expect(b.file.subarray(0, 22).toString()).toBe("age-encryption.org/v1\n")
    expect(backups[3]!.chunks.length).toBe(4)
    expect(backups[2]!.chunks.map((c) => c.length)).toEqual([sealedChunkSize, sealedChunkSize])
  })

  afterAll(() => {
    const reasons = [...stats.reasons].sort((a, b) => b[1] - a[1]).map(([reason, n]) => `${reason} ${n}`).join(", ")
    console.log(`fuzz: ${stats.inProcess} in-process cases, ${stats.cli} CLI cases, ${stats.succeeded} succeeded (identical), ${stats.failedTyped} failed typed (${reasons})`)
    if (work !== undefined) fs.rmSync(work, { recursive: true, force: true })
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

  describe("through bin/ubackup decrypt", () => {
    const cliCheck = (backup: Backup, bytes: Buffer, run: Run, raw: boolean): Array<string> => {
      const unchanged = unmodified(backup, bytes)
      const problems: Array<string> = []
      if (unchanged) {
        if (run.code !== 0) problems.push(`exit ${String(run.code)} on the unmodified backup: ${run.stderr}`)
        if (!run.stdout.equals(backup.plaintext)) problems.push("the unmodified backup's output is not the plaintext")
        return problems
      }
      if (run.code === 0 || run.code === null) problems.push(`exit ${String(run.code)} (signal ${String(run.signal)})`)
      if (!/^ubackup: error: \S[^\n]*\n?$/.test(run.stderr)) problems.push(`stderr is not one "ubackup: error:" line: ${JSON.stringify(run.stderr.slice(0, 500))}`)
      if (run.stderr.length > 400) problems.push(`stderr of ${run.stderr.length} characters`)
      if (run.stderr.includes("    at ")) problems.push("stack trace on stderr")
      const failed: Outcome = { kind: "failed", out: run.stdout, error: new DecryptError({ reason: "Malformed", detail: "(the CLI's)" }) }
      problems.push(...problemsOf(backup, bytes, failed, false, raw))
      return problems
    }

    const cliRuns = async (numRuns: number, backup: Backup, raw: boolean) => {
      const damage = fc.oneof(randomInput(backup), truncation(backup), bitFlips(backup, backup.file.length), bitFlips(backup, backup.payloadStart), chunkEdits(backup), headerEdits(backup), spliceEdits(backup))
      const args = raw ? ["decrypt", "--raw", keyFile] : ["decrypt", keyFile]
      const first = await ubackup(args, { input: backup.file })
      stats.cli++
      expect(cliCheck(backup, backup.file, first, raw), "unmodified").toEqual([])
      await fc.assert(
        fc.asyncProperty(damage, async ({ what, bytes }) => {
          const run = await ubackup(args, { input: bytes })
          stats.cli++
          expect(cliCheck(backup, bytes, run, raw), what).toEqual([])
        }),
        // each case is a process: report the first failure as found rather than shrink through dozens more
        { numRuns, endOnFailure: true }
      )
    }

    it("--raw, the 200 KiB backup: exit, stdout and stderr", () => cliRuns(19, backups[3]!, true))
    it("decompressing a zstd payload", () => cliRuns(10, compressed, false))
  })
})
