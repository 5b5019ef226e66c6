/**
 * The shape docs/ARCHITECTURE.md draws, checked: the folders of src/ import
 * each other without cycles (so each stage can be read, tested and replaced
 * on its own), and the domain types import no stage.
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { describe, expect, it } from "vitest"

const src = path.join(import.meta.dirname, "../src")

const sourceFiles = (dir: string): Array<string> =>
  fs.readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const file = path.join(dir, entry.name)
    return entry.isDirectory() ? sourceFiles(file) : entry.name.endsWith(".ts") ? [file] : []
  })

/** The top folder of src/ a file is in; "." for src/index.ts and the like. */
const folderOf = (file: string) => {
  const parts = path.relative(src, file).split(path.sep)
  return parts.length === 1 ? "." : parts[0]!
}

/** folder → the folders its files import (relative imports, static or dynamic, type-only included) */
const folderGraph = () => {
  const graph = new Map<string, Set<string>>()
  for (const file of sourceFiles(src)) {
    const from = folderOf(file)
    const imports = graph.get(from) ?? new Set<string>()
    graph.set(from, imports)
    for (const [, specifier] of fs.readFileSync(file, "utf8").matchAll(/(?:from|import)\s*\(?\s*"(\.{1,2}\/[^"]+)"/g)) {
      const to = folderOf(path.resolve(path.dirname(file), specifier!))
      if (to !== from) imports.add(to)
    }
  }
  return graph
}

/** Every folder that can reach `start` again through imports: the cycles through it. */
const cycleThrough = (graph: Map<string, Set<string>>, start: string): Array<string> | undefined => {
  const search = (at: string, trail: Array<string>): Array<string> | undefined => {
    for (const next of graph.get(at) ?? []) {
      if (next === start) return [...trail, next]
      if (!trail.includes(next)) {
        const found = search(next, [...trail, next])
        if (found !== undefined) return found
      }
    }
    return undefined
  }
  return search(start, [start])
}

describe("architecture", () => {
  const graph = folderGraph()

  it("no folder of src/ is in an import cycle", () => {
    const cycles = [...graph.keys()].flatMap((folder) => {
      const cycle = cycleThrough(graph, folder)
      return cycle === undefined ? [] : [cycle.join(" → ")]
    })
    expect(cycles).toEqual([])
  })

  it("domain/ imports only the text helpers, no stage", () => {
    expect([...graph.get("domain")!]).toEqual(["text"])
  })

  it("docs/ARCHITECTURE.md's table of folders and their imports is the code's", () => {
    const doc = fs.readFileSync(path.join(import.meta.dirname, "../docs/ARCHITECTURE.md"), "utf8")
    const table = doc.split("## Folders and what they may import")[1]!.split("```")[1]!
    const drawn = new Map<string, Array<string>>()
    for (const line of table.trim().split("\n")) {
      const [, folder, imports] = /^(\w+)\s+(.*)$/.exec(line) ?? []
      // cli's row says "everything below"; the leaf row names two folders
      if (folder === undefined || folder === "cli" || imports!.startsWith("nothing")) continue
      drawn.set(folder, imports!.replace(/\(.*\)/, "").split(",").map((name) => name.trim()).filter((name) => name !== ""))
    }
    expect(drawn.size).toBeGreaterThan(10)
    for (const [folder, imports] of drawn) expect([...graph.get(folder) ?? []].sort(), folder).toEqual(imports.sort())
  })

  it("the leaf helpers (text/, stream/) import nothing of ubackup's but each other", () => {
    expect([...graph.get("text") ?? []]).toEqual([])
    expect([...graph.get("stream") ?? []].filter((folder) => folder !== "text")).toEqual([])
  })
})
