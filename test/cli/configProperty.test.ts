/**
 * Property, through `bin/ubackup config validate FILE`: a config that
 * differs from a valid one in a single field (test/harness/configDamage.ts)
 * exits 1 with one `ubackup: error:` message that names the file and the
 * field's path, nothing on stdout and no stack trace. The loader itself is
 * tested over many more cases in test/config/property.test.ts.
 */
import fc from "fast-check"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { damageArb, type Json, localBase } from "../harness/configDamage.ts"
import { ubackup } from "../harness/cli.ts"

describe("config decoder, property-based", () => {
  let dir: string
  let files = 0
  const stats = { cli: 0 }

  const write = (config: Json): string => {
    const file = path.join(dir, `case-${++files}.json`)
    fs.writeFileSync(file, JSON.stringify(config, null, 2))
    return file
  }

  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "ubackup-config-property-"))
  })

  afterAll(() => {
    console.log(`config property: ${stats.cli} CLI cases`)
    if (dir !== undefined) fs.rmSync(dir, { recursive: true, force: true })
  })

  it("through bin/ubackup config validate FILE: exit 1, the path named, no stack", async () => {
    const valid = await ubackup(["config", "validate", write(localBase)])
    expect(valid.code, valid.stderr).toBe(0)
    await fc.assert(
      fc.asyncProperty(damageArb, async (damage) => {
        const file = write(damage.config)
        const run = await ubackup(["config", "validate", file])
        stats.cli++
        expect(run.code, `${damage.what}: ${run.stderr}`).toBe(1)
        expect(run.stdout.length).toBe(0)
        expect(run.stderr).toMatch(/^ubackup: error: /)
        expect(run.stderr, damage.what).toContain(`${file}: ${damage.path}`)
        expect(run.stderr).not.toMatch(/\n\s+at /)
      }),
      { numRuns: 12, endOnFailure: true }
    )
  })
})
