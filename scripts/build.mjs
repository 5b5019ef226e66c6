// Bundles the CLI: dist/cli.mjs plus a few shared chunks, a handful of parses
// at start-up instead of resolving hundreds of modules, which keeps
// `ubackup --help` fast. Code behind a dynamic import() (the AWS SDK) lands in
// its own chunk and is loaded only by the verbs that use it: ~20 MiB less
// memory for local storage.
import { build } from "esbuild"
import { readFileSync } from "node:fs"

const { version } = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8"))

await build({
  entryPoints: { cli: "src/cli/main.ts" },
  outdir: "dist",
  outExtension: { ".js": ".mjs" },
  chunkNames: "chunks/[name]-[hash]",
  splitting: true,
  bundle: true,
  platform: "node",
  format: "esm",
  target: "node22.19",
  // CommonJS dependencies (the AWS SDK) call require() for Node built-ins
  banner: { js: "import { createRequire as __ubackupRequire } from 'node:module'; const require = __ubackupRequire(import.meta.url);" },
  define: { UBACKUP_VERSION: JSON.stringify(version) },
  // optional native helpers of ssh2 (pulled in by dockerode) are not needed
  external: ["cpu-features", "*.node"],
  minifySyntax: true,
  minifyWhitespace: true,
  legalComments: "none",
  sourcemap: "linked",
  logLevel: "warning"
})
