/**
 * The commands under test. Each reads the corpus on stdin and writes a fresh
 * output under the work folder (same filesystem as the corpus, so no tool
 * gets a faster disk). Untimed setup (keys, `restic init`) happens in
 * `prepare`, before the clock starts.
 */
import { spawn, spawnSync } from "node:child_process"
import * as crypto from "node:crypto"
import * as fs from "node:fs"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { sshPublicKeyLine } from "../src/encryption/age/sshRsa.ts"
import { shellQuote as q } from "./measure.ts"

export const toolNames = ["ubackup", "zstd-age", "ubackup-gzip", "pigz-age", "gzip-openssl", "restic"] as const
export type ToolName = (typeof toolNames)[number]

export const isToolName = (name: string): name is ToolName => (toolNames as ReadonlyArray<string>).includes(name)

export interface Output {
  /** What the tool stored, in bytes. */
  readonly bytes: number
  /** File or folder to delete once measured. */
  readonly path: string
}

export interface Prepared {
  /** `sh -c` script that reads the input on stdin. */
  readonly script: string
  readonly env?: NodeJS.ProcessEnv
  /** Finds the output after the run; `stdout` is what the script printed. */
  readonly output: (stdout: string) => Output
}

export interface Tool {
  readonly name: ToolName
  /** The command, for the table. */
  readonly label: string
  /** Sets up one run; `run` names it (unique within the work folder). */
  readonly prepare: (run: string) => Prepared
}

export const ubackupBin = fileURLToPath(new URL("../bin/ubackup", import.meta.url))

const runOrThrow = (file: string, args: ReadonlyArray<string>, env?: NodeJS.ProcessEnv): void => {
  const result = spawnSync(file, args, { stdio: ["ignore", "ignore", "pipe"], env: env ?? process.env })
  if (result.status !== 0) throw new Error(`${file} ${args.join(" ")} failed: ${result.stderr?.toString() ?? result.error}`)
}

const directorySize = (folder: string): number =>
  fs.readdirSync(folder, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .reduce((sum, entry) => sum + fs.statSync(path.join(entry.parentPath, entry.name)).size, 0)

const fileOutput = (file: string): Output => ({ bytes: fs.statSync(file).size, path: file })

export interface Toolbox {
  readonly tools: ReadonlyArray<Tool>
  /** SHA-256 of what `ubackup decrypt` makes of a stored backup. */
  readonly decryptSha256: (stored: string) => Promise<string>
  /** The RSA private key (PEM) every tool's output opens with; `age -d -i` reads it too. */
  readonly privateKey: string
  /** Backs `input` up with ubackup in gzip mode (untimed, for the restore rows); returns the stored file. */
  readonly gzipBackup: (input: string) => string
  /** ubackup's config (local storage in `storage`) and where its backups are. */
  readonly config: string
  readonly storage: string
}

/** Creates the keys every tool shares (one RSA-4096 pair, as µbackup uses) in `work`. */
export const makeToolbox = (work: string): Toolbox => {
  const ubackupDir = path.join(work, "ubackup")
  runOrThrow(ubackupBin, ["init", "--dir", ubackupDir])
  const config = path.join(ubackupDir, "config.json")
  const privateKey = path.join(ubackupDir, "backups.key")
  // `init` puts local storage in <dir>/backups; a backup ID is a path below it
  const storage = path.join(ubackupDir, "backups")

  // age gets the same RSA key, as an ssh-rsa recipient: same header cost as ubackup
  const recipient = path.join(work, "age-recipient.txt")
  const publicKey = crypto.createPublicKey(fs.readFileSync(path.join(ubackupDir, "backups.pub"), "utf8"))
  fs.writeFileSync(recipient, `${sshPublicKeyLine(publicKey)}\n`)

  const gzipConfig = path.join(ubackupDir, "config-gzip.json")
  fs.writeFileSync(gzipConfig, JSON.stringify({ ...JSON.parse(fs.readFileSync(config, "utf8")), compression: "gzip" }))

  /** `manual-backup` with `configFile`; the backup ID it prints is a path below `storage`. */
  const ubackupTool = (name: ToolName, label: string, configFile: string): Tool => ({
    name,
    label,
    prepare: (run) => ({
      script: `exec ${q(ubackupBin)} manual-backup bench ${q(run)} --config ${q(configFile)}`,
      output: (stdout) => fileOutput(path.join(storage, stdout.trim()))
    })
  })
  const ubackup = ubackupTool("ubackup", "ubackup manual-backup (zstd, age, local)", config)
  const ubackupGzip = ubackupTool("ubackup-gzip", "ubackup manual-backup, compression gzip (level 6)", gzipConfig)

  const pigzAge: Tool = {
    name: "pigz-age",
    label: "pigz -6 | age -R ssh-rsa",
    prepare: (run) => {
      const out = path.join(work, `${run}.gz.age`)
      return { script: `pigz -6 | age -R ${q(recipient)} > ${q(out)}`, output: () => fileOutput(out) }
    }
  }

  const zstdAge: Tool = {
    name: "zstd-age",
    label: "zstd -3 -T0 | age -R ssh-rsa",
    prepare: (run) => {
      const out = path.join(work, `${run}.zst.age`)
      return {
        script: `zstd -q -3 -T0 -c | age -R ${q(recipient)} > ${q(out)}`,
        output: () => fileOutput(out)
      }
    }
  }

  const gzipOpenssl: Tool = {
    name: "gzip-openssl",
    label: "gzip -6 | openssl aes-256-ctr",
    prepare: (run) => {
      const out = path.join(work, `${run}.gz.aes`)
      const key = crypto.randomBytes(32).toString("hex")
      const iv = crypto.randomBytes(16).toString("hex")
      return {
        script: `gzip -6 | openssl enc -aes-256-ctr -K ${key} -iv ${iv} > ${q(out)}`,
        output: () => fileOutput(out)
      }
    }
  }

  const restic: Tool = {
    name: "restic",
    label: "restic backup --stdin",
    prepare: (run) => {
      const folder = path.join(work, `${run}.restic`)
      const repo = path.join(folder, "repo")
      // a fresh cache per run too: a warm cache from the last run would help restic
      const env = { ...process.env, RESTIC_PASSWORD: "bench", RESTIC_CACHE_DIR: path.join(folder, "cache") }
      runOrThrow("restic", ["init", "--quiet", "--repo", repo], env)
      return {
        script: `exec restic backup --quiet --repo ${q(repo)} --host bench --stdin --stdin-filename corpus.tar`,
        env,
        output: () => ({ bytes: directorySize(repo), path: folder })
      }
    }
  }

  const decryptSha256 = async (stored: string): Promise<string> => {
    const input = fs.openSync(stored, "r")
    const child = spawn(ubackupBin, ["decrypt", privateKey], { stdio: [input, "pipe", "inherit"] })
    fs.closeSync(input)
    const hash = crypto.createHash("sha256")
    child.stdout?.on("data", (chunk: Buffer) => hash.update(chunk))
    const code = await new Promise<number | null>((resolve, reject) => {
      child.on("error", reject)
      child.on("close", resolve)
    })
    if (code !== 0) throw new Error(`ubackup decrypt exited with ${code}`)
    return hash.digest("hex")
  }

  const gzipBackup = (input: string): string => {
    const stdin = fs.openSync(input, "r")
    const result = spawnSync(ubackupBin, ["manual-backup", "bench", "gzip", "--config", gzipConfig], { stdio: [stdin, "pipe", "pipe"] })
    fs.closeSync(stdin)
    if (result.status !== 0) throw new Error(`ubackup manual-backup (gzip) failed: ${result.stderr?.toString() ?? result.error}`)
    return path.join(storage, result.stdout.toString().trim())
  }

  return {
    tools: [ubackup, zstdAge, ubackupGzip, pigzAge, gzipOpenssl, restic],
    decryptSha256,
    privateKey,
    gzipBackup,
    config,
    storage
  }
}
