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
    plugins: [vendorAsSeparateFiles]
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
