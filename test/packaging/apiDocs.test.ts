/**
 * docs/api, the API reference, is generated (scripts/api-docs.mjs, `npm run
 * docs:api`) from the declaration files the build writes to dist/lib, and
 * committed. Regenerating it must give exactly the committed files, so it
 * cannot drift from the code; every value an entry point exports must have
 * its section, and every link inside the reference must lead somewhere.
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { pathToFileURL } from "node:url"
import { describe, expect, it } from "vitest"
import { entryPoints, generateApiDocs, readApiDocs } from "../../scripts/api-docs.mjs"
import { sleep } from "../harness/tools.ts"

const root = path.resolve(import.meta.dirname, "../..")
const docs = path.join(root, "docs/api")
const pkg = JSON.parse(fs.readFileSync(path.join(root, "package.json"), "utf8")) as { exports: Record<string, unknown> }

/**
 * dist/ was built by the test run's global setup; another test file may be
 * rebuilding it (scripts/build.mjs swaps the new dist/ in with two renames),
 * so a read that finds it missing for that moment is tried again.
 */
const regenerate = async (): Promise<Map<string, string>> => {
  for (let attempt = 1; ; attempt++) {
    try {
      return generateApiDocs()
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "ENOENT" || attempt === 20) throw error
      await sleep(250)
    }
  }
}

/** GitHub's anchors of a page's headings, `-1`, `-2` after repeats. */
const anchorsOf = (markdown: string): Set<string> => {
  const anchors = new Set<string>()
  const seen = new Map<string, number>()
  let inFence = false
  for (const line of markdown.split("\n")) {
    if (/^```/.test(line)) inFence = !inFence
    const heading = inFence ? null : /^#{1,6} (.+)$/.exec(line)
    if (heading === null) continue
    const base = heading[1]!.toLowerCase().replace(/[^\p{L}\p{N}\s_-]/gu, "").trim().replace(/\s/g, "-")
    const count = seen.get(base) ?? 0
    seen.set(base, count + 1)
    anchors.add(count === 0 ? base : `${base}-${count}`)
  }
  return anchors
}

describe("docs/api", () => {
  it("is exactly what `npm run docs:api` generates from the declarations", async () => {
    const generated = await regenerate()
    const committed = readApiDocs(docs)
    expect([...committed.keys()], "docs/api has other files than the generator writes: run npm run docs:api").toEqual([
      ...generated.keys()
    ])
    for (const [name, text] of generated) {
      expect(committed.get(name), `docs/api/${name} is out of date: run npm run docs:api`).toBe(text)
    }
  })

  it("has a page for every entry point of package.json, listed in its README", () => {
    const entries = entryPoints(pkg)
    expect(entries.map((entry) => entry.specifier)).toEqual(
      Object.keys(pkg.exports).filter((key) => key !== "./package.json").map((key) => (key === "." ? "ubackup" : `ubackup/${key.slice(2)}`))
    )
    const index = fs.readFileSync(path.join(docs, "README.md"), "utf8")
    for (const entry of entries) {
      expect(fs.existsSync(path.join(docs, entry.page)), entry.page).toBe(true)
      expect(index).toContain(`| \`${entry.specifier}\` | [${entry.page}](${entry.page}) |`)
    }
  })

  it("gives every value an entry point exports a section of its page", async () => {
    for (const entry of entryPoints(pkg)) {
      const module = (await import(pathToFileURL(path.join(root, "dist/lib", entry.types.replace(/\.d\.ts$/, ".js"))).href)) as Record<
        string,
        unknown
      >
      const page = fs.readFileSync(path.join(docs, entry.page), "utf8")
      for (const name of Object.keys(module)) {
        expect(page, `${entry.specifier} exports ${name}`).toContain(`\n## \`${name}\`\n`)
        const value = module[name]
        // a namespace export (`export * as Ubackup`): each of its members under it
        if (typeof value === "object" && value !== null && Object.prototype.toString.call(value) === "[object Module]") {
          for (const member of Object.keys(value)) expect(page, `${entry.specifier}: ${name}.${member}`).toContain(`\n### \`${name}.${member}\`\n`)
        }
      }
    }
  })

  it("links only to headings and files that exist", () => {
    for (const [name, text] of readApiDocs(docs)) {
      const anchors = anchorsOf(text)
      for (const [, target] of text.matchAll(/\]\(([^)\s]+)\)/g)) {
        if (target!.startsWith("#")) expect(anchors.has(target!.slice(1)), `${name}: ${target}`).toBe(true)
        else expect(fs.existsSync(path.resolve(docs, target!)), `${name}: ${target}`).toBe(true)
      }
    }
  })
})
