/**
 * The package installed into an app as npm would install it, offline: `npm
 * pack` of this repository (dist/ as the test run's global setup built it),
 * unpacked into the app's node_modules/ubackup. The app's other packages are
 * links to this repository's node_modules, so its imports resolve without a
 * registry (test/package.test.ts, test/examples.test.ts).
 */
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"

export const repositoryRoot = path.resolve(import.meta.dirname, "../..")

/** `npm pack`s the repository into a new temporary folder (named after `prefix`); the tarball's path. */
export const packRepository = (prefix: string): string => {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), prefix))
  // no prepare script: dist/ is already built, and a rebuild would race other test files
  const printed = execFileSync("npm", ["pack", "--ignore-scripts", "--silent", "--pack-destination", work], {
    cwd: repositoryRoot,
    encoding: "utf8"
  })
  return path.join(work, printed.trim().split("\n").at(-1)!)
}

/** Installs the tarball into `app` (created if missing): node_modules/ubackup, and a link for every other package. */
export const installTarball = (tarball: string, app: string): void => {
  const installed = path.join(app, "node_modules/ubackup")
  fs.mkdirSync(installed, { recursive: true })
  execFileSync("tar", ["-xzf", tarball, "-C", installed, "--strip-components=1"])
  for (const entry of fs.readdirSync(path.join(repositoryRoot, "node_modules"))) {
    if (entry.startsWith(".") || entry === "ubackup") continue
    fs.symlinkSync(path.join(repositoryRoot, "node_modules", entry), path.join(app, "node_modules", entry))
  }
}
