/**
 * The binary installation as the README tells it: the release archive
 * (`npm run release`) unpacked into a folder of its own, far from this
 * checkout and its node_modules, its launcher linked onto PATH; then keys,
 * a config, a backup and its restore with the installed command, and the
 * systemd unit it writes, checked by `systemd-analyze verify`.
 */
import { execFile } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { promisify } from "node:util"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { requireCommands } from "../harness/tools.ts"

const execFileP = promisify(execFile)
const root = path.resolve(import.meta.dirname, "../..")
const { version } = JSON.parse(fs.readFileSync(path.join(root, "package.json"), "utf8")) as { version: string }
const systemdReady = requireCommands("the systemd unit", "systemd-analyze")

interface Result {
  readonly code: number
  readonly stdout: string
  readonly stderr: string
}

describe("binary installation from the release archive", () => {
  let dir: string
  /** As a user's shell would: the installed `ubackup` and `node`, nothing from this checkout. */
  let env: Record<string, string>
  const sh = (script: string, cwd = dir): Promise<Result> =>
    execFileP("sh", ["-c", script], { cwd, env, maxBuffer: 16 * 1024 * 1024 }).then(
      ({ stdout, stderr }) => ({ code: 0, stdout, stderr }),
      (error: { code: number; stdout: string; stderr: string }) => ({ code: error.code, stdout: error.stdout, stderr: error.stderr })
    )

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "ubackup-install-test-"))
    await execFileP(process.execPath, [path.join(root, "scripts/release.mjs"), "--out", path.join(dir, "release")], { cwd: root })
    fs.mkdirSync(path.join(dir, "opt"))
    fs.mkdirSync(path.join(dir, "bin"))
    env = {
      PATH: [path.join(dir, "bin"), path.dirname(process.execPath), "/usr/bin", "/bin"].join(":"),
      HOME: dir
    }
  })

  afterAll(() => {
    if (dir !== undefined) fs.rmSync(dir, { recursive: true, force: true })
  })

  it("unpacks, links onto PATH, backs up and restores", async () => {
    const archive = path.join(dir, "release", `ubackup-${version}.tar.gz`)
    // the README's commands, with $DIR for /opt and /usr/local/bin
    const install = await sh(`tar -xzf ${archive} -C opt && ln -s "$PWD/opt/ubackup/bin/ubackup" bin/ubackup && ubackup --version`)
    expect(install.code, install.stderr).toBe(0)
    expect(install.stdout).toContain(version)
    expect(fs.readdirSync(path.join(dir, "opt", "ubackup")).sort()).toEqual(["README.md", "bin", "dist", "scripts"])

    const work = path.join(dir, "work")
    fs.mkdirSync(work)
    const backup = await sh(
      [
        "ubackup decryption-key-generate --type x25519 > backups.key",
        "ubackup decryption-key-to-encryption-key < backups.key > backups.pub",
        "ubackup print-default-config --pubkey-file backups.pub > config.json",
        "ubackup config validate config.json",
        "seq 1 5000 | ubackup manual-backup numbers 1 --file-extension .txt"
      ].join(" && "),
      work
    )
    expect(backup.code, backup.stderr).toBe(0)
    const id = backup.stdout.trim().split("\n").at(-1)!
    expect(id).toMatch(/^numbers\/\d{4}-\d{2}-\d{2} \d{4}Z_.+_1\.txt\.zst\.age$/)
    const restore = await sh(`ubackup storage get '${id}' | ubackup decrypt backups.key`, work)
    expect(restore.code, restore.stderr).toBe(0)
    expect(restore.stdout).toBe(Array.from({ length: 5000 }, (_, i) => `${i + 1}\n`).join(""))
  })

  it.runIf(systemdReady)("install-systemd-service-file writes a unit for the installed launcher that systemd-analyze verify accepts", async () => {
    const units = path.join(dir, "units")
    fs.mkdirSync(units)
    const work = path.join(dir, "work")
    const run = await sh(`ubackup scheduler install-systemd-service-file --unit-dir ${units}`, work)
    expect(run.code, run.stderr).toBe(0)
    const file = path.join(units, "ubackup.service")
    expect(run.stdout).toBe(
      `Wrote unit file to ${file}\nRun to enable on boot & to start now:\n\t$ systemctl enable ubackup\n\t$ systemctl start ubackup\n\t$ systemctl status ubackup\n`
    )
    const unit = fs.readFileSync(file, "utf8")
    // the launcher where it was unpacked (through the PATH link), run from where the config is
    expect(unit).toContain(`ExecStart=${fs.realpathSync(path.join(dir, "opt/ubackup/bin/ubackup"))} scheduler run\n`)
    expect(unit).toContain(`WorkingDirectory=${fs.realpathSync(work)}\n`)
    expect(unit).toContain(`Environment=PATH=${path.dirname(process.execPath)}:`)
    // --man=no: no man pages here; verify still checks every directive and that ExecStart exists
    const verify = await execFileP("systemd-analyze", ["verify", "--man=no", file]).then(
      ({ stdout, stderr }) => ({ code: 0, output: stdout + stderr }),
      (error: { code: number; stdout: string; stderr: string }) => ({ code: error.code, output: error.stdout + error.stderr })
    )
    expect(verify.code, verify.output).toBe(0)
    expect(verify.output.trim(), verify.output).toBe("")

    const withConfig = await sh(`ubackup scheduler install-systemd-service-file --unit-dir ${units} --config config.json`, work)
    expect(withConfig.code, withConfig.stderr).toBe(0)
    expect(fs.readFileSync(file, "utf8")).toContain(` scheduler run --config ${path.join(fs.realpathSync(work), "config.json")}\n`)
  })

  it("a unit folder that cannot be written: exit 1, the error names the file", async () => {
    const missing = path.join(dir, "missing")
    const run = await sh(`ubackup scheduler install-systemd-service-file --unit-dir ${missing}`)
    expect(run.code).toBe(1)
    expect(run.stderr).toContain(path.join(missing, "ubackup.service"))
  })
})
