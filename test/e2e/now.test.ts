/**
 * `ubackup now` end to end against the real Docker engine: containers that
 * declare a backup command (label or µbackup's env), quoting, extensions,
 * the four sources of the service name, `dockervolume://`, static targets
 * on the host, `--dry-run`, and failures (a non-zero exit, a stream killed
 * from inside and from outside, a timeout) that fail only their own target
 * and store nothing. Then the same against S3 (radosgw).
 *
 * The engine may run other tests' containers at the same time, and `now`
 * backs up every labelled container it finds: assertions are only about
 * this file's services, and the exit code is checked against the whole
 * summary (1 exactly when some line failed).
 */
import { CreateBucketCommand, HeadObjectCommand, ListMultipartUploadsCommand, ListObjectsV2Command, type S3Client } from "@aws-sdk/client-s3"
import { execFile } from "node:child_process"
import * as crypto from "node:crypto"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { promisify } from "node:util"
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest"
import { initKeys, ubackup } from "../harness/cli.ts"
import { acquireEngineLock } from "../harness/engineLock.ts"
import { buildBusyboxImage, type ContainerOptions, docker, requireDocker, runContainer } from "../harness/docker.ts"
import { rgwCommands, s3StorageConfig, testS3Client } from "../harness/rgw.ts"
import { describeRun, expectExitMatchesSummary, hasLine, lineOf, type NowRun, runNow } from "../harness/now.ts"
import { escapeRegExp, requireCommands, sleep } from "../harness/tools.ts"

const execFileP = promisify(execFile)
const ready = requireDocker("ubackup now (Docker)")
const s3 = inject("s3")
const s3Ready = ready && requireCommands("ubackup now (S3)", ...rgwCommands) && s3 !== null

const hostname = os.hostname()
const suffix = crypto.randomBytes(3).toString("hex")
/** Service names of this file all start with it, so that they are ours alone. */
const prefix = `nowt${suffix}`
const containerName = (what: string) => `ubackup-test-now-${suffix}-${what}`

// -- a run of `now` and its summary: test/harness/now.ts --------------------

/** Asserts that `service`'s line says ok with an ID of the documented form, and returns the ID. */
const okId = (run: NowRun, service: string, taskId: string, ext: string): string => {
  const line = lineOf(run, service)
  expect(line, describeRun(run)).toMatch(/\sok\s/)
  expect(line).not.toMatch(/FAILED/i)
  const tokens = line.split(/\s+/)
  expect(tokens[1], line).toBe(taskId)
  const pattern = new RegExp(`${escapeRegExp(service)}/(\\d{4})-(\\d{2})-(\\d{2}) (\\d{2})(\\d{2})Z_${escapeRegExp(hostname)}_${escapeRegExp(taskId)}${escapeRegExp(ext)}\\.zst\\.age`)
  const match = pattern.exec(line)
  expect(match, `${line} should hold ${pattern}`).not.toBeNull()
  const [id, year, month, day, hour, minute] = match as unknown as [string, string, string, string, string, string]
  const at = Date.UTC(Number(year), Number(month) - 1, Number(day), Number(hour), Number(minute))
  expect(at).toBeGreaterThanOrEqual(Math.floor(run.startedAt / 60_000) * 60_000 - 60_000)
  expect(at).toBeLessThanOrEqual(Date.now())
  return id
}

const expectFailed = (run: NowRun, service: string): string => {
  const line = lineOf(run, service)
  expect(line, describeRun(run)).toMatch(/\bFAILED\b/i)
  expect(line).not.toMatch(/\sok\s/)
  return line
}

// -- keys, configs, storage ---------------------------------------------------

let dir: string
let keyFile: string
let baseConfig: Record<string, unknown>

const writeConfig = (name: string, fields: Record<string, unknown>): { file: string; storage: string } => {
  const storage = path.join(dir, `${name}-backups`)
  const file = path.join(dir, `${name}.json`)
  fs.writeFileSync(file, JSON.stringify({ ...baseConfig, storage: { local: { path: storage } }, ...fields }, null, 2))
  return { file, storage }
}

/** Every entry (hidden temporary files too) in `service`'s folder of a local storage. */
const entries = (storage: string, service: string): Array<string> => {
  try {
    return fs.readdirSync(path.join(storage, service))
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return []
    throw error
  }
}

const decrypt = async (backup: Uint8Array): Promise<Buffer> => {
  const run = await ubackup(["decrypt", keyFile], { input: backup })
  expect(run.code, run.stderr).toBe(0)
  return run.stdout
}

const decryptStored = (storage: string, id: string) => decrypt(fs.readFileSync(path.join(storage, id)))

// -- containers -----------------------------------------------------------------

const created: Array<string> = []
const volumes: Array<string> = []

const start = async (what: string, options: Omit<ContainerOptions, "name">) => {
  const name = containerName(what)
  created.push(name)
  const id = await runContainer({ name, ...options })
  return { name, id, taskId: id.slice(0, 12) }
}

const remove = async (...names: Array<string>) => {
  if (names.length > 0) await docker("rm", "-fv", ...names).catch(() => undefined)
}

const waitUntil = async (what: string, probe: () => Promise<boolean>, timeoutMs = 30_000) => {
  const deadline = Date.now() + timeoutMs
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await sleep(100)
  }
}

const seq = (n: number) => Array.from({ length: n }, (_, i) => `${i + 1}\n`).join("")

describe.runIf(ready)("ubackup now (Docker)", () => {
  let releaseEngine: (() => void) | undefined
  beforeAll(async () => {
    // a dry run whose command must not run, stop_during_backup, commands killed on purpose:
    // no ubackup service of another test file may back these containers up meanwhile
    releaseEngine = await acquireEngineLock()
    await buildBusyboxImage()
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "ubackup-now-test-"))
    const keys = await initKeys(path.join(dir, "keys"))
    keyFile = keys.keyFile
    baseConfig = keys.config
  })

  afterAll(async () => {
    await remove(...created)
    for (const volume of volumes) await docker("volume", "rm", "-f", volume).catch(() => undefined)
    releaseEngine?.()
    if (dir !== undefined) fs.rmSync(dir, { recursive: true, force: true })
  })

  describe("one run over label, env, quoted, extension, service-name, volume and static targets", () => {
    const services = {
      label: `${prefix}-label`,
      env: `${prefix}-env`,
      quoted: `${prefix}-quoted`,
      ext: `${prefix}-ext`,
      noCommand: `${prefix}-nocmd`,
      stopped: `${prefix}-stopped`,
      explicit: `${prefix}-explicit`,
      swarm: `${prefix}-swarmlabel`,
      compose: `${prefix}cp-web`,
      byName: containerName("byname"),
      volume: `${prefix}-volume`,
      volumeStopped: `${prefix}-volstop`,
      static: `${prefix}-static`
    }
    const tasks: Record<string, string> = {}
    let config: { file: string; storage: string }
    let run: NowRun
    /** `find`-like listing of the volume, made inside the container before the backup. */
    let volumeListing: Map<string, string>
    let volStopStartedAt: string

    beforeAll(async () => {
      const both = { "com.docker.swarm.service.name": services.swarm, "com.docker.compose.project": `${prefix}cp`, "com.docker.compose.service": "web" }
      const started = await Promise.all([
        start("label", { labels: { "ubackup.command": "echo hello-label", "ubackup.service": services.label } }),
        start("env", { env: { BACKUP_COMMAND: "echo hello-env" }, labels: { "ubackup.service": services.env } }),
        start("quoted", { labels: { "ubackup.command": "sh -c 'echo hello | tr a-z A-Z'", "ubackup.service": services.quoted } }),
        start("ext", { labels: { "ubackup.command": "seq 1 200000", "ubackup.file_extension": ".txt", "ubackup.service": services.ext } }),
        start("nocmd", { labels: { "ubackup.service": services.noCommand, "ubackup.file_extension": ".txt" } }),
        start("stopped", { labels: { "ubackup.command": "echo never", "ubackup.service": services.stopped }, command: ["true"] }),
        start("explicit", { labels: { "ubackup.command": "echo svc-explicit", "ubackup.service": services.explicit, ...both } }),
        start("swarmlabel", { labels: { "ubackup.command": "echo svc-swarm", ...both } }),
        start("compose", {
          labels: { "ubackup.command": "echo svc-compose", "com.docker.compose.project": `${prefix}cp`, "com.docker.compose.service": "web" }
        }),
        start("byname", { labels: { "ubackup.command": "echo svc-name" } })
      ])
      const keys = ["label", "env", "quoted", "ext", "noCommand", "stopped", "explicit", "swarm", "compose", "byName"]
      started.forEach((container, i) => (tasks[keys[i] as string] = container.taskId))
      await waitUntil("the stopped container to exit", async () =>
        (await docker("inspect", "-f", "{{.State.Running}}", containerName("stopped"))) === "false")

      // a volume with modes, owners, a symlink, an empty folder, binary and unicode names
      const volume = `ubackup-test-now-${suffix}-vol`
      volumes.push(volume)
      await docker("volume", "create", "--label", "ubackup-test=1", volume)
      const vol = await start("volume", {
        labels: { "ubackup.command": "dockervolume://", "ubackup.service": services.volume },
        volumes: [`${volume}:/data`]
      })
      tasks.volume = vol.taskId
      const populate = [
        "set -e",
        "cd /data",
        "printf 'hello volume\\n' > hello.txt && chmod 644 hello.txt",
        "seq 1 50000 > secret && chmod 600 secret",
        "printf '#!/bin/sh\\necho hi\\n' > run.sh && chmod 755 run.sh",
        "mkdir -p sub/deep && head -c 300000 /dev/urandom > sub/deep/file.bin && chmod 640 sub/deep/file.bin",
        "ln -s hello.txt link",
        "ln -s /data/sub abs-link",
        "mkdir empty && chmod 700 empty",
        "mkdir shared && chmod 2775 shared",
        "echo owned > owned && chown 1234:5678 owned && chmod 604 owned",
        "printf 'unicode\\n' > 'naïve file ✓.txt'",
        ": > zero-length"
      ].join("\n")
      await docker("exec", vol.name, "sh", "-c", populate)
      volumeListing = await listTreeInContainer(vol.name, "/data")

      // the same with stop_during_backup: the container is stopped for the archive and started again
      const volume2 = `ubackup-test-now-${suffix}-vol2`
      volumes.push(volume2)
      await docker("volume", "create", "--label", "ubackup-test=1", volume2)
      const volStop = await start("volstop", {
        labels: { "ubackup.command": "dockervolume://", "ubackup.service": services.volumeStopped, "ubackup.stop_during_backup": "true" },
        volumes: [`${volume2}:/state`],
        // stops at once on SIGTERM (a bare `sleep` as PID 1 ignores it, and docker stop waits 10 s)
        command: ["sh", "-c", "trap 'exit 0' TERM; while :; do sleep 1; done"]
      })
      tasks.volumeStopped = volStop.taskId
      await docker("exec", volStop.name, "sh", "-c", "echo at-rest > /state/db && mkdir /state/wal")
      volStopStartedAt = await docker("inspect", "-f", "{{.State.StartedAt}}", volStop.name)

      config = writeConfig("main", {
        docker_endpoint: "unix:///var/run/docker.sock",
        concurrency: 3,
        static_targets: [
          // runs on the host: prints the host's name, which no container has
          { service_name: services.static, backup_command: ["sh", "-c", "echo static-$((6 * 7)); hostname"], file_extension: ".txt" }
        ]
      })
      run = await runNow(config.file)
      console.log(`now (main run): ${run.ms} ms\n${run.text}`)
    })

    it("exits as the summary says; every target of ours is ok", () => {
      expectExitMatchesSummary(run)
      for (const service of [services.label, services.env, services.quoted, services.ext, services.explicit, services.swarm, services.compose, services.byName, services.volume, services.volumeStopped, services.static]) {
        expect(lineOf(run, service), describeRun(run)).toMatch(/\sok\s/)
      }
      expect(run.lines[0]).toMatch(/^SERVICE\s+TASK\s+IN\s+OUT\s+TIME\s+RESULT$/)
    })

    it("a label target and an env (BACKUP_COMMAND) target decrypt to their output", async () => {
      const label = okId(run, services.label, tasks.label as string, "")
      expect(entries(config.storage, services.label)).toEqual([label.split("/")[1]])
      expect((await decryptStored(config.storage, label)).toString()).toBe("hello-label\n")
      const env = okId(run, services.env, tasks.env as string, "")
      expect((await decryptStored(config.storage, env)).toString()).toBe("hello-env\n")
    })

    it("a quoted command runs as one sh -c argument", async () => {
      const id = okId(run, services.quoted, tasks.quoted as string, "")
      expect((await decryptStored(config.storage, id)).toString()).toBe("HELLO\n")
    })

    it("ubackup.file_extension is part of the ID; 1.2 MB round-trips", async () => {
      const id = okId(run, services.ext, tasks.ext as string, ".txt")
      expect(id.endsWith(".txt.zst.age")).toBe(true)
      const plain = await decryptStored(config.storage, id)
      expect(plain.equals(Buffer.from(seq(200000)))).toBe(true)
    })

    it("a container without a command and a stopped container with one are skipped", () => {
      expect(run.lines[0], describeRun(run)).toMatch(/^SERVICE\s/)
      expect(hasLine(run, services.noCommand), describeRun(run)).toBe(false)
      expect(hasLine(run, services.stopped), describeRun(run)).toBe(false)
      expect(run.text).not.toContain(tasks.stopped as string)
      expect(run.text).not.toContain(tasks.noCommand as string)
      expect(entries(config.storage, services.noCommand)).toEqual([])
      expect(entries(config.storage, services.stopped)).toEqual([])
    })

    it("service names: ubackup.service, then the Swarm label, then Compose project-service, then the container name", async () => {
      const cases: Array<[string, string, string]> = [
        [services.explicit, tasks.explicit as string, "svc-explicit\n"],
        [services.swarm, tasks.swarm as string, "svc-swarm\n"],
        [services.compose, tasks.compose as string, "svc-compose\n"],
        [services.byName, tasks.byName as string, "svc-name\n"]
      ]
      for (const [service, task, expected] of cases) {
        const id = okId(run, service, task, "")
        expect(entries(config.storage, service)).toEqual([id.split("/")[1]])
        expect((await decryptStored(config.storage, id)).toString()).toBe(expected)
      }
      // the lower-ranked names were not used
      expect(entries(config.storage, `${prefix}cp`)).toEqual([])
      expect(hasLine(run, containerName("explicit"))).toBe(false)
      expect(hasLine(run, containerName("swarmlabel"))).toBe(false)
      expect(hasLine(run, containerName("compose"))).toBe(false)
    })

    it("dockervolume:// round-trips files, modes, owners, symlinks and empty folders (tar -x -p)", async () => {
      const line = lineOf(run, services.volume)
      expect(line, describeRun(run)).toMatch(/\sok\s/)
      const id = okId(run, services.volume, tasks.volume as string, /\.tar\.zst\.age/.test(line) ? ".tar" : "")
      const tarball = await decryptStored(config.storage, id)
      const restore = fs.mkdtempSync(path.join(dir, "restore-"))
      const tarFile = path.join(dir, "volume.tar")
      fs.writeFileSync(tarFile, tarball)
      await execFileP("tar", ["-x", "-p", "--same-owner", "-f", tarFile, "-C", restore])
      // the archive's top folder is the volume's mount point, or its contents directly
      const top = fs.existsSync(path.join(restore, "data", "hello.txt")) ? path.join(restore, "data") : restore
      expect(fs.existsSync(path.join(top, "hello.txt")), `restored: ${fs.readdirSync(restore).join(", ")}`).toBe(true)
      const restored = listTreeOnHost(top)
      expect(Object.fromEntries(restored)).toEqual(Object.fromEntries(volumeListing))
      expect(fs.readlinkSync(path.join(top, "link"))).toBe("hello.txt")
      expect(fs.readlinkSync(path.join(top, "abs-link"))).toBe("/data/sub")
      expect(fs.readdirSync(path.join(top, "empty"))).toEqual([])
    })

    it("stop_during_backup: the volume is archived with the container stopped, which runs again afterwards", async () => {
      const line = lineOf(run, services.volumeStopped)
      const id = okId(run, services.volumeStopped, tasks.volumeStopped as string, /\.tar\.zst\.age/.test(line) ? ".tar" : "")
      const restore = fs.mkdtempSync(path.join(dir, "restore-"))
      const tarFile = path.join(dir, "volstop.tar")
      fs.writeFileSync(tarFile, await decryptStored(config.storage, id))
      await execFileP("tar", ["-x", "-p", "-f", tarFile, "-C", restore])
      const top = fs.existsSync(path.join(restore, "state")) ? path.join(restore, "state") : restore
      expect(fs.readFileSync(path.join(top, "db"), "utf8")).toBe("at-rest\n")
      expect(fs.statSync(path.join(top, "wal")).isDirectory()).toBe(true)
      expect(await docker("inspect", "-f", "{{.State.Running}}", containerName("volstop"))).toBe("true")
      // it was stopped and started again (another test's run may have done so too)
      expect(await docker("inspect", "-f", "{{.State.StartedAt}}", containerName("volstop"))).not.toBe(volStopStartedAt)
    })

    it("a static target runs on the host, task ID static", async () => {
      const id = okId(run, services.static, "static", ".txt")
      expect((await decryptStored(config.storage, id)).toString()).toBe(`static-42\n${hostname}\n`)
    })
  })

  it("--dry-run lists the targets and their commands, and runs and stores nothing", async () => {
    const marker = path.join(dir, "static-ran")
    const dry = await start("dry", {
      labels: { "ubackup.command": "sh -c 'touch /tmp/dry-ran; echo x'", "ubackup.service": `${prefix}-dry`, "ubackup.file_extension": ".txt" }
    })
    const stopped = await start("drystopped", { labels: { "ubackup.command": "echo never", "ubackup.service": `${prefix}-drystopped` }, command: ["true"] })
    const nocmd = await start("drynocmd", { labels: { "ubackup.service": `${prefix}-drynocmd` } })
    await waitUntil("the stopped container to exit", async () => (await docker("inspect", "-f", "{{.State.Running}}", stopped.name)) === "false")
    const config = writeConfig("dry", {
      docker_endpoint: "unix:///var/run/docker.sock",
      static_targets: [{ service_name: `${prefix}-drystatic`, backup_command: ["sh", "-c", `touch ${marker}; echo y`] }]
    })
    const run = await runNow(config.file, "--dry-run")
    try {
      expect(run.code, describeRun(run)).toBe(0)
      const line = lineOf(run, `${prefix}-dry`)
      expect(line).toContain(dry.taskId)
      expect(line).toContain("touch /tmp/dry-ran")
      const staticLine = lineOf(run, `${prefix}-drystatic`)
      expect(staticLine.split(/\s+/)[1]).toBe("static")
      expect(staticLine).toContain(`touch ${marker}`)
      expect(hasLine(run, `${prefix}-drystopped`)).toBe(false)
      expect(hasLine(run, `${prefix}-drynocmd`)).toBe(false)
      expect(run.text).not.toContain(nocmd.taskId)
      // nothing ran, nothing was stored
      expect(fs.existsSync(marker)).toBe(false)
      const ran = await docker("exec", dry.name, "sh", "-c", "test -e /tmp/dry-ran && echo yes || echo no")
      expect(ran).toBe("no")
      expect(fs.existsSync(config.storage) ? fs.readdirSync(config.storage) : []).toEqual([])
    } finally {
      await remove(dry.name, stopped.name, nocmd.name)
    }
  })

  it("a non-zero exit, a stream killed from inside, one killed from outside and a timeout each fail alone and store nothing", async () => {
    const s = {
      good: `${prefix}-good`,
      exit: `${prefix}-exit3`,
      selfKill: `${prefix}-selfkill`,
      outsideKill: `${prefix}-outsidekill`,
      timeout: `${prefix}-timeout`,
      staticFail: `${prefix}-staticfail`,
      staticGood: `${prefix}-staticgood`
    }
    const good = await start("good", { labels: { "ubackup.command": "seq 1 1000", "ubackup.service": s.good, "ubackup.file_extension": ".txt" } })
    const exit = await start("exit3", { labels: { "ubackup.command": "sh -c 'echo partial output; echo boom-on-stderr >&2; exit 3'", "ubackup.service": s.exit } })
    const selfKill = await start("selfkill", { labels: { "ubackup.command": "sh -c 'head -c 2000000 /dev/zero; kill -9 $$'", "ubackup.service": s.selfKill } })
    const outsideKill = await start("outsidekill", {
      labels: {
        "ubackup.command": "sh -c 'while :; do head -c 65536 /dev/urandom; usleep 20000; done'",
        "ubackup.service": s.outsideKill,
        // a safety net: the kill below is what should end it
        "ubackup.timeout": "90s"
      }
    })
    const timeout = await start("timeout", { labels: { "ubackup.command": "sh -c 'echo started; exec sleep 600'", "ubackup.service": s.timeout, "ubackup.timeout": "3s" } })
    const config = writeConfig("failures", {
      docker_endpoint: "unix:///var/run/docker.sock",
      concurrency: 8,
      static_targets: [
        { service_name: s.staticFail, backup_command: ["sh", "-c", "echo half; exit 7"] },
        { service_name: s.staticGood, backup_command: ["printf", "static ok\\n"] }
      ]
    })
    try {
      let finished = false
      const pending = runNow(config.file).finally(() => (finished = true))
      // kill the streaming container once its backup command runs (unless the run ended before)
      await waitUntil("the outside-kill target's command to start", async () =>
        finished || (await docker("top", outsideKill.name).catch(() => "")).includes("while :"), 60_000)
      if (!finished) {
        await sleep(1500)
        await docker("kill", outsideKill.name)
      }
      const run = await pending
      console.log(`now (failures): ${run.ms} ms\n${run.text}\n${run.stderr}`)

      expect(run.code, describeRun(run)).toBe(1)
      expect(run.signal).toBeNull()
      // the good targets of the same run still succeed and decrypt
      const goodId = okId(run, s.good, good.taskId, ".txt")
      expect((await decryptStored(config.storage, goodId)).toString()).toBe(seq(1000))
      const staticId = okId(run, s.staticGood, "static", "")
      expect((await decryptStored(config.storage, staticId)).toString()).toBe("static ok\n")

      const exitLine = expectFailed(run, s.exit)
      expect(exitLine).toContain(exit.taskId)
      expect(exitLine).toMatch(/(exit code|exited with code) 3\b/)
      expect(run.stderr).toContain("boom-on-stderr")
      expectFailed(run, s.selfKill)
      expect(lineOf(run, s.selfKill)).toContain(selfKill.taskId)
      expectFailed(run, s.outsideKill)
      expect(lineOf(run, s.timeout)).toMatch(/timed out|timeout/i)
      expectFailed(run, s.timeout)
      expect(lineOf(run, s.staticFail)).toMatch(/(exit code|exited with code) 7\b/)
      expectFailed(run, s.staticFail)
      // the timeout ended the run's wait, not the 600 s sleep, and the 90 s safety net was not needed
      expect(run.ms).toBeLessThan(60_000)

      for (const service of [s.exit, s.selfKill, s.outsideKill, s.timeout, s.staticFail]) {
        expect(entries(config.storage, service), `${service} stored something`).toEqual([])
      }
      // no temporary files left anywhere in the storage
      const hidden = fs.readdirSync(config.storage, { recursive: true, encoding: "utf8" }).filter((p) => path.basename(p).startsWith("."))
      expect(hidden).toEqual([])
      // a timeout fails the target, not the container
      expect(await docker("inspect", "-f", "{{.State.Running}}", timeout.name)).toBe("true")
    } finally {
      await remove(good.name, exit.name, selfKill.name, outsideKill.name, timeout.name)
    }
  })

  it("a command that hangs past ubackup.timeout is stopped in its container: run directly, as sh -c 'exec …' and as a sh -c pipeline (the README's forms)", async () => {
    const direct = await start("hang", { labels: { "ubackup.command": "sleep 600", "ubackup.service": `${prefix}-hang`, "ubackup.timeout": "2s" } })
    const viaShell = await start("hangexec", {
      labels: { "ubackup.command": "sh -c 'echo started; exec sleep 601'", "ubackup.service": `${prefix}-hangexec`, "ubackup.timeout": "2s" }
    })
    // a pipeline, as the README's quoting section shows
    const pipeline = await start("hangpipe", {
      labels: { "ubackup.command": "sh -c 'sleep 602 | cat'", "ubackup.service": `${prefix}-hangpipe`, "ubackup.timeout": "2s" }
    })
    const config = writeConfig("hang", { docker_endpoint: "unix:///var/run/docker.sock", concurrency: 4 })
    try {
      const run = await runNow(config.file)
      expect(run.code, describeRun(run)).toBe(1)
      for (const service of [`${prefix}-hang`, `${prefix}-hangexec`, `${prefix}-hangpipe`]) {
        expect(expectFailed(run, service)).toMatch(/timed out|timeout/i)
        expect(entries(config.storage, service)).toEqual([])
      }
      const running = async (name: string, args: string) => (await docker("top", name).catch(() => "")).includes(args)
      const deadline = Date.now() + 10_000
      const anyRunning = async () =>
        (await running(direct.name, "sleep 600")) || (await running(viaShell.name, "sleep 601")) || (await running(pipeline.name, "sleep 602"))
      while (Date.now() < deadline && (await anyRunning())) await sleep(200)
      expect.soft(await running(direct.name, "sleep 600"), `\`sleep 600\` still runs in its container\n${run.stderr}`).toBe(false)
      expect.soft(await running(viaShell.name, "sleep 601"), `\`sh -c 'exec sleep 601'\` still runs in its container\n${run.stderr}`).toBe(false)
      expect.soft(await running(pipeline.name, "sleep 602"), `\`sh -c 'sleep 602 | cat'\` still runs in its container\n${run.stderr}`).toBe(false)
    } finally {
      await remove(direct.name, viaShell.name, pipeline.name)
    }
  })
})

describe.runIf(s3Ready)("ubackup now (S3, radosgw)", () => {
  const bucket = `ubackup-now-${suffix}`
  let client: S3Client
  let s3Dir: string
  let s3Key: string
  let configFile: string

  const keysUnder = async (prefixKey: string) =>
    ((await client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefixKey }))).Contents ?? []).map((o) => o.Key)

  beforeAll(async () => {
    if (s3 === null) throw new Error("no S3 server")
    await buildBusyboxImage()
    client = testS3Client(s3)
    await client.send(new CreateBucketCommand({ Bucket: bucket }))
    s3Dir = fs.mkdtempSync(path.join(os.tmpdir(), "ubackup-now-s3-"))
    const { keyFile: key, config: local } = await initKeys(s3Dir)
    s3Key = key
    configFile = path.join(s3Dir, "s3.json")
    fs.writeFileSync(configFile, JSON.stringify({
      ...local,
      docker_endpoint: "unix:///var/run/docker.sock",
      storage: s3StorageConfig(s3, bucket)
    }, null, 2))
  })

  afterAll(async () => {
    client?.destroy()
    if (s3Dir !== undefined) fs.rmSync(s3Dir, { recursive: true, force: true })
  })

  it("a label target is stored as an object that decrypts; a failing one leaves no object or upload", async () => {
    const service = `${prefix}-s3`
    const failing = `${prefix}-s3fail`
    const ok = await runContainer({
      name: containerName("s3"),
      labels: { "ubackup.command": "sh -c 'echo hello s3 | tr a-z A-Z; seq 1 100000'", "ubackup.service": service, "ubackup.file_extension": ".txt" }
    })
    await runContainer({
      name: containerName("s3fail"),
      labels: { "ubackup.command": "sh -c 'head -c 300000 /dev/urandom; exit 1'", "ubackup.service": failing }
    })
    try {
      const run = await runNow(configFile)
      console.log(`now (S3): ${run.ms} ms\n${run.text}`)
      expect(run.code, describeRun(run)).toBe(1)
      const id = okId(run, service, ok.slice(0, 12), ".txt")
      expect(await keysUnder(`${service}/`)).toEqual([id])
      const head = await client.send(new HeadObjectCommand({ Bucket: bucket, Key: id }))
      expect(head.ContentLength ?? 0).toBeGreaterThan(0)
      const get = await ubackup(["storage", "get", id, "--config", configFile])
      expect(get.code, get.stderr).toBe(0)
      const run2 = await ubackup(["decrypt", s3Key], { input: get.stdout })
      expect(run2.code, run2.stderr).toBe(0)
      expect(run2.stdout.toString()).toBe(`HELLO S3\n${seq(100000)}`)

      expectFailed(run, failing)
      expect(await keysUnder(`${failing}/`)).toEqual([])
      const uploads = (await client.send(new ListMultipartUploadsCommand({ Bucket: bucket }))).Uploads ?? []
      expect(uploads.map((u) => u.Key)).toEqual([])
    } finally {
      await remove(containerName("s3"), containerName("s3fail"))
    }
  })
})

// -- trees compared by type, mode, owner, size, content and link target -------------

/** path → "mode owner size md5|link" of every entry under `root` inside a container (busybox find/stat/md5sum). */
async function listTreeInContainer(container: string, root: string): Promise<Map<string, string>> {
  const script = `cd ${root} && find . -mindepth 1 | while IFS= read -r f; do
    s=$(stat -c '%f %u:%g %s' "$f")
    if [ -L "$f" ]; then x="link:$(readlink "$f")"; elif [ -f "$f" ]; then x=$(md5sum < "$f" | cut -d' ' -f1); else x=dir; fi
    printf '%s\\t%s %s\\n' "$f" "$s" "$x"
  done`
  const output = await docker("exec", container, "sh", "-c", script)
  const listing = new Map<string, string>()
  for (const line of output.split("\n").filter(Boolean)) {
    const [file, rest] = line.split("\t") as [string, string]
    listing.set(file.replace(/^\.\//, ""), normalise(rest))
  }
  return listing
}

/** Directory sizes depend on the file system: left out. */
function normalise(entry: string): string {
  const [mode, owner, size, extra] = entry.split(" ") as [string, string, string, string]
  const isDir = (parseInt(mode, 16) & 0o170000) === 0o040000
  return `${parseInt(mode, 16).toString(8)} ${owner} ${isDir ? "-" : size} ${extra}`
}

function listTreeOnHost(root: string): Map<string, string> {
  const listing = new Map<string, string>()
  const walk = (relative: string) => {
    for (const name of fs.readdirSync(path.join(root, relative))) {
      const rel = relative === "" ? name : `${relative}/${name}`
      const full = path.join(root, rel)
      const st = fs.lstatSync(full)
      let extra: string
      if (st.isSymbolicLink()) extra = `link:${fs.readlinkSync(full)}`
      else if (st.isFile()) extra = crypto.createHash("md5").update(fs.readFileSync(full)).digest("hex")
      else extra = "dir"
      listing.set(rel, normalise(`${st.mode.toString(16)} ${st.uid}:${st.gid} ${st.size} ${extra}`))
      if (st.isDirectory()) walk(rel)
    }
  }
  walk("")
  return listing
}
