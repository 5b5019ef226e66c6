/**
 * Damage to a stored backup is an error, never silent damage (docs/FORMAT.md,
 * "Payload"): a flipped byte anywhere, reordered, dropped or repeated chunks,
 * truncation and appended bytes all make `ubackup decrypt` fail with one
 * clear line, after releasing at most the chunks before the damage.
 *
 * One real backup (300 KB of random bytes, so ~5 chunks of payload) is
 * damaged in many ways; `decrypt --raw` shows exactly which plaintext was
 * released: it must be a prefix of the undamaged output that ends at a chunk
 * boundary at or before the damaged chunk.
 */
import * as crypto from "node:crypto"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { initKeys, type Run, ubackup } from "../harness/cli.ts"
import { requireCommands } from "../harness/tools.ts"

const chunkSize = 64 * 1024
const sealedChunkSize = chunkSize + 16
const nonceSize = 16

interface Layout {
  /** End of the header: just after the newline of the `--- ` line. */
  readonly headerEnd: number
  /** First byte of the first chunk (headerEnd + nonce). */
  readonly payloadStart: number
  /** [start, end) of each sealed chunk. */
  readonly chunks: ReadonlyArray<readonly [number, number]>
}

const parseLayout = (file: Buffer): Layout => {
  const macLine = file.indexOf("\n--- ")
  if (macLine < 0) throw new Error("no `--- ` line in the backup")
  const headerEnd = file.indexOf("\n", macLine + 1) + 1
  if (headerEnd === 0) throw new Error("the `--- ` line does not end")
  const payloadStart = headerEnd + nonceSize
  const chunks: Array<readonly [number, number]> = []
  for (let start = payloadStart; start < file.length; start += sealedChunkSize) {
    chunks.push([start, Math.min(start + sealedChunkSize, file.length)])
  }
  return { headerEnd, payloadStart, chunks }
}

interface Damage {
  readonly name: string
  readonly bytes: Buffer
  /**
   * The first chunk index the damage touches (0 for the header and the
   * nonce; the chunk count for bytes after the last chunk): released
   * plaintext may cover chunks before it only.
   */
  readonly at: number
}

const flip = (file: Buffer, position: number): Buffer => {
  const copy = Buffer.from(file)
  copy[position] = copy[position]! ^ 0x01
  return copy
}

describe.runIf(requireCommands("tampered backups", "zstd"))("tampered backups", () => {
  let work: string
  let keyFile: string
  let original: Buffer
  /** The stored backup, undamaged. */
  let file: Buffer
  let layout: Layout
  /** `decrypt --raw` of the undamaged backup: the zstd stream. */
  let raw: Buffer

  const chunk = (i: number): Buffer => {
    const range = layout.chunks[i]
    if (range === undefined) throw new Error(`no chunk ${i}`)
    return file.subarray(range[0], range[1])
  }

  /** Problems with one damaged case; an empty list when it failed as it should. */
  const check = (damage: Damage, result: Run, options: { readonly raw: boolean } = { raw: true }): Array<string> => {
    const problems: Array<string> = []
    const stderr = result.stderr
    if (result.code === 0 || result.code === null) problems.push(`exit code ${String(result.code)} (signal ${String(result.signal)})`)
    if (!/^ubackup: error: \S[^\n]*\n?$/.test(stderr)) problems.push(`stderr is not one "ubackup: error:" line: ${JSON.stringify(stderr)}`)
    if (stderr.includes("    at ")) problems.push("stack trace on stderr")
    if (options.raw) {
      const out = result.stdout
      const released = Math.ceil(out.length / chunkSize)
      if (!out.equals(raw.subarray(0, out.length))) problems.push(`stdout (${out.length} bytes) is not a prefix of the plaintext`)
      else if (out.length % chunkSize !== 0 && out.length !== raw.length) {
        problems.push(`stdout (${out.length} bytes) does not end at a chunk boundary`)
      } else if (released > damage.at) {
        problems.push(`stdout holds ${released} chunk(s) of plaintext, but the damage is at chunk ${damage.at}`)
      }
    }
    return problems.map((problem) => `${damage.name}: ${problem}`)
  }

  const runAll = async (damages: ReadonlyArray<Damage>, options: { readonly raw: boolean } = { raw: true }) => {
    expect(damages.length).toBeGreaterThan(0)
    const problems: Array<string> = []
    for (const damage of damages) {
      expect(damage.bytes.equals(file), `${damage.name}: the case does not damage anything`).toBe(false)
      const args = options.raw ? ["decrypt", "--raw", keyFile] : ["decrypt", keyFile]
      problems.push(...check(damage, await ubackup(args, { input: damage.bytes }), options))
    }
    expect(problems).toEqual([])
  }

  beforeAll(async () => {
    work = fs.mkdtempSync(path.join(os.tmpdir(), "ubackup-tamper-"))
    keyFile = (await initKeys(work)).keyFile
    original = crypto.randomBytes(300 * 1000)
    const made = await ubackup(["manual-backup", "--config", path.join(work, "config.json"), "svc", "t1"], { input: original })
    expect(made.code, made.stderr).toBe(0)
    file = fs.readFileSync(path.join(work, "backups", made.stdout.toString().trim()))
    layout = parseLayout(file)
    const decrypted = await ubackup(["decrypt", "--raw", keyFile], { input: file })
    expect(decrypted.code, decrypted.stderr).toBe(0)
    raw = decrypted.stdout
  })

  afterAll(() => {
    if (work !== undefined) fs.rmSync(work, { recursive: true, force: true })
  })

  it("the undamaged backup decrypts, and its layout is as docs/FORMAT.md says", async () => {
    expect(file.subarray(0, 22).toString()).toBe("age-encryption.org/v1\n")
    expect(file.subarray(0, layout.headerEnd).toString("latin1")).toMatch(
      /^age-encryption\.org\/v1\n-> X25519 [A-Za-z0-9+/]{43}\n[A-Za-z0-9+/]{43}\n--- [A-Za-z0-9+/]{43}\n$/
    )
    // incompressible input: one zstd frame a little larger than the input, so five chunks
    expect(layout.chunks.length).toBe(5)
    const last = layout.chunks.at(-1)!
    expect(last[1] - last[0]).toBe(raw.length - 4 * chunkSize + 16)
    expect(raw.subarray(0, 4).toString("hex")).toBe("28b52ffd")
    const plain = await ubackup(["decrypt", keyFile], { input: file })
    expect(plain.code, plain.stderr).toBe(0)
    expect(plain.stdout.equals(original)).toBe(true)
  })

  it("a flipped byte anywhere in the header is an error that releases nothing", async () => {
    const header = file.subarray(0, layout.headerEnd).toString("latin1")
    const stanza = header.indexOf("\n-> X25519 ") + 1
    const share = stanza + "-> X25519 ".length
    const body = header.indexOf("\n", share) + 1
    const macLine = header.indexOf("\n--- ") + 1
    const mac = macLine + "--- ".length
    const positions: Array<[string, number]> = [
      ["version line, first byte", 0],
      ["version line, the dot", 3],
      ["version line, the slash", 18],
      ["version line, the v", 19],
      ["version line, the 1", 20],
      ["version line, its newline", 21],
      ["stanza, the arrow", stanza],
      ["stanza, the space after the arrow", stanza + 2],
      ["stanza type", stanza + 3],
      ["stanza type, last byte", stanza + 8],
      ["stanza argument, first byte", share],
      ["stanza argument, middle", share + 21],
      ["stanza argument, last byte", share + 42],
      ["stanza argument, its newline", share + 43],
      ["stanza body, first byte", body],
      ["stanza body, middle", body + 20],
      ["stanza body, last byte", body + 42],
      ["stanza body, its newline", body + 43],
      ["MAC line, the dashes", macLine + 1],
      ["MAC line, the space", macLine + 3],
      ["MAC, first byte", mac],
      ["MAC, middle", mac + 20],
      ["MAC, last byte", mac + 42],
      ["MAC line, its newline", layout.headerEnd - 1]
    ]
    for (const [, position] of positions) expect(position).toBeLessThan(layout.headerEnd)
    await runAll(positions.map(([name, position]) => ({ name: `${name} (byte ${position})`, bytes: flip(file, position), at: 0 })))
  })

  it("a flipped byte in the payload nonce or in any chunk is an error at that chunk", async () => {
    const damages: Array<Damage> = []
    for (const offset of [0, 1, 7, 15]) {
      const position = layout.headerEnd + offset
      damages.push({ name: `nonce byte ${offset}`, bytes: flip(file, position), at: 0 })
    }
    layout.chunks.forEach(([start, end], i) => {
      const ciphertextEnd = end - 16
      const spots: Array<[string, number]> = [
        ["first byte", start],
        ["second byte", start + 1],
        ["middle", start + Math.floor((ciphertextEnd - start) / 2)],
        ["last ciphertext byte", ciphertextEnd - 1],
        ["first tag byte", ciphertextEnd],
        ["last tag byte", end - 1]
      ]
      for (const [name, position] of spots) damages.push({ name: `chunk ${i}, ${name} (byte ${position})`, bytes: flip(file, position), at: i })
    })
    expect(damages.length).toBeGreaterThanOrEqual(30)
    await runAll(damages)
  })

  it("swapped, dropped and repeated chunks are errors", async () => {
    const head = file.subarray(0, layout.payloadStart)
    const all = layout.chunks.map((_, i) => chunk(i))
    const assemble = (order: ReadonlyArray<number>) => Buffer.concat([head, ...order.map((i) => all[i]!)])
    const indices = all.map((_, i) => i)
    await runAll([
      { name: "chunks 1 and 2 swapped", bytes: assemble([0, 2, 1, ...indices.slice(3)]), at: 1 },
      { name: "chunks 0 and 1 swapped", bytes: assemble([1, 0, ...indices.slice(2)]), at: 0 },
      { name: "chunk 1 dropped", bytes: assemble([0, ...indices.slice(2)]), at: 1 },
      { name: "chunk 0 dropped", bytes: assemble(indices.slice(1)), at: 0 },
      { name: "chunk 0 repeated", bytes: assemble([0, ...indices]), at: 1 },
      { name: "chunk 2 repeated", bytes: assemble([0, 1, 2, 2, ...indices.slice(3)]), at: 3 },
      { name: "the last two chunks swapped", bytes: assemble([...indices.slice(0, -2), indices.at(-1)!, indices.at(-2)!]), at: all.length - 2 },
      { name: "the last chunk dropped", bytes: assemble(indices.slice(0, -1)), at: all.length - 1 }
    ])
  })

  it("a truncated backup is an error, wherever it is cut", async () => {
    const cuts: Array<[string, number, number]> = [
      ["inside the version line", 10, 0],
      ["after the version line", 22, 0],
      ["inside the stanza", 40, 0],
      ["inside the MAC line", layout.headerEnd - 20, 0],
      ["before the MAC line's newline", layout.headerEnd - 1, 0],
      ["header only", layout.headerEnd, 0],
      ["inside the nonce", layout.headerEnd + 8, 0],
      ["header and nonce only", layout.payloadStart, 0]
    ]
    layout.chunks.forEach(([start, end], i) => {
      if (i > 0) cuts.push([`exactly at the start of chunk ${i}`, start, i])
      cuts.push([`1 byte into chunk ${i}`, start + 1, i])
      cuts.push([`inside chunk ${i}`, start + Math.floor((end - start) / 2), i])
      cuts.push([`inside chunk ${i}'s tag`, end - 8, i])
    })
    cuts.push(["one byte short of the end", file.length - 1, layout.chunks.length - 1])
    for (const [, length] of cuts) expect(length).toBeLessThan(file.length)
    await runAll(cuts.map(([name, length, at]) => ({ name: `${name} (${length} bytes)`, bytes: file.subarray(0, length), at })))
  })

  it("bytes after the last chunk are an error", async () => {
    const n = layout.chunks.length
    await runAll([
      { name: "1 byte appended", bytes: Buffer.concat([file, Buffer.of(0)]), at: n },
      { name: "a copy of the last chunk appended", bytes: Buffer.concat([file, chunk(n - 1)]), at: n },
      { name: "16 bytes appended", bytes: Buffer.concat([file, Buffer.alloc(16)]), at: n },
      { name: "a whole copy of the file appended", bytes: Buffer.concat([file, file]), at: n }
    ])
  })

  it("decompressing (no --raw), damage still makes decrypt fail", async () => {
    const [firstStart] = layout.chunks[0]!
    const [secondStart] = layout.chunks[2]!
    await runAll(
      [
        { name: "header MAC flipped", bytes: flip(file, layout.headerEnd - 2), at: 0 },
        { name: "chunk 0 flipped", bytes: flip(file, firstStart + 100), at: 0 },
        { name: "chunk 2 flipped", bytes: flip(file, secondStart + 100), at: 2 },
        { name: "truncated at chunk 3", bytes: file.subarray(0, layout.chunks[3]![0]), at: 3 },
        { name: "one byte short", bytes: file.subarray(0, file.length - 1), at: layout.chunks.length - 1 },
        { name: "1 byte appended", bytes: Buffer.concat([file, Buffer.of(0)]), at: layout.chunks.length }
      ],
      { raw: false }
    )
  })

  it("an empty input and the wrong key are errors too", async () => {
    const otherKey = (await initKeys(path.join(work, "other"))).keyFile
    const problems: Array<string> = []
    problems.push(...check({ name: "empty input", bytes: Buffer.alloc(0), at: 0 }, await ubackup(["decrypt", "--raw", keyFile], { input: Buffer.alloc(0) })))
    problems.push(
      ...check(
        { name: "another X25519 key", bytes: file, at: 0 },
        await ubackup(["decrypt", "--raw", otherKey], { input: file })
      )
    )
    expect(problems).toEqual([])
  })
})
