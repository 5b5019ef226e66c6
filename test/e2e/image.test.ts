/**
 * The production Docker image, built from the repository's Dockerfile on the
 * real engine (its base, node:24-bookworm-slim, is assembled from this
 * machine's Node by test/harness/nodeImage.ts: no registry is reachable).
 *
 * - the image holds the launcher and the bundle only (no node_modules, no
 *   sources), and the bundled CLI runs from it: `--help`, a backup to a
 *   local folder under its working directory, a backup to S3 (radosgw);
 * - deployed as a global Swarm service with the Docker socket mounted, it
 *   backs up another service's task (`scheduler run --run-now`) to S3, and
 *   the object decrypts with the private key to what the task wrote.
 */
import {
  CreateBucketCommand,
  DeleteBucketCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  type S3Client
} from "@aws-sdk/client-s3"
import { execFile } from "node:child_process"
import * as crypto from "node:crypto"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { promisify } from "node:util"
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest"
import { initKeys, ubackup } from "../harness/cli.ts"
import { buildBusyboxImage, docker, dockerWithInput, requireDocker, testLabel } from "../harness/docker.ts"
import { withEngineLock } from "../harness/engineLock.ts"
import { buildNodeBaseImage } from "../harness/nodeImage.ts"
import { backupIdSource } from "../harness/now.ts"
import { rgwCommands, s3StorageConfig, type S3Endpoint, testS3Client } from "../harness/rgw.ts"
import { removeService, serviceContainers, withSwarm } from "../harness/swarm.ts"
import { requireCommands, sleep } from "../harness/tools.ts"

const execFileAsync = promisify(execFile)

const root = path.resolve(import.meta.dirname, "../..")
const image = "ubackup-test/ubackup:dev"

const dockerReady = requireDocker("the Docker image")
const s3 = inject("s3")
const s3Ready = dockerReady && requireCommands("the Docker image with S3 (radosgw)", ...rgwCommands) && s3 !== null

const server = (): S3Endpoint => {
  if (s3 === null) throw new Error("no S3 server (globalSetup did not start radosgw)")
  return s3
}


describe.runIf(dockerReady)("the Docker image", () => {
  beforeAll(async () => {
    let started = Date.now()
    await buildNodeBaseImage()
    const base = Date.now() - started
    started = Date.now()
    try {
      // the host network: npm ci in the build stage needs the registry, and DNS on the bridge may not work everywhere
      await execFileAsync("docker", ["build", "--network", "host", "--label", testLabel, "-t", image, "."], {
        cwd: root,
        timeout: 360_000,
        maxBuffer: 64 * 1024 * 1024
      })
    } catch (error) {
      const output = error as { stdout?: string; stderr?: string; message: string }
      throw new Error(`docker build failed: ${output.message}\n${output.stdout ?? ""}\n${output.stderr ?? ""}`)
    }
    console.log(`image: node:24-bookworm-slim ready in ${(base / 1000).toFixed(1)} s, docker build ${((Date.now() - started) / 1000).toFixed(1)} s`)
  }, 420_000)

  it("holds the launcher and the bundle only: no node_modules, no sources", async () => {
    const files = (await docker("run", "--rm", "--network", "none", image, "find", "/opt/ubackup", "-type", "f")).split("\n").sort()
    const bundle = files.filter((file) => !file.endsWith(".map"))
    expect(bundle).toEqual(["/opt/ubackup/bin/ubackup", "/opt/ubackup/dist/cli.mjs", "/opt/ubackup/dist/vendor/dockerode.mjs", "/opt/ubackup/dist/vendor/s3.mjs"])
    // the only node_modules is the base image's own npm
    const modules = await docker("run", "--rm", "--network", "none", image, "find", "/", "-xdev", "-type", "d", "-name", "node_modules", "-prune")
    expect(modules.split("\n").filter(Boolean)).toEqual(["/usr/local/lib/node_modules"])
    const leftovers = await docker("run", "--rm", "--network", "none", image, "sh", "-c", "ls -d /src /opt/ubackup/src /opt/ubackup/package.json 2>/dev/null; true")
    expect(leftovers).toBe("")

    const config = JSON.parse(await docker("image", "inspect", "--format", "{{json .Config}}", image)) as {
      readonly Cmd: ReadonlyArray<string>
      readonly Env: ReadonlyArray<string>
      readonly WorkingDir: string
      readonly User?: string
      readonly Labels: Record<string, string>
    }
    expect(config.Cmd).toEqual(["ubackup", "scheduler", "run"])
    expect(config.WorkingDir).toBe("/var/lib/ubackup")
    expect(config.Env).toContain("NODE_ENV=production")
    expect(config.User ?? "").toBe("") // root: it talks to the Docker socket
    expect(config.Labels["org.opencontainers.image.title"]).toBe("ubackup")
    expect(config.Labels["org.opencontainers.image.licenses"]).toBe("Apache-2.0")
    const link = await docker("run", "--rm", "--network", "none", image, "readlink", "/usr/local/bin/ubackup")
    expect(link).toBe("/opt/ubackup/bin/ubackup")
  })

  it("ubackup --help runs from the image", async () => {
    const help = await dockerWithInput(["run", "--rm", "--network", "none", image, "ubackup", "--help"])
    expect(help.code, help.stderr).toBe(0)
    expect(help.stdout.toString()).toMatch(/SUBCOMMANDS[\s\S]*\bnow\b[\s\S]*\bscheduler\b[\s\S]*\bmanual-backup\b/)
    const version = await dockerWithInput(["run", "--rm", "--network", "none", image, "ubackup", "--version"])
    expect(version.code, version.stderr).toBe(0)
    const { version: expected } = JSON.parse(fs.readFileSync(path.join(root, "package.json"), "utf8")) as { version: string }
    expect(version.stdout.toString()).toContain(expected)
    const scheduler = await dockerWithInput(["run", "--rm", "--network", "none", image, "ubackup", "scheduler", "run", "--help"])
    expect(scheduler.code, scheduler.stderr).toBe(0)
    expect(scheduler.stdout.toString()).toContain("--run-now")
  })

  it("a local storage path in UBACKUP_CONF lands under /var/lib/ubackup", async () => {
    const key = await ubackup(["decryption-key-generate", "--type", "x25519"])
    expect(key.code, key.stderr).toBe(0)
    const recipient = await ubackup(["decryption-key-to-encryption-key"], { input: key.stdout })
    expect(recipient.code, recipient.stderr).toBe(0)
    const config = { encryption_recipients: [recipient.stdout.toString().trim()], storage: { local: { path: "backups" } } }
    const conf = Buffer.from(JSON.stringify(config)).toString("base64")
    const data = `local backup ${crypto.randomBytes(8).toString("hex")}\n`
    const script = 'ubackup manual-backup local task1 --file-extension .txt >/dev/null && cd / && find /var/lib/ubackup -type f -exec cat {} +'
    const run = await dockerWithInput(["run", "--rm", "-i", "--network", "none", "-e", `UBACKUP_CONF=${conf}`, image, "sh", "-c", script], data)
    expect(run.code, run.stderr).toBe(0)
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "ubackup-image-local-"))
    try {
      fs.writeFileSync(path.join(dir, "backups.key"), key.stdout, { mode: 0o600 })
      const plain = await ubackup(["decrypt", path.join(dir, "backups.key")], { input: run.stdout })
      expect(plain.code, plain.stderr).toBe(0)
      expect(plain.stdout.toString()).toBe(data)
    } finally {
      fs.rmSync(dir, { recursive: true, force: true })
    }
  })

  describe.runIf(s3Ready)("with S3 (radosgw)", () => {
    const bucket = `ubackup-image-${crypto.randomBytes(4).toString("hex")}`
    let client: S3Client
    let dir: string
    let keyFile: string
    /** The config as UBACKUP_CONF wants it: base64 of the JSON. */
    let conf: string

    const keysUnder = async (prefix: string) =>
      ((await client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix }))).Contents ?? []).flatMap((object) =>
        object.Key !== undefined ? [object.Key] : []
      )

    const getObject = async (key: string) => {
      const object = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }))
      return Buffer.from(await (object.Body as { transformToByteArray: () => Promise<Uint8Array> }).transformToByteArray())
    }

    beforeAll(async () => {
      client = testS3Client(server())
      await client.send(new CreateBucketCommand({ Bucket: bucket }))
      dir = fs.mkdtempSync(path.join(os.tmpdir(), "ubackup-image-"))
      const keys = await initKeys(dir)
      keyFile = keys.keyFile
      const initial = keys.config
      const config = {
        ...initial,
        // 127.0.0.1: the containers use the host's network
        storage: s3StorageConfig(server(), bucket),
        docker_endpoint: "unix:///var/run/docker.sock",
        // the service backs up every labelled container on the engine, other test files' too
        // (some hang or run long on purpose): side by side, and bounded, so the victim's turn comes
        concurrency: 8,
        target_timeout: "30s"
      }
      conf = Buffer.from(JSON.stringify(config)).toString("base64")
    })

    afterAll(async () => {
      if (dir !== undefined) fs.rmSync(dir, { recursive: true, force: true })
      if (client === undefined) return
      try {
        const keys = await keysUnder("")
        if (keys.length > 0) await client.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: keys.map((Key) => ({ Key })), Quiet: true } }))
        await client.send(new DeleteBucketCommand({ Bucket: bucket }))
      } catch (error) {
        console.warn(`could not remove bucket ${bucket}: ${String(error)}`)
      }
      client.destroy()
    })

    it("manual-backup from the image stores to S3, and storage ls finds it", async () => {
      const data = Buffer.from(Array.from({ length: 2000 }, (_, i) => `line ${i} ${crypto.randomBytes(6).toString("hex")}\n`).join(""))
      const env = ["-e", `UBACKUP_CONF=${conf}`]
      const backup = await dockerWithInput(["run", "--rm", "-i", "--network", "host", ...env, image, "ubackup", "manual-backup", "image-manual", "task1", "--file-extension", ".txt"], data)
      expect(backup.code, backup.stderr).toBe(0)
      const id = backup.stdout.toString().trim()
      expect(id).toMatch(/^image-manual\/\d{4}-\d{2}-\d{2} \d{4}Z_.+_task1\.txt\.zst\.age$/)
      expect(await keysUnder("image-manual/")).toEqual([id])

      const ls = await dockerWithInput(["run", "--rm", "--network", "host", ...env, image, "ubackup", "storage", "ls", "image-manual"])
      expect(ls.code, ls.stderr).toBe(0)
      expect(ls.stdout.toString()).toContain(id)

      const plain = await ubackup(["decrypt", keyFile], { input: await getObject(id) })
      expect(plain.code, plain.stderr).toBe(0)
      expect(plain.stdout.equals(data)).toBe(true)
    })

    it("as a global Swarm service with the Docker socket, it backs up another service's task to S3", async () => {
      await buildBusyboxImage()
      // the service backs up every labelled container on the engine: not while other files' tests need theirs alone
      await withEngineLock(() => withSwarm(async (swarm) => {
        const suffix = crypto.randomBytes(3).toString("hex")
        const victim = `ubackup-test-victim-${suffix}`
        const service = `ubackup-test-image-${suffix}`
        const victimContainer = await swarm.createService(victim, {
          labels: { "ubackup.command": "sh -c 'echo hello from $(hostname)'", "ubackup.file_extension": ".txt" }
        })
        const taskId = victimContainer.slice(0, 12)
        const logs = async () => (await docker("service", "logs", "--raw", service).catch((error: unknown) => String(error))).slice(-4000)
        const started = Date.now()
        try {
          await docker(
            "service", "create", "--detach", "--quiet", "--no-resolve-image", "--name", service,
            "--label", testLabel, "--container-label", testLabel,
            "--mode", "global", "--init", "--network", "host",
            // a task that fails is not restarted behind the test's back: its logs say why
            "--restart-condition", "none",
            "--mount", "type=bind,source=/var/run/docker.sock,target=/var/run/docker.sock",
            "--env", `UBACKUP_CONF=${conf}`,
            image, "ubackup", "scheduler", "run", "--run-now"
          )
          const deadline = Date.now() + 90_000
          let key: string | undefined
          while (key === undefined) {
            key = (await keysUnder(`${victim}/`))[0]
            if (key !== undefined) break
            const states = await docker("service", "ps", "--no-trunc", "--format", "{{.CurrentState}} {{.Error}}", service)
            if (/^(Failed|Rejected|Complete)/m.test(states) || Date.now() > deadline) {
              throw new Error(`no backup of ${victim} in the bucket (${((Date.now() - started) / 1000).toFixed(0)} s); tasks: ${states}\nlogs:\n${await logs()}`)
            }
            await sleep(500)
          }
          console.log(`global service: backup of ${victim} in the bucket ${((Date.now() - started) / 1000).toFixed(1)} s after service create`)
          const pattern = new RegExp(`^${backupIdSource(victim, taskId, ".txt.zst.age")}$`)
          expect(key).toMatch(pattern)
          const plain = await ubackup(["decrypt", keyFile], { input: await getObject(key) })
          expect(plain.code, plain.stderr).toBe(0)
          // a task container's hostname is its short ID
          expect(plain.stdout.toString()).toBe(`hello from ${taskId}\n`)
          // the scheduler keeps running after the first backup, waiting for the schedule
          expect(await serviceContainers(service), await logs()).toHaveLength(1)
        } finally {
          const stopping = Date.now()
          await removeService(service)
          console.log(`global service removed in ${((Date.now() - stopping) / 1000).toFixed(1)} s`)
        }
      }))
    }, 600_000)
  })
})
