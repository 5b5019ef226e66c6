/**
 * 50 containers, `concurrency` 4, one run of `now` against the real engine:
 * every one stored, each restoring to its own bytes, and ubackup's peak
 * memory (VmHWM) reported and held under 256 MiB. The 10 GiB stream is
 * test/load/stream.test.ts (`npm run test:load`, outside CI).
 */
import * as crypto from "node:crypto"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { start, ubackup } from "../harness/cli.ts"
import { buildBusyboxImage, docker, requireDocker, runContainer } from "../harness/docker.ts"
import { initNowConfig, type NowSetup } from "../harness/now.ts"
import { watchPeakRss } from "../harness/tools.ts"

const ready = requireDocker("load: 50 containers (Docker)")
const suffix = crypto.randomBytes(3).toString("hex")
const count = 50
const containerName = (n: number) => `ubackup-test-load-${suffix}-${n}`
const service = (n: number) => `load${suffix}n${n}`
const KiB = 1024

describe.runIf(ready)("load: 50 containers at concurrency 4", () => {
  let dir: string
  let setup: NowSetup
  const ids: Array<string> = []

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "ubackup-load-"))
    setup = await initNowConfig(dir)
    await buildBusyboxImage()
    // each container's backup is 4 MiB of a pattern of its own, so a mixed-up restore shows
    for (let n = 0; n < count; n += 10) {
      ids.push(...await Promise.all(Array.from({ length: Math.min(10, count - n) }, (_, i) =>
        runContainer({
          name: containerName(n + i),
          labels: {
            "ubackup.command": `sh -c 'yes container-${n + i}-of-${suffix} | head -c 4194304'`,
            "ubackup.service": service(n + i)
          }
        }))))
    }
  })
  afterAll(async () => {
    if (ids.length > 0) await docker("rm", "-f", ...ids).catch(() => undefined)
  })

  it("all 50 stored, each restores to its own stream, peak RSS under 256 MiB", async () => {
    const config = path.join(dir, "load.json")
    fs.writeFileSync(config, JSON.stringify({
      ...JSON.parse(fs.readFileSync(setup.configFile, "utf8")),
      concurrency: 4,
      container_filter: { names: [`ubackup-test-load-${suffix}-*`] }
    }))
    const started = Date.now()
    const running = start(["now", "--config", config])
    const rss = watchPeakRss(running.child.pid!)
    const exit = await running.exited
    const peakKiB = rss.stop()
    const { stdout, stderr } = running.output()
    expect(exit.code, `${stdout}\n${stderr.slice(-3000)}`).toBe(0)
    const lines = stdout.split("\n").filter((line) => line.startsWith(`load${suffix}n`))
    expect(lines).toHaveLength(count)
    for (const line of lines) expect(line).toMatch(/\sok\s/)

    for (const n of [0, 17, 49]) {
      const [id] = (await ubackup(["storage", "ls", service(n), "--config", config])).stdout.toString().trim().split("\n")
      const stored = await ubackup(["storage", "get", id!, "--config", config])
      const plain = await ubackup(["decrypt", setup.keyFile], { input: stored.stdout })
      expect(plain.code, plain.stderr).toBe(0)
      expect(plain.stdout.length).toBe(4 * 1024 * 1024)
      expect(plain.stdout.subarray(0, 40).toString()).toBe(`container-${n}-of-${suffix}\n`.repeat(3).slice(0, 40))
    }
    expect(peakKiB).toBeGreaterThan(0)
    expect(peakKiB, `peak RSS ${peakKiB} KiB`).toBeLessThan(256 * KiB)
    console.log(`load: ${count} containers × 4 MiB at concurrency 4 in ${Date.now() - started} ms, all stored, ubackup peak RSS ${(peakKiB / KiB).toFixed(0)} MiB`)
  }, 300_000)
})
