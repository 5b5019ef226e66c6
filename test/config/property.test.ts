/**
 * Property: a config that differs from a valid one in a single field (a
 * wrong-typed or out-of-range value at any depth, a required key removed,
 * an unknown key added) is refused by the loader with a `ConfigError` for
 * the file it came from, whose issues all sit at that field (or inside it),
 * and whose message names the file and the field's path as the project
 * writes it (`storage.s3.bucket`, `static_targets[1].backup_command[0]`).
 * A string that is no key, in `encryption_recipients[i]`, is refused by the
 * encryption layer with a `KeyError` that names the field, without echoing
 * the string.
 *
 * The two valid starting points hold every field of the schema (one with
 * local storage, as `ubackup init` writes it and then some, one with S3);
 * fast-check picks the field and the damage (test/harness/configDamage.ts).
 * A few cases also go through `bin/ubackup config validate FILE`
 * (test/cli/configProperty.test.ts).
 */
import { Cause, Effect, Exit, Option, Result } from "effect"
import fc from "fast-check"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { ConfigError } from "../../src/config/errors.ts"
import { layerEncryption } from "../../src/config/layers.ts"
import { loadConfig } from "../../src/config/load.ts"
import { Encryption } from "../../src/encryption/Encryption.ts"
import { KeyError } from "../../src/encryption/errors.ts"
import { damageArb, type Json, localBase, recipient, s3Base, sitesOf } from "../harness/configDamage.ts"

/** The path itself, or a field inside it. */
const within = (issuePath: string, path: string) =>
  path === "" || issuePath === path || issuePath.startsWith(`${path}.`) || issuePath.startsWith(`${path}[`)

describe("config decoder, property-based", () => {
  let dir: string
  let files = 0
  const stats = { refused: 0, keyErrors: 0 }

  const write = (config: Json): string => {
    const file = path.join(dir, `case-${++files}.json`)
    fs.writeFileSync(file, JSON.stringify(config, null, 2))
    return file
  }

  const load = (file: string) => Effect.runPromiseExit(loadConfig(Option.some(file)))

  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "ubackup-config-property-"))
  })

  afterAll(() => {
    console.log(`config property: ${stats.refused} malformed configs refused with their path, ${stats.keyErrors} bad recipients`)
    if (dir !== undefined) fs.rmSync(dir, { recursive: true, force: true })
  })

  it("the starting points are valid, and every field of theirs is in the kind table", async () => {
    for (const base of [localBase, s3Base]) {
      const exit = await load(write(base))
      expect(Exit.isSuccess(exit), Exit.isFailure(exit) ? Cause.pretty(exit.cause) : "").toBe(true)
      expect(sitesOf(base).length).toBeGreaterThan(10)
    }
    expect(sitesOf(localBase).length + sitesOf(s3Base).length).toBeGreaterThan(70)
  })

  it("one damaged field: a ConfigError naming the file and that field's path", async () => {
    await fc.assert(
      fc.asyncProperty(damageArb, async (damage) => {
        const file = write(damage.config)
        const exit = await load(file)
        expect(Exit.isFailure(exit), `${damage.what}: accepted`).toBe(true)
        if (Exit.isSuccess(exit)) return
        const found = Cause.findError(exit.cause)
        expect(Cause.hasDies(exit.cause), `${damage.what}: a defect: ${Cause.pretty(exit.cause)}`).toBe(false)
        expect(Result.isSuccess(found) && found.success instanceof ConfigError, damage.what).toBe(true)
        if (Result.isFailure(found) || !(found.success instanceof ConfigError)) return
        const error = found.success
        expect(error._tag).toBe("ConfigError")
        expect(error.source).toBe(file)
        const paths = error.issues.map((issue) => issue.path)
        expect(paths.length, damage.what).toBeGreaterThan(0)
        // nothing else in the config changed, so nothing else may be blamed
        expect(paths.filter((p) => !within(p, damage.path)), `${damage.what}: issues at ${paths.join(", ")}`).toEqual([])
        const lines = error.message.split("\n")
        expect(lines.length).toBe(error.issues.length)
        for (const [i, issue] of error.issues.entries()) expect(lines[i]).toBe(`${file}: ${issue.path}: ${issue.message}`)
        expect(lines.some((line) => line.startsWith(`${file}: ${damage.path}`)), `${damage.what}: ${error.message}`).toBe(true)
        stats.refused++
      }),
      { numRuns: 400 }
    )
  })

  it("a string that is no key in encryption_recipients[i]: a KeyError naming the field, not the string", async () => {
    const prefixes = ["", "age1", "age1qqqq", "ssh-rsa ", "ssh-ed25519 ", "-----BEGIN PUBLIC KEY-----\n", "AGE-SECRET-KEY-1", "  "]
    const arb = fc.record({
      prefix: fc.constantFrom(...prefixes),
      // a marker the message must not contain: keys and their near-misses are never echoed
      token: fc.stringMatching(/^[a-z0-9]{12,20}$/),
      at: fc.nat({ max: 2 })
    })
    await fc.assert(
      fc.asyncProperty(arb, async ({ prefix, token, at }) => {
        const recipients: Array<string> = [recipient, recipient]
        recipients.splice(at, 0, `${prefix}${token}`)
        const file = write({ ...localBase, encryption_recipients: recipients })
        const exit = await Effect.runPromiseExit(
          loadConfig(Option.some(file)).pipe(Effect.flatMap((loaded) => Effect.provide(Effect.gen(function*() { return yield* Encryption }), layerEncryption(loaded))))
        )
        expect(Exit.isFailure(exit)).toBe(true)
        if (Exit.isSuccess(exit)) return
        const found = Cause.findError(exit.cause)
        expect(Result.isSuccess(found) && found.success instanceof KeyError, Cause.pretty(exit.cause)).toBe(true)
        if (Result.isFailure(found)) return
        const error = found.success as KeyError
        expect(error.source).toBe(`${file}: encryption_recipients[${at}]`)
        expect(error.message.startsWith(`${file}: encryption_recipients[${at}]: `)).toBe(true)
        expect(error.message).not.toContain(token)
        stats.keyErrors++
      }),
      { numRuns: 60 }
    )
  })
})
