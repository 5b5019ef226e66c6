// Packs the installable CLI: release/ubackup-<version>.tar.gz holds
// ubackup/bin/ubackup (the launcher, with scripts/lib/node.sh, which fetches
// Node 24 where the host's node is too old) and ubackup/dist/ (the bundle, without
// source maps). It needs Node.js >= 22.19 on the host (or npm to fetch it) and nothing else: the
// bundle carries every dependency. Next to it, on Linux, release/ubackup-linux-x64: one
// file with Node and the CLI inside (scripts/sea.mjs), for hosts without Node.
// Usage: node scripts/release.mjs [--out DIR]
import { execFileSync } from "node:child_process"
import { mkdirSync, readFileSync, readdirSync } from "node:fs"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { buildSea } from "./sea.mjs"

const root = fileURLToPath(new URL("..", import.meta.url))
const { version } = JSON.parse(readFileSync(path.join(root, "package.json"), "utf8"))
const outFlag = process.argv.indexOf("--out")
const outArg = outFlag === -1 ? path.join(root, "release") : process.argv[outFlag + 1]
if (outArg === undefined || outArg.startsWith("--")) {
  console.error("release: --out needs a directory, e.g. --out /tmp/dist")
  process.exit(1)
}
const out = path.resolve(outArg)

execFileSync(process.execPath, [path.join(root, "scripts/build.mjs")], { cwd: root, stdio: "inherit" })
const bundle = [
  "dist/cli.mjs",
  ...readdirSync(path.join(root, "dist/vendor")).filter((file) => file.endsWith(".mjs")).map((file) => `dist/vendor/${file}`)
]
mkdirSync(out, { recursive: true })
const archive = path.join(out, `ubackup-${version}.tar.gz`)
// GNU tar: every path under ubackup/, owned by root, for `tar -xzf … -C /opt`
execFileSync("tar", [
  "-czf", archive, "--owner=0", "--group=0", "--transform", "s,^,ubackup/,",
  "bin/ubackup", "scripts/lib/node.sh", ...bundle, "README.md"
], { cwd: root, stdio: "inherit" })
console.log(archive)

if (process.platform === "linux") console.log(await buildSea({ out }))
else console.warn(`release: no single-file executable on ${process.platform} (scripts/sea.mjs builds it on Linux)`)
