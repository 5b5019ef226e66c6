/**
 * The single-file executable of the release (scripts/sea.mjs, built by
 * `npm run release` as release/ubackup-linux-x64): Node and the whole CLI in
 * one file. Copied alone into a folder and run with a PATH that has no node,
 * far from this checkout: help, keys, a config, a backup from stdin and its
 * restore, the lazily loaded AWS SDK and dockerode, and the systemd unit it
 * writes for itself.
 */
import * as crypto from "node:crypto"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { buildSea, launcherNodeFlags, seaName } from "../../scripts/sea.mjs"
import { verbs } from "../harness/cli.ts"
import { freePort, inCI, runProcess } from "../harness/tools.ts"

const root = path.resolve(import.meta.dirname, "../..")
const { version } = JSON.parse(fs.readFileSync(path.join(root, "package.json"), "utf8")) as { version: string }

/** Like requireCommands: only Linux builds it; in CI that is where the suite runs, so no skip there. */
const seaReady = (() => {
  if (process.platform === "linux") return true
  const reason = `the single-file executable: built on Linux only, this is ${process.platform}`
  if (inCI) throw new Error(`CI=true but ${reason}`)
  console.warn(`skipping ${reason}`)
  return false
})()

interface Result {
  readonly code: number | null
  readonly stdout: Buffer
  readonly stderr: string
}

describe.runIf(seaReady)("the single-file executable (ubackup-linux-x64)", () => {
  let dir: string
  let bin: string
  let work: string
  /** Nothing but the executable's folder: no node, no coreutils. */
  let env: Record<string, string>

  const run = (
    command: string,
    args: ReadonlyArray<string>,
    input?: Uint8Array | string,
    extraEnv: Record<string, string> = {}
  ): Promise<Result> =>
    // spawn looks `command` up on the PATH of `env`, as a shell would
    runProcess(command, args, input, { cwd: work, env: { ...env, ...extraEnv } })
  const ubackup = (args: ReadonlyArray<string>, input?: Uint8Array | string) => run(seaName, args, input)

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "ubackup-sea-test-"))
    // what `npm run release` runs for it, into a release folder of this test's own
    const built = await buildSea({ out: path.join(dir, "release") })
    bin = path.join(dir, "bin")
    work = path.join(dir, "work")
    fs.mkdirSync(bin)
    fs.mkdirSync(work)
    fs.copyFileSync(built, path.join(bin, seaName))
    fs.chmodSync(path.join(bin, seaName), 0o755)
    env = { PATH: `${bin}:/nonexistent`, HOME: dir }
  }, 300_000)

  afterAll(() => {
    if (dir !== undefined) fs.rmSync(dir, { recursive: true, force: true })
  })

  it("is one file, and the PATH it runs with has no node", async () => {
    expect(fs.readdirSync(bin)).toEqual([seaName])
    const which = await run("/bin/sh", ["-c", "command -v node"])
    expect(which.code).not.toBe(0)
    expect(which.stdout.toString()).toBe("")
  })

  it("--version and --help, with nothing on stderr (no experimental or code cache warning)", async () => {
    const versionRun = await ubackup(["--version"])
    expect(versionRun.code, versionRun.stderr).toBe(0)
    expect(versionRun.stdout.toString()).toContain(version)
    expect(versionRun.stderr).toBe("")

    const help = await ubackup(["--help"])
    expect(help.code, help.stderr).toBe(0)
    expect(help.stderr).toBe("")
    for (const verb of new Set(verbs.map(([first]) => first!))) expect(help.stdout.toString()).toContain(verb)
  })

  it("runs with bin/ubackup's V8 flags, as its execArgv", async () => {
    // a module preloaded through NODE_OPTIONS (which a SEA honours) reports what Node started with
    const probe = path.join(dir, "probe.cjs")
    fs.writeFileSync(probe, "process.stderr.write(JSON.stringify({ execArgv: process.execArgv, gc: typeof gc }) + '\\n')\n")
    const probed = await run(seaName, ["--version"], undefined, { NODE_OPTIONS: `--require=${probe}` })
    expect(probed.code, probed.stderr).toBe(0)
    expect(JSON.parse(probed.stderr)).toEqual({ execArgv: launcherNodeFlags(), gc: "undefined" })
    expect(launcherNodeFlags()).toEqual(expect.arrayContaining(["--max-old-space-size=1024", "--v8-pool-size=1"]))
  })

  it("generates keys, writes a config, backs up stdin to a local folder, and decrypts the stored file", async () => {
    const key = await ubackup(["decryption-key-generate"])
    expect(key.code, key.stderr).toBe(0)
    expect(key.stdout.toString()).toMatch(/^-----BEGIN RSA PRIVATE KEY-----\n/)
    fs.writeFileSync(path.join(work, "backups.key"), key.stdout, { mode: 0o600 })

    const pub = await ubackup(["decryption-key-to-encryption-key"], key.stdout)
    expect(pub.code, pub.stderr).toBe(0)
    expect(pub.stdout.toString()).toContain("-----BEGIN RSA PUBLIC KEY-----")
    fs.writeFileSync(path.join(work, "backups.pub"), pub.stdout)

    const config = await ubackup(["print-default-config", "--pubkey-file", "backups.pub"])
    expect(config.code, config.stderr).toBe(0)
    expect(JSON.parse(config.stdout.toString()).storage).toEqual({ local: { path: "backups" } })
    fs.writeFileSync(path.join(work, "config.json"), config.stdout)
    const validate = await ubackup(["config", "validate", "config.json"])
    expect(validate.code, validate.stderr).toBe(0)

    // 3 MiB that do not compress, then text that does
    const original = Buffer.concat([crypto.randomBytes(3 * 1024 * 1024), Buffer.from("ubackup\n".repeat(100_000))])
    const backup = await ubackup(["manual-backup", "--config", "config.json", "files", "1", "--file-extension", ".bin"], original)
    expect(backup.code, backup.stderr).toBe(0)
    const id = backup.stdout.toString().trim()
    expect(id).toMatch(/^files\/\d{4}-\d{2}-\d{2} \d{4}Z_.+_1\.bin\.zst\.age$/)

    const stored = path.join(work, "backups", id)
    expect(fs.readdirSync(path.join(work, "backups", "files"))).toEqual([path.basename(id)])
    const encrypted = fs.readFileSync(stored)
    expect(encrypted.subarray(0, 21).toString()).toBe("age-encryption.org/v1")

    const restore = await ubackup(["decrypt", "backups.key"], encrypted)
    expect(restore.code, restore.stderr).toBe(0)
    expect(restore.stdout.equals(original)).toBe(true)
  })

  it("loads the AWS SDK and dockerode from inside the file (they are separate chunks in dist/)", async () => {
    const port = await freePort()
    const recipient = (await ubackup(["decryption-key-to-encryption-key"], fs.readFileSync(path.join(work, "backups.key")))).stdout
      .toString()
      .trim()
    fs.writeFileSync(
      path.join(work, "remote.json"),
      JSON.stringify({
        encryption_publickey: recipient,
        storage: { s3: { bucket: "b", endpoint: `http://127.0.0.1:${port}`, access_key_id: "a", access_key_secret: "b" } },
        docker_endpoint: `tcp://127.0.0.1:${port}`
      })
    )
    // nothing listens on the port: each answer says it could not connect, so the client code ran
    const s3 = await ubackup(["storage", "ls-services", "--config", "remote.json"])
    expect(s3.code).toBe(1)
    expect(s3.stderr).toContain(`cannot reach http://127.0.0.1:${port} (ECONNREFUSED)`)
    const docker = await ubackup(["now", "--dry-run", "--config", "remote.json"])
    expect(docker.code).toBe(1)
    expect(docker.stderr).toContain(`Docker discovery at http://127.0.0.1:${port} failed: connect ECONNREFUSED`)
  })

  it("install-systemd-service-file: the unit runs the executable itself", async () => {
    const units = path.join(dir, "units")
    fs.mkdirSync(units)
    const install = await ubackup(["scheduler", "install-systemd-service-file", "--unit-dir", units])
    expect(install.code, install.stderr).toBe(0)
    const unit = fs.readFileSync(path.join(units, "ubackup.service"), "utf8")
    expect(unit).toContain(`ExecStart=${fs.realpathSync(path.join(bin, seaName))} scheduler run\n`)
    expect(unit).toContain(`WorkingDirectory=${fs.realpathSync(work)}\n`)
  })
})
