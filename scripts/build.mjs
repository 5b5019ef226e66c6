// Bundles the CLI into one file, dist/cli.mjs: one parse at start-up instead of
// resolving hundreds of modules keeps `ubackup --help` fast. (Split into ES
// module chunks, the same code measured ~6x more full GCs during a backup.)
//
// The big optional dependencies live in src/vendor/ (the AWS SDK, dockerode)
// and become files of their own, dist/vendor/*.mjs, that the CLI imports only
// when a verb needs them: a backup to a local folder never parses their ~3 MB.
//
// The library (package.json's exports) is src/ but the CLI compiled module by
// module by tsc (tsconfig.build.json) into dist/lib: .js and .d.ts, so an app
// loads only the stages it imports.
import { build } from "esbuild"
import { execFile } from "node:child_process"
import { readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs"
import { builtinModules, createRequire } from "node:module"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { promisify } from "node:util"

const root = fileURLToPath(new URL("..", import.meta.url))
const { version } = JSON.parse(readFileSync(path.join(root, "package.json"), "utf8"))
const vendor = path.join(root, "src/vendor")

const common = {
  bundle: true,
  platform: "node",
  format: "esm",
  target: "node22.19",
  // CommonJS dependencies call require() for Node built-ins and read __dirname
  banner: {
    js: [
      "import { createRequire as __ubackupRequire } from 'node:module';",
      "import { fileURLToPath as __ubackupPath } from 'node:url';",
      "const require = __ubackupRequire(import.meta.url);",
      "const __filename = __ubackupPath(import.meta.url);",
      "const __dirname = __ubackupPath(new URL('.', import.meta.url));"
    ].join(" ")
  },
  // optional native helpers of ssh2 (pulled in by dockerode) are not needed
  external: ["cpu-features", "*.node"],
  minifySyntax: true,
  minifyWhitespace: true,
  legalComments: "none",
  sourcemap: "linked",
  logLevel: "warning"
}

/** `import("../vendor/x.ts")` in the CLI becomes `import("./vendor/x.mjs")`, left to run time. */
const vendorAsSeparateFiles = {
  name: "vendor-as-separate-files",
  setup(builder) {
    builder.onResolve({ filter: /\/vendor\/[^/]+\.ts$/ }, (args) => {
      const resolved = path.resolve(args.resolveDir, args.path)
      if (path.dirname(resolved) !== vendor) return undefined
      return { path: `./vendor/${path.basename(resolved, ".ts")}.mjs`, external: true }
    })
  }
}

/**
 * Node's built-in modules load when first used, not when the CLI starts.
 * Imported as ES modules, every one the bundle names loaded at start-up (125
 * of Node's internal modules for `ubackup --version`: http, tls, zlib,
 * worker_threads, crypto…) and their ES-module facades read every export,
 * which for node:http also loaded undici. Here each import of a built-in is
 * a CommonJS module whose exports are a proxy that requires the real module
 * on the first property read; its export names are listed at build time, so
 * that the bundle's `import * as` interop does not load it early.
 */
const lazyBuiltins = {
  name: "lazy-builtins",
  setup(builder) {
    const builtins = new Set(builtinModules)
    const nodeRequire = createRequire(import.meta.url)
    builder.onResolve({ filter: /^[a-z_/:]+$/ }, (args) => {
      const name = args.path.startsWith("node:") ? args.path.slice(5) : args.path
      // CommonJS dependencies use the module itself (`class extends require("events")`): real require for them
      if (!builtins.has(name) || args.kind !== "import-statement") return undefined
      return { path: `node:${name}`, namespace: "lazy-builtin" }
    })
    builder.onLoad({ filter: /.*/, namespace: "lazy-builtin" }, (args) => {
      const keys = Object.getOwnPropertyNames(nodeRequire(args.path)).filter((key) => key !== "__esModule")
      return {
        contents: `module.exports = __ubackupLazyBuiltin(${JSON.stringify(args.path)}, ${JSON.stringify(keys)})`,
        loader: "js"
      }
    })
  }
}

/**
 * `import { Effect, Stream } from "effect"` becomes `import * as Effect from
 * "effect/Effect"; …` in ubackup's own modules. The verbs' handlers are loaded
 * lazily (src/cli/commands.ts), so esbuild wraps every module they reach in
 * an initialiser, and initialising the barrel ("effect") initialised all of
 * its 143 modules (Arbitrary, Graph, JsonSchema…) at start-up.
 */
const deepEffectImports = {
  name: "deep-effect-imports",
  setup(builder) {
    const functions = new Set(["absurd", "cast", "flow", "hole", "identity", "pipe"])
    builder.onLoad({ filter: /\/src\/.*\.ts$/ }, (args) => {
      const text = readFileSync(args.path, "utf8")
      const contents = text.replace(/import\s+(type\s+)?\{([^}]*)\}\s+from\s+"(effect|effect\/cli)"/g, (_, allTypes, names, from) =>
        names.split(",").map((name) => name.trim()).filter((name) => name !== "").map((entry) => {
          const typeOnly = allTypes !== undefined || entry.startsWith("type ")
          const [name, alias = name] = entry.replace(/^type\s+/, "").split(/\s+as\s+/)
          const type = typeOnly ? "type " : ""
          return from === "effect" && functions.has(name)
            ? `import ${type}{ ${name} as ${alias} } from "effect/Function"`
            : `import ${type}* as ${alias} from "${from}/${name}"`
        }).join("; "))
      return { contents, loader: "ts" }
    })
  }
}

/** The proxy behind each built-in (see lazyBuiltins), defined once in the bundle's banner. */
const lazyBuiltinHelper = [
  "const __ubackupLazyBuiltin = (name, keys) => {",
  "let loaded; const load = () => loaded ??= require(name);",
  "return new Proxy({}, {",
  "get: (_, key) => key === '__esModule' ? undefined : load()[key],",
  "has: (_, key) => key in load(),",
  "set: (_, key, value) => { load()[key] = value; return true },",
  "ownKeys: () => keys,",
  "getOwnPropertyDescriptor: (_, key) => keys.includes(key) ? { configurable: true, enumerable: true, writable: true, value: undefined } : undefined",
  "}) };"
].join(" ")

// built next to dist/ and swapped in at the end, so that a CLI started while
// another build runs (parallel test runs) never finds dist/ half written
const dist = path.join(root, "dist")
const out = `${dist}.build-${process.pid}`
rmSync(out, { recursive: true, force: true })
await Promise.all([
  build({
    ...common,
    entryPoints: [path.join(root, "src/cli/main.ts")],
    outfile: path.join(out, "cli.mjs"),
    define: { UBACKUP_VERSION: JSON.stringify(version) },
    banner: { js: `${common.banner.js} ${lazyBuiltinHelper}` },
    plugins: [vendorAsSeparateFiles, lazyBuiltins, deepEffectImports]
  }),
  build({
    ...common,
    entryPoints: readdirSync(vendor).filter((file) => file.endsWith(".ts")).map((file) => path.join(vendor, file)),
    outdir: path.join(out, "vendor"),
    outExtension: { ".js": ".mjs" }
  })
])

/** tsc rewrites `./x.ts` to `./x.js` in the .js files but not in the .d.ts: done here, for consumers' resolvers. */
const declarationsImportJs = (dir) => {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const file = path.join(dir, entry.name)
    if (entry.isDirectory()) declarationsImportJs(file)
    else if (entry.name.endsWith(".d.ts")) {
      const text = readFileSync(file, "utf8")
      const rewritten = text.replace(/((?:from|import)\s*\(?\s*)"(\.{1,2}\/[^"]+)\.ts"/g, '$1"$2.js"')
      if (rewritten !== text) writeFileSync(file, rewritten)
    }
  }
}

// the Docker image needs only the CLI (Dockerfile: --cli-only)
if (!process.argv.includes("--cli-only")) {
  try {
    await promisify(execFile)(process.execPath, [
      path.join(root, "node_modules/typescript/bin/tsc"),
      "-p",
      path.join(root, "tsconfig.build.json"),
      "--outDir",
      path.join(out, "lib")
    ])
  } catch (error) {
    throw new Error(`tsc -p tsconfig.build.json failed:\n${error.stdout ?? ""}${error.stderr ?? ""}`)
  }
  declarationsImportJs(path.join(out, "lib"))
}

const old = `${dist}.old-${process.pid}`
try {
  renameSync(dist, old)
} catch {
  // no dist/ yet
}
renameSync(out, dist)
rmSync(old, { recursive: true, force: true })
