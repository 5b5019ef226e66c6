/**
 * The benchmark input: a tar of /usr/lib and /usr/share cut to an exact size.
 * Real files (binaries, text, images, already-compressed data) compress the
 * way backups do, unlike random or repeated bytes. The tar options remove
 * what varies between runs (order, times, owners), so the same machine gives
 * the same bytes; the SHA-256 prefix printed with it tells whether two runs
 * (or two machines) measured the same input.
 */
import { spawn } from "node:child_process"
import * as crypto from "node:crypto"
import * as fs from "node:fs"
import * as path from "node:path"
import { shellQuote } from "./measure.ts"

export interface Corpus {
  readonly path: string
  readonly bytes: number
  readonly sha256: string
}

const build = async (target: string, bytes: number): Promise<void> => {
  const partial = `${target}.partial`
  // head stops reading at `bytes` and tar dies of SIGPIPE: no need to tar all
  // of /usr. tar's warnings (sockets, unreadable files) do not matter here.
  const script = [
    "tar -cf - --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -C / usr/lib usr/share 2>/dev/null",
    `head -c ${bytes} > ${shellQuote(partial)}`
  ].join(" | ")
  // LC_ALL=C: the same name order whatever the caller's locale
  const child = spawn("sh", ["-c", script], { stdio: "inherit", env: { ...process.env, LC_ALL: "C" } })
  await new Promise<void>((resolve, reject) => {
    child.on("error", reject)
    child.on("close", () => resolve())
  })
  const size = fs.statSync(partial).size
  if (size !== bytes) {
    fs.rmSync(partial, { force: true })
    throw new Error(`/usr/lib + /usr/share gave only ${size} bytes of tar, ${bytes} were asked for`)
  }
  fs.renameSync(partial, target)
}

/** SHA-256 of a file. Reading it all also puts it in the page cache before any timing. */
export const sha256File = async (file: string): Promise<string> => {
  const hash = crypto.createHash("sha256")
  for await (const chunk of fs.createReadStream(file, { highWaterMark: 1024 * 1024 })) hash.update(chunk as Buffer)
  return hash.digest("hex")
}

/** The cached corpus of `bytes` bytes in `cacheDir`, built on first use. */
export const ensureCorpus = async (cacheDir: string, bytes: number, log: (line: string) => void): Promise<Corpus> => {
  fs.mkdirSync(cacheDir, { recursive: true })
  const file = path.join(cacheDir, `corpus-${bytes}.tar`)
  const cached = fs.existsSync(file) && fs.statSync(file).size === bytes
  if (!cached) {
    log(`building corpus ${file} (tar of /usr/lib /usr/share, first ${bytes} bytes)…`)
    await build(file, bytes)
  }
  return { path: file, bytes, sha256: await sha256File(file) }
}
