/**
 * Real age files for the decrypt fuzzing, the damage done to them, and what
 * decrypting one may end with: exactly the plaintext of an unmodified file,
 * or a typed failure after releasing only an authenticated prefix. The
 * damage: random bytes, truncation, bit flips (anywhere, and packed into the
 * header), chunks reordered, repeated, dropped or taken from another
 * encryption of the same plaintext, header lines edited, spans inserted,
 * deleted, overwritten or appended. Shared by test/encryption/fuzz.test.ts
 * (the library's decrypt, in-process) and test/cli/decryptFuzz.test.ts
 * (`bin/ubackup decrypt`).
 */
import { Effect, Stream } from "effect"
import fc from "fast-check"
import * as crypto from "node:crypto"
import { makeEncryption } from "../../src/encryption/Encryption.ts"
import { type DecryptError, DecryptFailure } from "../../src/encryption/errors.ts"
import { parseRecipient } from "../../src/encryption/keys.ts"

export const KiB = 1024
export const chunkSize = 64 * KiB
export const tagSize = 16
export const sealedChunkSize = chunkSize + tagSize
export const nonceSize = 16
/** Far above what one decryption of these sizes takes: only a hang reaches it. */
export const caseTimeout = "5 seconds"

export interface Backup {
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

export interface Mutation {
  /** For a failing case's report; short, never the bytes themselves. */
  readonly what: string
  readonly bytes: Buffer
}

/** fast-check prints a failing case with this: the description, not megabytes of bytes. */
export const mutation = (what: string, bytes: Buffer): Mutation =>
  Object.assign({ what, bytes }, { [fc.toStringMethod]: () => `${what} (${bytes.length} bytes)` })

export const layout = (file: Buffer) => {
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

export type Outcome =
  | { readonly kind: "succeeded"; readonly out: Buffer }
  | { readonly kind: "failed"; readonly out: Buffer; readonly error: DecryptError }
  | { readonly kind: "defect"; readonly out: Buffer; readonly cause: string }
  | { readonly kind: "hang"; readonly out: Buffer }

/**
 * What is wrong with one outcome; empty when it keeps the property.
 * `chunkBounds`: also check the chunk-level rules (off for a decompressed CLI
 * output, whose offsets are not the payload's).
 */
export const problemsOf = (backup: Backup, bytes: Buffer, outcome: Outcome, expectSuccess: boolean, chunkBounds = true): Array<string> => {
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

export const unmodified = (backup: Backup, bytes: Buffer) => bytes.equals(backup.file) || bytes.equals(backup.twin)

// --- the damage ------------------------------------------------------------

export const flipBits = (file: Buffer, flips: ReadonlyArray<{ readonly at: number; readonly bit: number }>): Buffer => {
  const copy = Buffer.from(file)
  for (const { at, bit } of flips) copy[at] = copy[at]! ^ (1 << bit)
  return copy
}

export const randomInput = (backup: Backup): fc.Arbitrary<Mutation> => {
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

export const truncation = (backup: Backup): fc.Arbitrary<Mutation> => {
  const { file } = backup
  const edges = [backup.headerEnd, backup.payloadStart, ...backup.chunks.flatMap((c) => [c.byteOffset - file.byteOffset, c.byteOffset - file.byteOffset + c.length - tagSize])]
  const near = fc.record({ edge: fc.constantFrom(...edges), delta: fc.integer({ min: -2, max: 2 }) })
    .map(({ edge, delta }) => Math.min(Math.max(edge + delta, 0), file.length - 1))
  return fc.oneof(fc.nat({ max: file.length - 1 }), near).map((length) => mutation(`cut to ${length} of ${file.length} bytes`, file.subarray(0, length)))
}

export const bitFlips = (backup: Backup, within: number): fc.Arbitrary<Mutation> =>
  fc.array(fc.record({ at: fc.nat({ max: within - 1 }), bit: fc.nat({ max: 7 }) }), { minLength: 1, maxLength: 8 })
    .map((flips) => mutation(`bits flipped at ${flips.map((f) => `${f.at}.${f.bit}`).join(", ")}`, flipBits(backup.file, flips)))

export const chunkEdits = (backup: Backup): fc.Arbitrary<Mutation> => {
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

export const b64 = (bytes: Uint8Array) => Buffer.from(bytes).toString("base64").replace(/=+$/, "")
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

export const headerEdits = (backup: Backup): fc.Arbitrary<Mutation> => {
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

export const spliceEdits = (backup: Backup): fc.Arbitrary<Mutation> => {
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

// --- the files ------------------------------------------------------------

const encrypt = async (plaintext: Buffer, recipientTexts: ReadonlyArray<string>): Promise<Buffer> => {
  const recipients = recipientTexts.map((text) => Effect.runSync(parseRecipient(text, "test recipient")))
  // odd piece sizes, so the encryptor's chunking is not aligned with its input
  const pieces = Array.from({ length: Math.ceil(plaintext.length / 9_999) }, (_, i) => plaintext.subarray(i * 9_999, (i + 1) * 9_999))
  return collect(makeEncryption(recipients).encrypt(Stream.fromIterable(pieces)))
}

/** An age file of `payload` (the plaintext, or its compression) for `recipientTexts`, made by the library, and its twin. */
export const makeBackup = async (name: string, plaintext: Buffer, payload: Buffer, recipientTexts: ReadonlyArray<string>): Promise<Backup> => {
  const file = await encrypt(payload, recipientTexts)
  const twin = await encrypt(payload, recipientTexts)
  return Object.assign({ name, plaintext, file, twin, ...layout(file) }, { [fc.toStringMethod]: () => `the ${name} backup` })
}
