/**
 * Property, through the real `bin/ubackup decrypt` (with and without --raw):
 * whatever bytes reach it, a damaged backup (test/harness/ageDamage.ts: a
 * smaller sample of the damage test/encryption/fuzz.test.ts does in-process)
 * exits non-zero with stdout a prefix of the plaintext, one short
 * `ubackup: error:` line, no stack trace; an unmodified one exits 0 with the
 * plaintext.
 */
import { Effect } from "effect"
import fc from "fast-check"
import * as crypto from "node:crypto"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import * as zlib from "node:zlib"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { DecryptError } from "../../src/encryption/errors.ts"
import { type DecryptionKeys, parseDecryptionKeys } from "../../src/encryption/keys.ts"
import {
  type Backup,
  bitFlips,
  chunkEdits,
  headerEdits,
  KiB,
  makeBackup,
  type Outcome,
  problemsOf,
  randomInput,
  spliceEdits,
  truncation,
  unmodified
} from "../harness/ageDamage.ts"
import { initKeys, type Run, ubackup } from "../harness/cli.ts"

describe("decrypt fuzzing", () => {
  let work: string
  let keyFile: string
  let keys: DecryptionKeys
  /** 200 KiB of random bytes: four chunks. */
  let large: Backup
  /** The payload is zstd of `plaintext`, as a real backup: for the CLI without --raw. */
  let compressed: Backup
  let cliCases = 0

  beforeAll(async () => {
    work = fs.mkdtempSync(path.join(os.tmpdir(), "ubackup-fuzz-"))
    keyFile = (await initKeys(work)).keyFile
    keys = Effect.runSync(parseDecryptionKeys(fs.readFileSync(keyFile, "utf8"), keyFile))
    const plaintext = crypto.randomBytes(200 * KiB + 123)
    large = await makeBackup("200 KiB", plaintext, plaintext, keys.encryptionKeys)
    // random data does not compress: the zstd payload still spans four chunks
    const data = crypto.randomBytes(200 * KiB)
    compressed = await makeBackup("zstd of 200 KiB", data, zlib.zstdCompressSync(data), keys.encryptionKeys)
    for (const b of [large, compressed]) expect(b.file.subarray(0, 22).toString()).toBe("age-encryption.org/v1\n")
    expect(large.chunks.length).toBe(4)
  })

  afterAll(() => {
    console.log(`fuzz: ${cliCases} CLI cases`)
    if (work !== undefined) fs.rmSync(work, { recursive: true, force: true })
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
      cliCases++
      expect(cliCheck(backup, backup.file, first, raw), "unmodified").toEqual([])
      await fc.assert(
        fc.asyncProperty(damage, async ({ what, bytes }) => {
          const run = await ubackup(args, { input: bytes })
          cliCases++
          expect(cliCheck(backup, bytes, run, raw), what).toEqual([])
        }),
        // each case is a process: report the first failure as found rather than shrink through dozens more
        { numRuns, endOnFailure: true }
      )
    }

    it("--raw, the 200 KiB backup: exit, stdout and stderr", () => cliRuns(19, large, true))
    it("decompressing a zstd payload", () => cliRuns(10, compressed, false))
  })
})
