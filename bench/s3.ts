/**
 * `npm run bench -- --s3`: ubackup backing the corpus up to a Ceph RGW test
 * server (scripts/rgw/start-rgw.sh, started for the run on this machine),
 * against the rate at which the same server takes the same encrypted bytes
 * from `@aws-sdk/lib-storage` alone (timed inside this process, so without a
 * start-up of its own: the stricter comparison for ubackup).
 */
import { CreateBucketCommand, DeleteObjectCommand, S3Client } from "@aws-sdk/client-s3"
import { Upload } from "@aws-sdk/lib-storage"
import { spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { measure, median, shellQuote } from "./measure.ts"
import { ubackupBin } from "./tools.ts"

export interface S3Figures {
  /** ubackup's rate over lib-storage's, for the same stored bytes (medians). */
  readonly ratio: number
  readonly backupMs: number
  readonly uploadMs: number
  /** Peak RSS of ubackup's node process, worst run. */
  readonly peak: number
}

const scripts = fileURLToPath(new URL("../scripts/rgw/", import.meta.url))
// the keys scripts/rgw/start-rgw.sh gives its test user (AWS's documentation examples, not secrets)
const accessKeyId = "AKIAIOSFODNN7EXAMPLE"
const secretAccessKey = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
const port = 7491
const bucket = "bench"

export const runS3Rows = async (
  { config, corpus, work, runs, log }: {
    readonly config: string
    readonly corpus: string
    readonly work: string
    readonly runs: number
    readonly log: (line: string) => void
  }
): Promise<S3Figures> => {
  const rgwDir = path.join(work, "rgw")
  const env = {
    ...process.env,
    RGW_DIR: rgwDir,
    RGW_PORT: String(port),
    MON_PORT: String(port + 33300),
    OSD_STORE: "bluestore",
    BLUESTORE_BYTES: String(16 * 1024 ** 3)
  }
  log("")
  log(`S3: starting the RGW test server on 127.0.0.1:${port}…`)
  const started = spawnSync("bash", [path.join(scripts, "start-rgw.sh")], { env, encoding: "utf8" })
  if (started.status !== 0) throw new Error(`scripts/rgw/start-rgw.sh failed:\n${started.stdout}${started.stderr}`)
  const endpoint = `http://127.0.0.1:${port}`
  const client = new S3Client({
    endpoint,
    region: "us-east-1",
    forcePathStyle: true,
    credentials: { accessKeyId, secretAccessKey },
    requestChecksumCalculation: "WHEN_REQUIRED"
  })
  try {
    await client.send(new CreateBucketCommand({ Bucket: bucket }))
    const local = JSON.parse(fs.readFileSync(config, "utf8"))
    const s3Config = path.join(work, "s3-config.json")
    fs.writeFileSync(s3Config, JSON.stringify({
      ...local,
      storage: { s3: { bucket, endpoint, access_key_id: accessKeyId, access_key_secret: secretAccessKey } }
    }))
    // the encrypted bytes lib-storage uploads: a default local backup of the corpus (untimed)
    const backup = spawnSync(ubackupBin, ["manual-backup", "bench", "s3-input", "--config", config], {
      stdio: [fs.openSync(corpus, "r"), "pipe", "pipe"],
      encoding: "utf8"
    })
    if (backup.status !== 0) throw new Error(`ubackup manual-backup failed: ${backup.stderr}`)
    const encrypted = path.join(path.dirname(config), local.storage.local.path, backup.stdout.trim())
    const bytes = fs.statSync(encrypted).size

    const backupWalls: Array<number> = []
    const uploadWalls: Array<number> = []
    let peak = 0
    for (let round = 1; round <= runs; round++) {
      const m = await measure({
        script: `exec ${shellQuote(ubackupBin)} manual-backup bench ${shellQuote(`s3-run${round}`)} --config ${shellQuote(s3Config)} > /dev/null`,
        stdin: corpus
      })
      if (m.exitCode !== 0) throw new Error(`ubackup manual-backup to S3 exited with ${m.exitCode}:\n${m.stderr}`)
      const nodePeak = m.maxProcessRss ?? m.peakByName.get("node") ?? m.peakTreeRss
      peak = Math.max(peak, nodePeak)
      backupWalls.push(m.wallMs)
      const key = `plain/run${round}`
      const uploadStarted = performance.now()
      await new Upload({
        client,
        params: { Bucket: bucket, Key: key, Body: fs.createReadStream(encrypted) },
        partSize: 8 * 1024 * 1024,
        queueSize: 4
      }).done()
      uploadWalls.push(performance.now() - uploadStarted)
      await client.send(new DeleteObjectCommand({ Bucket: bucket, Key: key }))
      log(
        `  run ${round}/${runs}: ubackup to S3 ${(m.wallMs / 1000).toFixed(2)} s (peak RSS ${(nodePeak / 2 ** 20).toFixed(1)} MiB), ` +
          `lib-storage upload of its ${(bytes / 2 ** 20).toFixed(1)} MiB ${(uploadWalls.at(-1)! / 1000).toFixed(2)} s`
      )
    }
    const backupMs = median(backupWalls)
    const uploadMs = median(uploadWalls)
    log(
      `S3: ubackup stored at ${(bytes / 1e6 / (backupMs / 1000)).toFixed(1)} MB/s (compressing and encrypting on the way), ` +
        `lib-storage uploaded the same bytes at ${(bytes / 1e6 / (uploadMs / 1000)).toFixed(1)} MB/s (queue 4, 8 MiB parts)`
    )
    return { ratio: uploadMs / backupMs, backupMs, uploadMs, peak }
  } finally {
    client.destroy()
    spawnSync("bash", [path.join(scripts, "stop-rgw.sh")], { env, stdio: "ignore" })
  }
}
