/**
 * Containers that set their own labels (any image can): against the real
 * engine, a label never widens what the operator configured, a service name
 * cannot be taken from a static target or shared by unrelated containers,
 * `container_filter` limits who may declare backups at all, text a container
 * controls reaches neither the terminal nor the log unescaped, and commands
 * do not inherit ubackup's secrets.
 *
 * Each run here is scoped with `container_filter` (itself under test) to the
 * containers of its group, named `ubackup-test-<prefix>-<group>-…`; other
 * files' runs may still see them.
 */
import * as crypto from "node:crypto"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { initKeys, ubackup } from "../harness/cli.ts"
import { buildBusyboxImage, type ContainerOptions, docker, requireDocker, runContainer } from "../harness/docker.ts"
import { acquireEngineLock } from "../harness/engineLock.ts"
import { describeRun, lineOf, type NowRun, runNow } from "../harness/now.ts"

const ready = requireDocker("hostile containers (Docker)")
const suffix = crypto.randomBytes(3).toString("hex")
const prefix = `hostile${suffix}`
/** Every container of this file carries it; the configs' container_filter requires it. */
const fileLabel = { "ubackup-test-file": prefix }

/** Raw bytes that must never reach a terminal or a log: ESC, BEL, CR, C1 CSI, bidi override and isolate, zero-width space. */
const forbidden = /[\u001b\u0007\r\u0080-\u009f\u202a-\u202e\u2066-\u2069\u200b]/

describe.runIf(ready)("hostile containers (Docker)", () => {
  let dir: string
  let keyFile: string
  let baseConfig: Record<string, unknown>
  let releaseEngine: (() => void) | undefined
  const created: Array<string> = []

  const start = async (what: string, options: Omit<ContainerOptions, "name">) => {
    const name = `ubackup-test-${prefix}-${what}`
    created.push(name)
    const id = await runContainer({ name, ...options, labels: { ...fileLabel, ...options.labels } })
    return { name, id, taskId: id.slice(0, 12) }
  }

  /** A config for the containers of group `name` only. */
  const writeConfig = (name: string, fields: Record<string, unknown> = {}) => {
    const storage = path.join(dir, `${name}-backups`)
    const file = path.join(dir, `${name}.json`)
    const config = {
      ...baseConfig,
      storage: { local: { path: storage } },
      docker_endpoint: "unix:///var/run/docker.sock",
      container_filter: { labels: fileLabel, names: [`ubackup-test-${prefix}-${name}-*`] },
      ...fields
    }
    fs.writeFileSync(file, JSON.stringify(config, null, 2), { mode: 0o600 })
    return { file, storage, config }
  }

  /** Every file stored under `service`, hidden ones included. */
  const stored = (storage: string, service: string) => {
    const folder = path.join(storage, service)
    return fs.existsSync(folder) ? fs.readdirSync(folder) : []
  }

  const decryptOnly = async (storage: string, service: string) => {
    const files = stored(storage, service)
    expect(files).toHaveLength(1)
    const run = await ubackup(["decrypt", keyFile], { input: fs.readFileSync(path.join(storage, service, files[0]!)) })
    expect(run.code, run.stderr).toBe(0)
    return run.stdout.toString()
  }

  const expectFailedLine = (run: NowRun, service: string, reason: RegExp) => {
    const line = lineOf(run, service)
    expect(line, describeRun(run)).toMatch(/\bFAILED\b/)
    expect(line).toMatch(reason)
  }

  beforeAll(async () => {
    releaseEngine = await acquireEngineLock()
    await buildBusyboxImage()
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "ubackup-hostile-test-"))
    const keys = await initKeys(path.join(dir, "keys"))
    keyFile = keys.keyFile
    baseConfig = keys.config
  })

  afterAll(async () => {
    if (created.length > 0) await docker("rm", "-fv", ...created).catch(() => undefined)
    releaseEngine?.()
    if (dir !== undefined) fs.rmSync(dir, { recursive: true, force: true })
  })

  describe("labels never widen the operator's limits", () => {
    let run: NowRun
    let config: ReturnType<typeof writeConfig>
    beforeAll(async () => {
      await Promise.all([
        // asks for an hour; the operator allows 2 s
        start("limits-longer", { labels: { "ubackup.command": "sh -c 'echo started; exec sleep 8'", "ubackup.service": `${prefix}-longer`, "ubackup.timeout": "1h" } }),
        // asks for less: honoured
        start("limits-shorter", { labels: { "ubackup.command": "sh -c 'echo started; exec sleep 8'", "ubackup.service": `${prefix}-shorter`, "ubackup.timeout": "1s" } }),
        // 3 MB against the operator's 1 MB
        start("limits-big", { labels: { "ubackup.command": "head -c 3000000 /dev/urandom", "ubackup.service": `${prefix}-big` } }),
        // asks for 100 MB: the operator's 1 MB holds
        start("limits-raises", { labels: { "ubackup.command": "head -c 2000000 /dev/urandom", "ubackup.service": `${prefix}-raises`, "ubackup.max_backup_bytes": "100MB" } }),
        // lowers it to 10 kB: honoured
        start("limits-lowers", { labels: { "ubackup.command": "head -c 50000 /dev/urandom", "ubackup.service": `${prefix}-lowers`, "ubackup.max_backup_bytes": "10kB" } }),
        start("limits-small", { labels: { "ubackup.command": "echo small enough", "ubackup.service": `${prefix}-small` } })
      ])
      config = writeConfig("limits", { target_timeout: "2s", max_backup_bytes: "1MB", concurrency: 6 })
      run = await runNow(config.file)
    })

    it("ubackup.timeout can only shorten target_timeout", () => {
      expectFailedLine(run, `${prefix}-longer`, /timed out after 2\.0s/)
      expectFailedLine(run, `${prefix}-shorter`, /timed out after 1\.0s/)
      expect(stored(config.storage, `${prefix}-longer`)).toEqual([])
      expect(stored(config.storage, `${prefix}-shorter`)).toEqual([])
    })

    it("max_backup_bytes fails a stream that grows past it, storing nothing; the label can only lower it", async () => {
      expectFailedLine(run, `${prefix}-big`, /more than 1000000 bytes \(max_backup_bytes\)/)
      expectFailedLine(run, `${prefix}-raises`, /more than 1000000 bytes/)
      expectFailedLine(run, `${prefix}-lowers`, /more than 10000 bytes/)
      for (const service of ["big", "raises", "lowers"]) expect(stored(config.storage, `${prefix}-${service}`)).toEqual([])
      expect(lineOf(run, `${prefix}-small`)).toMatch(/\sok\s/)
      expect(await decryptOnly(config.storage, `${prefix}-small`)).toBe("small enough\n")
    })

    it("max_backup_bytes holds for manual-backup too", async () => {
      const backup = await ubackup(["manual-backup", `${prefix}-manual`, "t", "--config", config.file], { input: Buffer.alloc(1_500_000) })
      expect(backup.code).toBe(1)
      expect(backup.stderr).toMatch(/standard input produced more than 1000000 bytes/)
      expect(stored(config.storage, `${prefix}-manual`)).toEqual([])
    })
  })

  describe("service names", () => {
    let run: NowRun
    let config: ReturnType<typeof writeConfig>
    let metrics: string
    const shared = `${prefix}-shared`
    const replicas = `${prefix}-replicas`
    const staticName = `${prefix}-static`
    beforeAll(async () => {
      const compose = { "com.docker.compose.project": `${prefix}proj`, "com.docker.compose.service": "db" }
      await Promise.all([
        // two unrelated containers that claim one name
        start("names-claim1", { labels: { "ubackup.command": "echo one", "ubackup.service": shared } }),
        start("names-claim2", { labels: { "ubackup.command": "echo two", "ubackup.service": shared, "ubackup.schedule": "* * * * *" } }),
        // two replicas of one Compose service: one name, both backed up
        start("names-replica1", { labels: { "ubackup.command": "echo replica", "ubackup.service": replicas, ...compose } }),
        start("names-replica2", { labels: { "ubackup.command": "echo replica", "ubackup.service": replicas, ...compose } }),
        // a container that claims a static target's name
        start("names-impostor", { labels: { "ubackup.command": "echo impostor", "ubackup.service": staticName } })
      ])
      config = writeConfig("names", {
        concurrency: 4,
        metrics_textfile: path.join(dir, "names.prom"),
        static_targets: [{ service_name: staticName, backup_command: ["echo", "the real one"] }]
      })
      run = await runNow(config.file)
      metrics = fs.readFileSync(path.join(dir, "names.prom"), "utf8")
    })

    it("unrelated containers claiming one name: both refused, nothing stored, the message says why", () => {
      const lines = run.lines.filter((line) => line.split(/\s+/)[0] === shared)
      expect(lines, describeRun(run)).toHaveLength(2)
      for (const line of lines) expect(line).toMatch(/FAILED .*service name "[^"]+" is claimed by unrelated containers \(container [0-9a-f]{12}, container [0-9a-f]{12}\)/)
      expect(stored(config.storage, shared)).toEqual([])
    })

    it("replicas of one Compose service share their name: both stored", () => {
      const lines = run.lines.filter((line) => line.split(/\s+/)[0] === replicas)
      expect(lines, describeRun(run)).toHaveLength(2)
      for (const line of lines) expect(line).toMatch(/\sok\s/)
      expect(stored(config.storage, replicas)).toHaveLength(2)
    })

    it("a container claiming a static target's name is refused; the static target is stored, and its last success does not move", async () => {
      const lines = run.lines.filter((line) => line.split(/\s+/)[0] === staticName)
      const task = (line: string) => line.split(/\s+/)[1]
      expect(lines.find((line) => task(line) === "static"), describeRun(run)).toMatch(/\sok\s/)
      expect(lines.find((line) => task(line) !== "static")).toMatch(/FAILED .*belongs to a static target/)
      expect(await decryptOnly(config.storage, staticName)).toBe("the real one\n")
      // one refused claimant and the service's backup is not good: the alert stays, last success stays where it was
      expect(metrics).toContain(`ubackup_last_run_success{service="${staticName}"} 0`)
      expect(metrics).not.toContain(`ubackup_last_success_timestamp_seconds{service="${staticName}"}`)
      expect(metrics).toContain(`ubackup_last_success_timestamp_seconds{service="${replicas}"}`)
    })
  })

  it("container_filter: a container that does not match declares nothing, and --dry-run says so", async () => {
    const outsider = await start("filter-outsider", { labels: { "ubackup.command": "echo outsider", "ubackup.service": `${prefix}-outsider` } })
    const insider = await start("filter-insider", { labels: { "ubackup.command": "echo insider", "ubackup.service": `${prefix}-insider` } })
    const config = writeConfig("filter", { container_filter: { labels: fileLabel, names: [`ubackup-test-${prefix}-filter-ins*`] } })
    const dry = await runNow(config.file, "--dry-run")
    expect(dry.code, describeRun(dry)).toBe(0)
    expect(dry.text).toContain(`${prefix}-insider`)
    expect(dry.text).toMatch(new RegExp(`not backed up \\(container_filter\\): .*${outsider.name}`))
    const run = await runNow(config.file)
    expect(lineOf(run, `${prefix}-insider`)).toMatch(/\sok\s/)
    expect(run.text).not.toContain(`${prefix}-outsider`)
    expect(stored(config.storage, `${prefix}-outsider`)).toEqual([])
    await docker("rm", "-f", outsider.name, insider.name)
  })

  it("names, labels, commands and stderr from a container are escaped in the summary, the log and the error", async () => {
    const esc = "\u001b"
    await Promise.all([
      // a command whose stderr clears the screen, sets the window title, overrides the text direction and rings the bell
      start("escape-noisy", {
        labels: {
          "ubackup.command": `sh -c "printf '${esc}[2J${esc}]0;pwned\\007\\342\\200\\256gnp.exe\\302\\233 done\\r\\n' >&2; exit 4"`,
          "ubackup.service": `${prefix}-noisy`
        }
      }),
      // labels with raw control and bidi characters
      start("escape-labels", { labels: { "ubackup.command": `echo hi${esc}[31m`, "ubackup.service": `${prefix}-labels`, "ubackup.file_extension": `.s${esc}[31mql` } }),
      start("escape-bidi", { labels: { "ubackup.command": "echo bidi", "ubackup.service": `${prefix}-\u202eevil` } })
    ])
    const config = writeConfig("escape")
    const run = await runNow(config.file)
    const everything = `${run.text}${run.stderr}`
    expect(everything, describeRun(run)).not.toMatch(forbidden)
    expect(everything).toContain("\\x1b[2J\\x1b]0;pwned\\x07\\u{202e}gnp.exe\\x9b done\\r")
    expect(lineOf(run, `${prefix}-noisy`)).toMatch(/FAILED .*exited with code 4/)
    expect(lineOf(run, `${prefix}-labels`)).toMatch(/FAILED .*ubackup\.file_extension="\.s\\x1b\[31mql" is not an extension/)
    // a service name with a bidi override is refused, and shown escaped
    expect(everything).toMatch(/service name "hostile[0-9a-f]+-\\u\{202e\}evil" is not usable as a folder name/)
    const files = fs.existsSync(config.storage) ? fs.readdirSync(config.storage, { recursive: true, withFileTypes: true }).filter((entry) => entry.isFile()) : []
    expect(files).toEqual([])
  })

  it("static-target and exec commands inherit neither UBACKUP_CONF nor AWS credentials", async () => {
    await start("env-exec", { labels: { "ubackup.command": "env", "ubackup.service": `${prefix}-execenv` } })
    const { storage, config } = writeConfig("env", {
      static_targets: [{ service_name: `${prefix}-hostenv`, backup_command: ["env"] }]
    })
    // the config only in UBACKUP_CONF, as the Docker image reads it
    const secret = `aws-secret-${crypto.randomBytes(8).toString("hex")}`
    const run = await ubackup(["now"], {
      cwd: dir,
      env: {
        UBACKUP_CONF: Buffer.from(JSON.stringify(config)).toString("base64"),
        AWS_SECRET_ACCESS_KEY: secret,
        AWS_ACCESS_KEY_ID: "AKIAENVTEST",
        UBACKUP_EXTRA: "ubackup's own"
      }
    })
    expect(run.code, run.stderr).toBe(0)
    for (const service of ["hostenv", "execenv"]) {
      const env = await decryptOnly(storage, `${prefix}-${service}`)
      expect(env).toMatch(/^PATH=/m)
      expect(env).not.toMatch(/^(UBACKUP_|AWS_)/m)
      expect(env).not.toContain(secret)
    }
  })
})
