// The API reference, docs/api/: one Markdown page per entry point of the
// package (package.json's `exports`) and docs/api/README.md as their index,
// made from the declaration files that scripts/build.mjs writes to dist/lib
// (tsc keeps the TSDoc comments in them). Each page lists every exported name
// with its kind, its declaration and its TSDoc text.
//
// TypeDoc cannot do it here: it needs TypeScript 5's JavaScript API, and the
// project compiles with TypeScript 7 (npm refuses typedoc's peer range).
// So this reads the .d.ts text itself: tsc writes it in a small regular
// form (top-level statements ending in `;` or a body's `}`), which a scanner
// that knows strings, comments and brackets splits without a parser. No
// dependency, and the same input always gives the same bytes.
//
// Usage: node scripts/api-docs.mjs [--lib DIR] [--out DIR] [--check]
//   (npm run docs:api builds dist/ first). --check writes nothing and exits 1
//   when docs/api differs from what the declarations give.
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs"
import * as path from "node:path"
import { fileURLToPath, pathToFileURL } from "node:url"

const root = fileURLToPath(new URL("..", import.meta.url))
const packageName = "ubackup"

// ---------------------------------------------------------------- reading

/** Every .d.ts under `lib`, by path relative to it (with `/`), in sorted order. */
export const readDeclarations = (lib) => {
  const files = new Map()
  const walk = (dir) => {
    for (const entry of readdirSync(dir, { withFileTypes: true }).sort((a, b) => compare(a.name, b.name))) {
      const file = path.join(dir, entry.name)
      if (entry.isDirectory()) walk(file)
      else if (entry.name.endsWith(".d.ts")) files.set(path.relative(lib, file).split(path.sep).join("/"), readFileSync(file, "utf8"))
    }
  }
  walk(lib)
  return files
}

/** The entry points of package.json's `exports` that have types: `{ specifier, page, types }`, types relative to dist/lib. */
export const entryPoints = (packageJson) =>
  Object.entries(packageJson.exports ?? {}).flatMap(([subpath, target]) => {
    if (typeof target !== "object" || target === null || typeof target.types !== "string") return []
    const types = path.posix.normalize(target.types).replace(/^dist\/lib\//, "")
    const rest = subpath.replace(/^\.\/?/, "")
    return [{
      specifier: rest === "" ? packageName : `${packageName}/${rest}`,
      page: `${rest === "" ? packageName : rest.replaceAll("/", "-")}.md`,
      types
    }]
  })

// ---------------------------------------------------------------- scanning

const compare = (a, b) => (a < b ? -1 : a > b ? 1 : 0)
const byName = (a, b) => compare(a.toLowerCase(), b.toLowerCase()) || compare(a, b)

/** Index just past the string, template or comment that starts at `i`, or -1 when none starts there. */
const skipLexeme = (text, i) => {
  const c = text[i]
  if (c === "/" && text[i + 1] === "/") {
    const end = text.indexOf("\n", i)
    return end === -1 ? text.length : end
  }
  if (c === "/" && text[i + 1] === "*") {
    const end = text.indexOf("*/", i + 2)
    return end === -1 ? text.length : end + 2
  }
  if (c === "\"" || c === "'") {
    let j = i + 1
    while (j < text.length && text[j] !== c) j += text[j] === "\\" ? 2 : 1
    return j + 1
  }
  if (c === "`") {
    let j = i + 1
    while (j < text.length && text[j] !== "`") {
      if (text[j] === "\\") j += 2
      else if (text[j] === "$" && text[j + 1] === "{") {
        let depth = 1
        j += 2
        while (j < text.length && depth > 0) {
          const skipped = skipLexeme(text, j)
          if (skipped !== -1) j = skipped
          else {
            if (text[j] === "{") depth++
            else if (text[j] === "}") depth--
            j++
          }
        }
      } else j++
    }
    return j + 1
  }
  return -1
}

const blockDeclaration = /^(?:export\s+)?(?:declare\s+)?(?:default\s+)?(?:abstract\s+)?(?:class|interface|namespace|module|enum|global)\b/

/**
 * The top-level statements of a .d.ts, each with the TSDoc comments right
 * before it (`docs`, in order). Comments after the last statement are dropped.
 */
export const splitStatements = (text) => {
  const statements = []
  let docs = []
  let i = 0
  while (i < text.length) {
    if (/\s/.test(text[i])) {
      i++
      continue
    }
    if (text.startsWith("/**", i) && !text.startsWith("/**/", i)) {
      const end = skipLexeme(text, i)
      docs.push(text.slice(i, end))
      i = end
      continue
    }
    const comment = text.startsWith("//", i) || text.startsWith("/*", i) ? skipLexeme(text, i) : -1
    if (comment !== -1) {
      i = comment
      continue
    }
    const start = i
    const block = blockDeclaration.test(text.slice(start, start + 200))
    let depth = 0
    let angle = 0
    let body = false
    let end = text.length
    while (i < text.length) {
      const skipped = skipLexeme(text, i)
      if (skipped !== -1) {
        i = skipped
        continue
      }
      const c = text[i]
      if (c === "(" || c === "[" || c === "{") {
        if (c === "{" && depth === 0 && angle === 0 && block) body = true
        depth++
      } else if (c === ")" || c === "]" || c === "}") {
        depth--
        if (c === "}" && depth === 0 && body) {
          end = i + 1
          break
        }
      } else if (depth === 0 && c === "<") angle++
      else if (depth === 0 && c === ">" && text[i - 1] !== "=") angle--
      else if (depth === 0 && c === ";") {
        end = i + 1
        break
      }
      i++
    }
    statements.push({ text: text.slice(start, end), docs })
    docs = []
    i = end
  }
  return statements
}

/** A TSDoc comment's text: without `/**`, `*\/` and the leading ` * ` of each line. */
export const commentText = (doc) => {
  const lines = doc.replace(/^\/\*\*/, "").replace(/\*\/$/, "").split("\n").map((line) => line.replace(/^\s*\* ?/, "").trimEnd())
  if (lines.length === 1) return lines[0].trim()
  while (lines.length > 0 && lines[0].trim() === "") lines.shift()
  while (lines.length > 0 && lines.at(-1).trim() === "") lines.pop()
  return lines.join("\n")
}

const identifier = String.raw`[A-Za-z_$][\w$]*`
const declarationHead = new RegExp(
  String.raw`^(export\s+)?(?:declare\s+)?(?:default\s+)?(?:abstract\s+)?(const|let|var|function|class|interface|type|namespace|module|enum)\s+(${identifier})`
)
const typeKinds = new Set(["class", "interface", "type", "enum", "namespace"])

/** `a, type b, c as d` of an import or export list. */
const parseList = (list) =>
  list.split(",").map((part) => part.trim()).filter((part) => part !== "").map((part) => {
    const match = new RegExp(String.raw`^(type\s+)?(${identifier}|default)(?:\s+as\s+(${identifier}|default))?$`).exec(part)
    if (match === null) throw new Error(`api-docs: cannot read the import/export list item ${JSON.stringify(part)}`)
    return { typeOnly: match[1] !== undefined, name: match[2], as: match[3] ?? match[2] }
  })

/** One .d.ts as a module: its doc comment, local declarations, imports and export statements. */
export const parseModule = (text) => {
  const statements = splitStatements(text)
  const module = { doc: undefined, declarations: [], imports: new Map(), exports: [] }
  const first = statements[0]
  if (first !== undefined && first.docs.length > 0) {
    // a comment before an import or a re-export is about the module; of two
    // comments before a declaration, the first is
    const aboutModule = !declarationHead.test(first.text) ? first.docs : first.docs.slice(0, -1)
    if (aboutModule.length > 0) module.doc = aboutModule.map(commentText).join("\n\n")
    first.docs = first.docs.slice(aboutModule.length)
  }
  for (const statement of statements) {
    const code = statement.text
    let match
    if ((match = /^import\s+(type\s+)?([\s\S]*?)\s+from\s+(["'])(.+?)\3\s*;$/.exec(code))) {
      const from = match[4]
      let clause = match[2].trim()
      const namespace = new RegExp(String.raw`^(?:(${identifier})\s*,\s*)?\*\s+as\s+(${identifier})$`).exec(clause)
      if (namespace) {
        if (namespace[1]) module.imports.set(namespace[1], { from, name: "default" })
        module.imports.set(namespace[2], { from, name: "*" })
        continue
      }
      const named = /\{([\s\S]*)\}/.exec(clause)
      if (named) {
        for (const item of parseList(named[1])) module.imports.set(item.as, { from, name: item.name })
        clause = clause.replace(named[0], "").replace(/,/g, "").trim()
      }
      if (clause !== "") module.imports.set(clause, { from, name: "default" })
    } else if (/^import\s/.test(code)) {
      // import "x"; import x = require("x"): nothing to resolve
    } else if ((match = new RegExp(String.raw`^export\s+\*\s+as\s+(${identifier})\s+from\s+(["'])(.+?)\2\s*;$`).exec(code))) {
      module.exports.push({ kind: "namespace", name: match[1], from: match[3] })
    } else if ((match = /^export\s+\*\s+from\s+(["'])(.+?)\1\s*;$/.exec(code))) {
      module.exports.push({ kind: "star", from: match[2] })
    } else if ((match = /^export\s+(type\s+)?\{([\s\S]*)\}\s*(?:from\s+(["'])(.+?)\3)?\s*;$/.exec(code))) {
      for (const item of parseList(match[2])) {
        module.exports.push({ kind: "named", ...item, typeOnly: item.typeOnly || match[1] !== undefined, from: match[4] })
      }
    } else if ((match = declarationHead.exec(code))) {
      const kind = { let: "const", var: "const", module: "namespace" }[match[2]] ?? match[2]
      module.declarations.push({ name: match[3], kind, exported: match[1] !== undefined, text: code, docs: statement.docs })
    } else if (/^export\s+(?:=|default\b|as\s+namespace\b)/.test(code) || /^declare\s+global\b/.test(code)) {
      // not used by this package's declarations: nothing to list
    } else {
      throw new Error(`api-docs: cannot read the declaration ${JSON.stringify(code.slice(0, 120))}`)
    }
  }
  return module
}

// ---------------------------------------------------------------- resolving

/**
 * The exports of the module `file` (relative to dist/lib) as a Map of name
 * to `{ name, file, kinds, declarations, docs, namespace?, external? }`,
 * following re-exports to the declarations.
 */
const makeResolver = (files) => {
  const parsed = new Map()
  const moduleOf = (file) => {
    let module = parsed.get(file)
    if (module === undefined) {
      const text = files.get(file)
      if (text === undefined) throw new Error(`api-docs: no declaration file ${file} (run node scripts/build.mjs)`)
      module = parseModule(text)
      parsed.set(file, module)
    }
    return module
  }
  /** `./x.js` from `file`: the .d.ts it names, or undefined for a package. */
  const target = (file, specifier) => {
    if (!specifier.startsWith(".")) return undefined
    const base = path.posix.join(path.posix.dirname(file), specifier).replace(/\.(?:d\.ts|js|ts|mjs|mts)$/, "")
    for (const candidate of [`${base}.d.ts`, `${base}/index.d.ts`]) if (files.has(candidate)) return candidate
    throw new Error(`api-docs: ${file} imports ${specifier}, which has no declaration file`)
  }
  const cache = new Map()
  const exportsOf = (file, stack = []) => {
    const cached = cache.get(file)
    if (cached !== undefined) return cached
    if (stack.includes(file)) throw new Error(`api-docs: export cycle ${[...stack, file].join(" -> ")}`)
    const module = moduleOf(file)
    const result = new Map()
    const add = (entry) => {
      const existing = result.get(entry.name)
      if (existing === undefined) result.set(entry.name, entry)
      else if (existing.file === entry.file) {
        // a value and a type of one name (`const X` and `type X`), or overloads
        result.set(entry.name, {
          ...existing,
          kinds: [...new Set([...existing.kinds, ...entry.kinds])],
          declarations: [...new Set([...existing.declarations, ...entry.declarations])]
        })
      }
    }
    const local = (name) => {
      const declarations = module.declarations.filter((declaration) => declaration.name === name)
      return declarations.length === 0
        ? undefined
        : { name, file, kinds: [...new Set(declarations.map((d) => d.kind))], declarations }
    }
    const resolveImported = (from, name, as) => {
      const resolved = target(file, from)
      if (resolved === undefined) return { name: as, file, kinds: ["re-export"], declarations: [], external: { from, name } }
      if (name === "*") return { name: as, file: resolved, kinds: ["namespace"], declarations: [], namespace: resolved }
      const entry = exportsOf(resolved, [...stack, file]).get(name)
      if (entry === undefined) throw new Error(`api-docs: ${file} re-exports ${name}, which ${resolved} does not export`)
      return { ...entry, name: as }
    }
    const onlyTypes = (entry, typeOnly) => {
      if (!typeOnly) return entry
      const declarations = entry.declarations.filter((declaration) => typeKinds.has(declaration.kind))
      return declarations.length === 0 ? entry : { ...entry, kinds: [...new Set(declarations.map((d) => d.kind))], declarations }
    }
    for (const declaration of module.declarations) if (declaration.exported) add(local(declaration.name))
    for (const statement of module.exports) {
      if (statement.kind === "star") {
        const resolved = target(file, statement.from)
        if (resolved === undefined) add({ name: `* from ${statement.from}`, file, kinds: ["re-export"], declarations: [], external: { from: statement.from, name: "*" } })
        else for (const [name, entry] of exportsOf(resolved, [...stack, file])) if (name !== "default") add(entry)
      } else if (statement.kind === "namespace") {
        add(resolveImported(statement.from, "*", statement.name))
      } else if (statement.from !== undefined) {
        add(onlyTypes(resolveImported(statement.from, statement.name, statement.as), statement.typeOnly))
      } else {
        const declared = local(statement.name)
        const imported = module.imports.get(statement.name)
        const entry = declared !== undefined
          ? declared
          : imported !== undefined
          ? resolveImported(imported.from, imported.name, statement.name)
          : undefined
        if (entry === undefined) throw new Error(`api-docs: ${file} exports ${statement.name}, which it neither declares nor imports`)
        add(onlyTypes({ ...entry, name: statement.as }, statement.typeOnly))
      }
    }
    cache.set(file, result)
    return result
  }
  return { exportsOf, moduleOf }
}

// ---------------------------------------------------------------- rendering

const withoutComments = (code) => {
  let out = ""
  for (let i = 0; i < code.length;) {
    const skipped = code.startsWith("//", i) || code.startsWith("/*", i) ? skipLexeme(code, i) : -1
    if (skipped !== -1) {
      i = skipped
      continue
    }
    const string = skipLexeme(code, i)
    const end = string === -1 ? i + 1 : string
    out += code.slice(i, end)
    i = end
  }
  return out
}

/**
 * The declaration text of an entry, preceded by the module's unexported
 * declarations it names (such as the `X_base` that `class X extends X_base`
 * needs, or a local type alias), in source order.
 */
const signature = (entry, moduleOf) => {
  if (entry.declarations.length === 0) return undefined
  const module = moduleOf(entry.file)
  const needed = new Set()
  const queue = [...entry.declarations]
  while (queue.length > 0) {
    const code = withoutComments(queue.shift().text)
    for (const declaration of module.declarations) {
      if (declaration.exported || needed.has(declaration) || entry.declarations.includes(declaration)) continue
      if (new RegExp(String.raw`(?<![\w$.])${declaration.name.replaceAll("$", "\\$")}(?![\w$])`).test(code)) {
        needed.add(declaration)
        queue.push(declaration)
      }
    }
  }
  const shown = new Set([...needed, ...entry.declarations])
  return module.declarations.filter((declaration) => shown.has(declaration)).map((declaration) => declaration.text).join("\n")
}

const docOf = (entry) => [...new Set(entry.declarations.flatMap((declaration) => declaration.docs.map(commentText)))].join("\n\n")

const summaryOf = (doc) => {
  const paragraph = (doc ?? "").split(/\n\s*\n/)[0].replace(/\s+/g, " ").trim()
  const sentence = /^(.+?[.!?])(?:\s|$)/.exec(paragraph)
  return (sentence ? sentence[1] : paragraph).replaceAll("|", "\\|")
}

/** GitHub's heading anchor. */
const slug = (heading) => heading.toLowerCase().replace(/[^\p{L}\p{N}\s_-]/gu, "").trim().replace(/\s/g, "-")

/** A fence longer than any backtick run in `code`. */
const fenced = (code) => {
  const longest = Math.max(2, ...(code.match(/`+/g) ?? []).map((run) => run.length))
  const fence = "`".repeat(longest + 1)
  return `${fence}ts\n${code}\n${fence}`
}

const sourceOf = (file) => `src/${file.replace(/\.d\.ts$/, ".ts")}`

/**
 * docs/api as a Map of file name to Markdown: `files` from readDeclarations,
 * `entries` from entryPoints; `sourceExists(path)` says whether src/… exists,
 * for the links to the source.
 */
export const renderApiDocs = ({ files, entries, sourceExists = () => true }) => {
  const { exportsOf, moduleOf } = makeResolver(files)
  const pages = new Map()
  const generated = (from) =>
    `<!-- Generated by scripts/api-docs.mjs from ${from}: do not edit, run \`npm run docs:api\`. -->`
  const index = []

  for (const entry of entries) {
    const anchors = new Map()
    const anchor = (heading) => {
      const base = slug(heading)
      const seen = anchors.get(base) ?? 0
      anchors.set(base, seen + 1)
      return seen === 0 ? base : `${base}-${seen}`
    }
    const title = `\`${entry.specifier}\``
    anchor(title)
    const lines = [`# ${title}`, "", generated(`dist/lib/${entry.types}`), ""]
    const moduleDoc = moduleOf(entry.types).doc
    if (moduleDoc !== undefined) lines.push(moduleDoc, "")
    lines.push(`\`\`\`ts\nimport { … } from "${entry.specifier}"\n\`\`\``, "")

    const sections = []
    const table = ["| name | kind | summary |", "|---|---|---|"]
    const describe = (item, qualified, level) => {
      const heading = `\`${qualified}\``
      const link = anchor(heading)
      const doc = item.namespace !== undefined ? moduleOf(item.namespace).doc : docOf(item)
      const kind = item.kinds.join(", ")
      table.push(`| [\`${qualified}\`](#${link}) | ${kind} | ${item.external ? `from \`${item.external.from}\`` : summaryOf(doc)} |`)
      const source = item.namespace ?? item.file
      const where = sourceExists(sourceOf(source)) ? ` · [${sourceOf(source)}](../../${sourceOf(source)})` : ""
      sections.push(`${"#".repeat(Math.min(level, 6))} ${heading}`, "", `${kind}${item.external ? "" : where}`, "")
      if (item.external) {
        sections.push(`Re-exported from \`${item.external.from}\`${item.external.name === "*" ? "" : ` (\`${item.external.name}\`)`}.`, "")
        return
      }
      if (doc) sections.push(doc, "")
      if (item.namespace !== undefined) {
        const members = [...exportsOf(item.namespace)].sort(([a], [b]) => byName(a, b))
        sections.push(`Members: ${members.map(([name]) => `\`${qualified}.${name}\``).join(", ")}.`, "")
        for (const [name, member] of members) describe(member, `${qualified}.${name}`, level + 1)
        return
      }
      const code = signature(item, moduleOf)
      if (code !== undefined) sections.push(fenced(code), "")
    }
    const exported = [...exportsOf(entry.types)].sort(([a], [b]) => byName(a, b))
    for (const [name, item] of exported) describe(item, name, 2)
    lines.push(...table, "", ...sections)
    pages.set(entry.page, `${lines.join("\n").trimEnd()}\n`)
    const what = moduleDoc !== undefined
      ? summaryOf(moduleDoc.replace(/^`[^`]+`:\s*/, ""))
      : exported.map(([name]) => `\`${name}\``).join(", ")
    index.push(`| \`${entry.specifier}\` | [${entry.page}](${entry.page}) | ${exported.length} | ${what} |`)
  }

  pages.set("README.md", [
    "# API reference",
    "",
    generated("the declaration files in dist/lib"),
    "",
    "The package's entry points (package.json `exports`), each with every name it exports: its kind, its",
    "declaration as the compiled `.d.ts` has it, and its TSDoc comment. The API is unstable until 1.0.",
    "",
    "| import | page | exports | what |",
    "|---|---|---|---|",
    ...index,
    ""
  ].join("\n"))
  return new Map([...pages].sort(([a], [b]) => compare(a, b)))
}

/** docs/api for the package at `packageRoot` from the declarations in `lib`. */
export const generateApiDocs = ({ packageRoot = root, lib = path.join(packageRoot, "dist/lib") } = {}) =>
  renderApiDocs({
    files: readDeclarations(lib),
    entries: entryPoints(JSON.parse(readFileSync(path.join(packageRoot, "package.json"), "utf8"))),
    sourceExists: (file) => existsSync(path.join(packageRoot, file))
  })

/** The Markdown files now in `dir`, as renderApiDocs returns them. */
export const readApiDocs = (dir) =>
  new Map(
    (existsSync(dir) ? readdirSync(dir) : []).filter((name) => name.endsWith(".md")).sort(compare).map((name) => [name, readFileSync(path.join(dir, name), "utf8")])
  )

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const option = (flag) => {
    const at = process.argv.indexOf(flag)
    if (at === -1) return undefined
    const value = process.argv[at + 1]
    if (value === undefined || value.startsWith("--")) {
      console.error(`api-docs: ${flag} needs a directory`)
      process.exit(1)
    }
    return path.resolve(value)
  }
  const out = option("--out") ?? path.join(root, "docs/api")
  const lib = option("--lib") ?? path.join(root, "dist/lib")
  const pages = generateApiDocs({ lib })
  if (process.argv.includes("--check")) {
    const current = readApiDocs(out)
    const differ = [...new Set([...pages.keys(), ...current.keys()])].filter((name) => pages.get(name) !== current.get(name))
    if (differ.length > 0) {
      console.error(`api-docs: ${out} is out of date (${differ.join(", ")}): run npm run docs:api`)
      process.exit(1)
    }
  } else {
    mkdirSync(out, { recursive: true })
    for (const name of readApiDocs(out).keys()) if (!pages.has(name)) rmSync(path.join(out, name))
    for (const [name, text] of pages) writeFileSync(path.join(out, name), text)
    console.log(`${out}: ${[...pages.keys()].join(", ")}`)
  }
}
