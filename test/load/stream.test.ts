/**
 * One long stream (10 GiB by default; UBACKUP_LOAD_GIB changes it) through
 * the whole pipeline: `manual-backup` (zstd, age) into the real Ceph RGW,
 * then `storage get | decrypt` back out. The input is an AES-CTR keystream
 * (incompressible, made faster than the pipeline takes it), hashed on the
 * way in and out: the restore is byte-exact by SHA-256. The backup's
 * resident memory is read at 1, 4 and 10 GiB and must stay flat.
 *
 * Run with `npm run test:load`; not part of `.ci/run` (its time).
 */
import { CreateBucketCommand } from "@aws-sdk/client-s3"
import { spawn } from "node:child_process"
import * as crypto from "node:crypto"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { describe, expect, inject, it } from "vitest"
import { binary, initKeys } from "../harness/cli.ts"
import { rgwCommands, s3StorageConfig, testS3Client } from "../harness/rgw.ts"
import { requireCommands } from "../harness/tools.ts"

const s3 = inject("s3")
const ready = requireCommands("load: a long stream to radosgw", ...rgwCommands) && s3 !== null
const GiB = 1024 ** 3
const total = Number(process.env.UBACKUP_LOAD_GIB ?? "10") * GiB
const checkpoints = [1, 4, 10].map((gib) => gib * GiB).filter((at) => at <= total)

const statusKiB = (pid: number, field: "VmRSS" | "VmHWM") => {
  try {
    return Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(fs.readFileSync(`/proc/${pid}/status`, "utf8"))?.[1] ?? 0)
  } catch {
    return 0
  }
}

describe.runIf(ready)("load: one long stream to radosgw", () => {
  it(`${total / GiB} GiB in, restored byte-exact, constant memory`, async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "ubackup-load-stream-"))
    const bucket = `ubackup-load-${crypto.randomBytes(4).toString("hex")}`
    await testS3Client(s3!).send(new CreateBucketCommand({ Bucket: bucket }))
    const { keyFile, config } = await initKeys(dir)
    const configFile = path.join(dir, "config.json")
    fs.writeFileSync(configFile, JSON.stringify({ ...config, storage: s3StorageConfig(s3!, bucket) }))

    const started = Date.now()
    const backup = spawn(binary, ["manual-backup", "load", "stream", "--config", configFile], { stdio: ["pipe", "pipe", "inherit"] })
    let id = ""
    backup.stdout.on("data", (chunk: Buffer) => (id += chunk.toString()))
    const backedUp = new Promise<number | null>((resolve) => backup.on("close", resolve))
    const rss: Array<string> = []
    const cipher = crypto.createCipheriv("aes-256-ctr", crypto.randomBytes(32), crypto.randomBytes(16))
    const zeros = Buffer.alloc(4 * 1024 * 1024)
    const hashIn = crypto.createHash("sha256")
    let sent = 0
    while (sent < total) {
      const chunk = cipher.update(zeros.subarray(0, Math.min(zeros.length, total - sent)))
      hashIn.update(chunk)
      sent += chunk.length
      if (!backup.stdin.write(chunk)) await new Promise((resolve) => backup.stdin.once("drain", resolve))
      if (checkpoints.includes(sent)) rss.push(`${sent / GiB} GiB: ${(statusKiB(backup.pid!, "VmRSS") / 1024).toFixed(0)} MiB`)
    }
    const peakKiB = statusKiB(backup.pid!, "VmHWM")
    backup.stdin.end()
    expect(await backedUp).toBe(0)
    const backupMs = Date.now() - started

    const restoreStarted = Date.now()
    const restore = spawn("bash", ["-o", "pipefail", "-c", `"$0" storage get "$1" --config "$2" | "$0" decrypt "$3"`, binary, id.trim(), configFile, keyFile], {
      stdio: ["ignore", "pipe", "inherit"]
    })
    const hashOut = crypto.createHash("sha256")
    let restored = 0
    restore.stdout.on("data", (chunk: Buffer) => {
      hashOut.update(chunk)
      restored += chunk.length
    })
    expect(await new Promise<number | null>((resolve) => restore.on("close", resolve))).toBe(0)
    expect(restored).toBe(total)
    expect(hashOut.digest("hex")).toBe(hashIn.digest("hex"))
    console.log(
      `load stream: ${total / GiB} GiB backed up in ${(backupMs / 1000).toFixed(0)} s (${(total / 1024 / 1024 / (backupMs / 1000)).toFixed(0)} MiB/s), ` +
        `restored byte-exact in ${((Date.now() - restoreStarted) / 1000).toFixed(0)} s; backup RSS ${rss.join(", ")}; peak ${(peakKiB / 1024).toFixed(0)} MiB`
    )
    expect(peakKiB).toBeLessThan(256 * 1024)
  })
})
