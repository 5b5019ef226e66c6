// Bundles the CLI into one file: a single parse at start-up instead of
// resolving hundreds of modules, which keeps `ubackup --help` fast.
import { build } from "esbuild"
import { readFileSync } from "node:fs"

const { version } = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8"))

await build({
  entryPoints: ["src/cli/main.ts"],
  outfile: "dist/cli.mjs",
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
