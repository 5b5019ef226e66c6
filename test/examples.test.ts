/**
 * The examples (examples/*) as an app runs them: each copied into a fresh
 * folder with the packed package installed (test/harness/packedApp.ts), run
 * by this Node as it is (plain JavaScript, or TypeScript by type stripping:
 * no build step, no tsconfig), and expected to exit 0 having reported each
 * step of its round trip. What an example imports must be what its
 * package.json declares, and the TypeScript one must type-check against the
 * package's declarations.
 */
import { execFileSync, spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { beforeAll, describe, expect, it } from "vitest"
import { installTarball, packRepository, repositoryRoot } from "./harness/packedApp.ts"

let tarball = ""

beforeAll(() => {
  // dist/ was built by the test run's global setup
  tarball = packRepository("ubackup-examples-")
}, 120_000)

/** A copy of examples/<name> with the packed package installed, as `npm install` in it would give. */
const install = (name: string): string => {
  const source = path.join(repositoryRoot, "examples", name)
  const app = path.join(path.dirname(tarball), name)
  fs.cpSync(source, app, { recursive: true, filter: (file) => !file.split(path.sep).includes("node_modules") })
  installTarball(tarball, app)
  return app
}

/** The packages the example's own files import (not node: built-ins, not relative files). */
const importedPackages = (app: string): Array<string> => {
  const imported = new Set<string>()
  for (const file of fs.readdirSync(app)) {
    if (!/\.(?:m?js|ts)$/.test(file)) continue
    for (const [, specifier] of fs.readFileSync(path.join(app, file), "utf8").matchAll(/^(?:import|export)\b[^;]*?\bfrom\s*"([^".][^"]*)"/gm)) {
      if (!specifier!.startsWith("node:")) imported.add(specifier!.startsWith("@") ? specifier!.split("/").slice(0, 2).join("/") : specifier!.split("/")[0]!)
    }
  }
  return [...imported].sort()
}

const declaredPackages = (app: string): Array<string> =>
  Object.keys((JSON.parse(fs.readFileSync(path.join(app, "package.json"), "utf8")) as { dependencies: Record<string, string> }).dependencies).sort()

/** Runs the example's start script's file with this Node; its exit status and output. */
const start = (app: string) => {
  const { scripts } = JSON.parse(fs.readFileSync(path.join(app, "package.json"), "utf8")) as { scripts: { start: string } }
  const [command, script, ...rest] = scripts.start.split(" ")
  expect([command, rest]).toEqual(["node", []])
  const result = spawnSync(process.execPath, [script!], { cwd: app, encoding: "utf8", timeout: 60_000 })
  return { status: result.status, stdout: result.stdout, stderr: result.stderr, output: `${result.stdout}${result.stderr}` }
}

describe("examples", () => {
  it("sqlite-snapshot: a live node:sqlite database backed up through ubackup/promise, restored with the private key, rows compared", () => {
    const app = install("sqlite-snapshot")
    expect(importedPackages(app)).toEqual(["ubackup"])
    expect(declaredPackages(app)).toEqual(["ubackup"])

    const { status, stdout, output } = start(app)
    expect(status, output).toBe(0)
    const lines = stdout.trim().split("\n")
    expect(lines, output).toHaveLength(5)
    expect(lines[0]).toMatch(/^source: +2000 rows in todos, snapshot of \d+ bytes taken while the database was open$/)
    expect(lines[1]).toMatch(/^stored: +todos\/\d{4}-\d{2}-\d{2} \d{4}Z_[^_]+_db\.sqlite\.zst\.age, \d+ bytes \(zstd, age\) in local /)
    const id = /^stored: +(\S+ \S+),/.exec(lines[1]!)![1]
    expect(lines[2]).toBe(`listed:   1 backup(s) of todos, newest ${id}`)
    const snapshotBytes = /snapshot of (\d+) bytes/.exec(lines[0]!)![1]
    expect(lines[3]).toBe(`restored: ${snapshotBytes} bytes, integrity ok, 2000 rows`)
    expect(lines[4]).toBe("OK: the restored database matches the source")
    expect(output).not.toContain("MISMATCH")
  })

  it("effect-app: the app's own Storage and logger with ubackup's compression and encryption, under the Ubackup service", () => {
    const app = install("effect-app")
    expect(importedPackages(app)).toEqual(["effect", "ubackup"])
    expect(declaredPackages(app)).toEqual(["effect", "ubackup"])

    const { status, stdout, output } = start(app)
    expect(status, output).toBe(0)
    const lines = stdout.trim().split("\n")
    // every line came through the app's logger
    expect(lines.filter((line) => !line.startsWith("[effect-app] INFO ")), output).toEqual([])
    const messages = lines.map((line) => line.slice("[effect-app] INFO ".length))
    expect(messages, output).toHaveLength(7)
    expect(messages[0]).toMatch(/^backing up to daily folders \//)
    // the app's storage wrote the backup into the folder of its day; the second of the minute is its `~2` variant
    const wrote = messages.filter((message) => message.startsWith("daily folders: wrote "))
    const stored = messages.filter((message) => message.startsWith("stored ")).map((message) => /^stored (\S+ \S+):/.exec(message)![1]!)
    expect(wrote).toHaveLength(2)
    expect(stored).toHaveLength(2)
    stored.forEach((id, i) => {
      const [service, file] = id.split("/") as [string, string]
      expect(id).toMatch(/^inventory\/\d{4}-\d{2}-\d{2} \d{4}Z(?:~2)?_[^_]+_export\.jsonl\.zst\.age$/)
      expect(wrote[i]).toBe(`daily folders: wrote ${service}/${file.slice(0, 10)}/${file}`)
    })
    expect(new Set(stored).size).toBe(2)
    expect(messages).toContain(`listed 2 backups of inventory, newest ${stored[1]}`)
    expect(messages.at(-1)).toMatch(/^restored (\d+) bytes: they match the stream backed up$/)
    expect(messages.at(-1)).toContain(`restored ${/: (\d+) bytes in,/.exec(messages[2]!)![1]} bytes`)

    // the same files type-check against the package's declarations (an editor's settings: .ts imports allowed)
    fs.writeFileSync(
      path.join(app, "tsconfig.json"),
      JSON.stringify({
        compilerOptions: {
          target: "ES2023",
          module: "nodenext",
          moduleResolution: "nodenext",
          strict: true,
          noEmit: true,
          types: ["node"],
          allowImportingTsExtensions: true,
          erasableSyntaxOnly: true,
          verbatimModuleSyntax: true,
          skipLibCheck: false
        },
        include: ["*.ts"]
      })
    )
    const tsc = () => execFileSync(process.execPath, [path.join(repositoryRoot, "node_modules/typescript/bin/tsc"), "-p", "tsconfig.json"], { cwd: app, encoding: "utf8" })
    expect(() => tsc()).not.toThrow()
  })
})
