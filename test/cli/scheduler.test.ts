/**
 * `ubackup scheduler` through the real CLI: stopped by SIGTERM in the middle
 * of an upload to S3 (radosgw) it aborts the upload and exits 0; stopped
 * while idle it exits 0 at once; a bad schedule is refused. (The systemd unit
 * is tested with the installed release: test/cli/install.test.ts.)
 */
import { CreateBucketCommand, ListMultipartUploadsCommand, ListObjectsV2Command, type S3Client } from "@aws-sdk/client-s3"
import { execFile } from "node:child_process"
import * as crypto from "node:crypto"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { promisify } from "node:util"
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest"
import { initKeys, start, ubackup } from "../harness/cli.ts"
import { rgwCommands, s3StorageConfig, testS3Client } from "../harness/rgw.ts"
import { requireCommands, waitFor } from "../harness/tools.ts"

const execFileP = promisify(execFile)
const s3 = inject("s3")
const s3Ready = requireCommands("scheduler with S3 (radosgw)", ...rgwCommands) && s3 !== null

/** Exit within `ms`, or "hung". */
const exitWithin = <A>(exited: Promise<A>, ms: number) =>
  Promise.race([exited, new Promise<"hung">((resolve) => setTimeout(() => resolve("hung"), ms))])

let dir: string
let baseConfig: Record<string, unknown>

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "ubackup-scheduler-test-"))
  baseConfig = (await initKeys(path.join(dir, "keys"))).config
})

afterAll(() => {
  if (dir !== undefined) fs.rmSync(dir, { recursive: true, force: true })
})

const writeConfig = (name: string, fields: Record<string, unknown>) => {
  const file = path.join(dir, `${name}.json`)
  fs.writeFileSync(file, JSON.stringify({ ...baseConfig, ...fields }, null, 2))
  return file
}

describe("scheduler run", () => {
  it("stopped while waiting for the schedule: exits 0 at once, and logs the next run", async () => {
    const config = writeConfig("idle", {
      schedule: "30 4 * * 1",
      schedule_timezone: "Europe/Helsinki",
      static_targets: [{ service_name: "idle", backup_command: ["echo", "hi"] }]
    })
    const scheduler = start(["scheduler", "run", "--config", config])
    try {
      await waitFor("the next run time", async () => (/next run at /.test(scheduler.output().stderr) ? true : undefined), 20_000)
      // 04:30 on a Monday in Helsinki is 01:30 or 02:30 UTC
      expect(scheduler.output().stderr).toMatch(/next run at \d{4}-\d{2}-\d{2}T0[12]:30:00\.000Z/)
      const stopping = Date.now()
      scheduler.child.kill("SIGTERM")
      const exit = await exitWithin(scheduler.exited, 10_000)
      expect(exit, scheduler.output().stderr).toEqual({ code: 0, signal: null })
      expect(Date.now() - stopping).toBeLessThan(5_000)
      expect(scheduler.output().stderr).toContain("scheduler stopped")
      expect(scheduler.output().stderr).not.toContain("aborted")
    } finally {
      if (scheduler.child.exitCode === null) scheduler.child.kill("SIGKILL")
    }
  })

  it("a bad schedule is an error that names the field", async () => {
    const config = writeConfig("badcron", { schedule: "61 * * * *" })
    const run = await ubackup(["scheduler", "run", "--config", config])
    expect(run.code).toBe(1)
    expect(run.stderr).toContain("schedule")
    const zone = writeConfig("badzone", { schedule_timezone: "Mars/Olympus" })
    const zoneRun = await ubackup(["scheduler", "run", "--config", zone])
    expect(zoneRun.code).toBe(1)
    expect(zoneRun.stderr).toContain("schedule_timezone")
  })

  describe.runIf(s3Ready)("with S3 (radosgw)", () => {
    const bucket = `ubackup-sched-${crypto.randomBytes(3).toString("hex")}`
    let client: S3Client

    beforeAll(async () => {
      if (s3 === null) throw new Error("no S3 server")
      client = testS3Client(s3)
      await client.send(new CreateBucketCommand({ Bucket: bucket }))
    })

    const keys = async () => ((await client.send(new ListObjectsV2Command({ Bucket: bucket }))).Contents ?? []).map((o) => o.Key)
    const uploads = async () => (await client.send(new ListMultipartUploadsCommand({ Bucket: bucket }))).Uploads ?? []

    it("SIGTERM during an upload: the upload is aborted, the command stopped, nothing stored, exit 0 within seconds", async () => {
      if (s3 === null) throw new Error("no S3 server")
      const marker = `ubackup-sched-marker-${crypto.randomBytes(3).toString("hex")}`
      const config = writeConfig("sigterm", {
        storage: s3StorageConfig(s3, bucket),
        // incompressible and longer than a part, then stalls: the upload is open when SIGTERM comes
        static_targets: [{ service_name: "sigterm", backup_command: ["sh", "-c", `head -c 30000000 /dev/urandom; sleep 600; : ${marker}`] }]
      })
      const scheduler = start(["scheduler", "run", "--run-now", "--config", config])
      try {
        await waitFor("the backup's multipart upload", async () => (await uploads())[0])
        const stopping = Date.now()
        scheduler.child.kill("SIGTERM")
        const exit = await exitWithin(scheduler.exited, 15_000)
        expect(exit, `the scheduler did not exit after SIGTERM; stderr: ${scheduler.output().stderr}`).toEqual({ code: 0, signal: null })
        console.log(`scheduler stopped ${Date.now() - stopping} ms after SIGTERM, mid-upload`)
        expect(Date.now() - stopping).toBeLessThan(10_000)
        expect(scheduler.output().stderr).toContain("aborted")
        expect(await keys()).toEqual([])
        expect(await uploads()).toEqual([])
        // the host command's shell is gone too
        const { stdout } = await execFileP("ps", ["-eo", "args"])
        expect(stdout).not.toContain(marker)
      } finally {
        if (scheduler.child.exitCode === null) scheduler.child.kill("SIGKILL")
      }
    })
  })
})
