// Builds the single-file executable release/ubackup-linux-x64: the running
// Node (process.execPath, Node 24) with the whole CLI inside, as a Node
// Single Executable Application, for hosts without Node. Run by
// scripts/release.mjs; alone: node scripts/sea.mjs [--out DIR]
//
// A SEA runs one CommonJS script and can require() only Node's built-ins, so
// the CLI is bundled again here, from src/, as one self-contained CommonJS file:
// the vendor chunks (the AWS SDK, dockerode), which dist/cli.mjs imports at run
// time from dist/vendor/, are inside it. That file becomes a blob
// (`node --experimental-sea-config`), and postject injects the blob into a copy
// of the node binary. The V8 flags bin/ubackup starts Node with are the SEA's
// execArgv, read from bin/ubackup itself; the blob carries V8's code cache
// (compiled with the same flags, or V8 rejects it), so the bundle is not
// parsed again at every start.
import { build } from "esbuild"
import { execFile } from "node:child_process"
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs"
import { createRequire } from "node:module"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath, pathToFileURL } from "node:url"
import { promisify } from "node:util"

const execFileP = promisify(execFile)
const root = fileURLToPath(new URL("..", import.meta.url))
const fuse = "NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2"

/** The executable's name: ubackup-<platform>-<arch> of the Node it is made of (ubackup-linux-x64 here). */
export const seaName = `ubackup-${process.platform}-${process.arch}`

/** The V8 flags of bin/ubackup's `exec node … dist/cli.mjs` line, so that the SEA runs as the launcher does. */
export const launcherNodeFlags = () => {
  const launcher = readFileSync(path.join(root, "bin/ubackup"), "utf8").replace(/\\\n\s*/g, " ")
  const match = /^exec node ((?:--[\w-]+(?:=\S+)? +)+)"\$here\/\.\.\/dist\/cli\.mjs"/m.exec(launcher)
  if (match === null) throw new Error("sea: cannot find the `exec node --flags … dist/cli.mjs` line in bin/ubackup")
  return match[1].trim().split(/ +/)
}

/**
 * Builds `<out>/ubackup-<platform>-<arch>` and returns its path. Linux only
 * (macOS and Windows need other postject options and code signing).
 * `codeCache: false` leaves V8's code cache out (for measuring what it saves).
 */
export const buildSea = async ({ out, codeCache = true }) => {
  if (process.platform !== "linux") throw new Error(`sea: building the single-file executable is supported on Linux only, not ${process.platform}`)
  const { version } = JSON.parse(readFileSync(path.join(root, "package.json"), "utf8"))
  const flags = launcherNodeFlags()
  const work = mkdtempSync(path.join(os.tmpdir(), "ubackup-sea-"))
  try {
    const bundle = path.join(work, "ubackup.cjs")
    await build({
      entryPoints: [path.join(root, "src/cli/main.ts")],
      outfile: bundle,
      bundle: true,
      platform: "node",
      format: "cjs",
      target: `node${process.versions.node}`,
      define: { UBACKUP_VERSION: JSON.stringify(version) },
      // the systemd unit that `scheduler install-systemd-service-file` writes
      // runs the launcher; here that is the executable itself
      banner: { js: "if (require(\"node:sea\").isSea()) process.env.UBACKUP_LAUNCHER ??= process.execPath;" },
      // optional native helpers of ssh2 (pulled in by dockerode): it works without them
      external: ["cpu-features", "*.node"],
      minifySyntax: true,
      minifyWhitespace: true,
      legalComments: "none",
      logLevel: "warning"
    })
    const blob = path.join(work, "ubackup.blob")
    const config = path.join(work, "sea-config.json")
    writeFileSync(config, JSON.stringify({
      main: bundle,
      output: blob,
      disableExperimentalSEAWarning: true,
      useCodeCache: codeCache,
      execArgv: flags
    }, null, 2))
    await execFileP(process.execPath, [...flags, "--experimental-sea-config", config], { cwd: work })

    mkdirSync(out, { recursive: true })
    const file = path.join(out, seaName)
    const partial = `${file}.partial-${process.pid}`
    copyFileSync(process.execPath, partial)
    chmodSync(partial, 0o755)
    // postject's own CLI in a child: its WebAssembly LIEF prints harmless
    // "Can't find string offset for section name" warnings, shown only on failure
    const postject = createRequire(import.meta.url).resolve("postject/dist/cli.js")
    try {
      await execFileP(process.execPath, [postject, partial, "NODE_SEA_BLOB", blob, "--sentinel-fuse", fuse], { maxBuffer: 16 * 1024 * 1024 })
    } catch (error) {
      rmSync(partial, { force: true })
      throw new Error(`sea: postject failed:\n${error.stdout ?? ""}${error.stderr ?? ""}`)
    }
    renameSync(partial, file)
    return file
  } finally {
    rmSync(work, { recursive: true, force: true })
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const outFlag = process.argv.indexOf("--out")
  const outArg = outFlag === -1 ? path.join(root, "release") : process.argv[outFlag + 1]
  if (outArg === undefined || outArg.startsWith("--")) {
    console.error("sea: --out needs a directory, e.g. --out /tmp/dist")
    process.exit(1)
  }
  const started = Date.now()
  const file = await buildSea({ out: path.resolve(outArg) })
  console.log(`${file} (${(statSync(file).size / 1024 / 1024).toFixed(1)} MiB, ${((Date.now() - started) / 1000).toFixed(1)} s)`)
}
