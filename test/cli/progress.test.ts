/**
 * The progress line (src/cli/progress.ts): under a pseudo-terminal
 * (`script -q -c`), `verify`, `storage get` and `manual-backup` draw it on
 * stderr and clear it at the end; through a pipe, or with --quiet, there
 * is none. progressLine's text is checked on its own.
 */
import { execFile } from "node:child_process"
import * as crypto from "node:crypto"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { promisify } from "node:util"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { progressLine } from "../../src/cli/progress.ts"
import { binary, initKeys, ubackup } from "../harness/cli.ts"
import { requireCommands } from "../harness/tools.ts"

const run = promisify(execFile)
const clear = "\r\x1b[K"

describe("progressLine", () => {
  it("bytes and rate; with a known size the share and the ETA", () => {
    expect(progressLine("db/x", 12 * 1024 * 1024, 1000, undefined)).toBe("12.0 MiB, 12.0 MiB/s: db/x")
    expect(progressLine("db/x", 25 * 1024 * 1024, 1000, 100 * 1024 * 1024)).toBe("25.0 MiB, 25.0 MiB/s, 25% ETA 3s: db/x")
    expect(progressLine("db/x", 100, 1000, 100)).toBe("100 B, 100 B/s, 100%: db/x")
  })
})

describe.runIf(requireCommands("progress line", "script"))("progress on a terminal", () => {
  let dir: string
  let config: string
  let keyFile: string
  let id: string
  let input: string

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "ubackup-progress-test-"))
    keyFile = (await initKeys(dir)).keyFile
    config = path.join(dir, "config.json")
    input = path.join(dir, "input.bin")
    fs.writeFileSync(input, crypto.randomBytes(8 * 1024 * 1024))
    const backup = await ubackup(["manual-backup", "files", "t1", "--config", config], { input: fs.readFileSync(input) })
    expect(backup.code, backup.stderr).toBe(0)
    id = backup.stdout.toString().trim()
  })

  afterAll(() => {
    if (dir !== undefined) fs.rmSync(dir, { recursive: true, force: true })
  })

  const quote = (word: string) => `'${word.replaceAll("'", `'\\''`)}'`
  /** `command` under a pseudo-terminal: what the terminal showed (stdout and stderr together). */
  const onTerminal = async (command: string) => {
    const { stdout } = await run("script", ["-q", "-e", "-c", command, "/dev/null"], { maxBuffer: 64 * 1024 * 1024 })
    return stdout
  }

  it("verify, storage get -o and manual-backup draw a line with the size and clear it; --quiet draws none", async () => {
    const verify = await onTerminal(`${binary} verify ${quote(id)} --key ${quote(keyFile)} --config ${quote(config)}`)
    expect(verify).toContain(clear)
    expect(verify).toMatch(/\d+(\.\d)? (B|KiB|MiB), .*\/s, \d+%.*: files\//)
    expect(verify).toMatch(/\x1b\[Kok\t/)

    const get = await onTerminal(`${binary} storage get ${quote(id)} -o ${quote(path.join(dir, "copy.age"))} --config ${quote(config)}`)
    expect(get).toMatch(/\d+%( ETA \S+)?: files\//)

    const backup = await onTerminal(`${binary} manual-backup files t2 --config ${quote(config)} < ${quote(input)}`)
    expect(backup).toMatch(/, \d+%.*: standard input/)

    const quiet = await onTerminal(`${binary} verify ${quote(id)} --key ${quote(keyFile)} --config ${quote(config)} --quiet`)
    expect(quiet).not.toContain(clear)
    expect(quiet).toMatch(/ok\t/)
  })

  it("not a terminal: no progress at all", async () => {
    const piped = await ubackup(["verify", id, "--key", keyFile, "--config", config])
    expect(piped.code, piped.stderr).toBe(0)
    expect(piped.stderr).not.toContain("\x1b[K")
  })
})
