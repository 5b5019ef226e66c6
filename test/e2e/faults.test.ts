/**
 * Faults around the sources of a run, against the real Docker engine
 * (docs/RELIABILITY.md). Each fails its own target alone, stores nothing
 * for it, and the next run works:
 *
 * - the engine "restarting" mid-stream: test/harness/faultProxy.ts sits
 *   between ubackup and the engine's socket and cuts every connection once
 *   an exec stream is under way, then refuses connections for 2 s (the
 *   shared engine itself is not restarted: the other test files use it);
 * - commands that flood stderr (300 MB, in a container and on the host)
 *   and then fail: ubackup's peak memory stays bounded, the error carries
 *   at most a 64 KiB tail;
 * - commands that write nothing and exit 0 (in a container and on the
 *   host): a failure, not an empty backup.
 *
 * `container_filter` limits each run to its test's container, so the
 * proxy's cut hits ours and no other test's.
 */
import * as crypto from "node:crypto"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { start } from "../harness/cli.ts"
import { buildBusyboxImage, docker, requireDocker, runContainer } from "../harness/docker.ts"
import { type EngineProxy, startEngineProxy } from "../harness/faultProxy.ts"
import { describeRun, initNowConfig, lineOf, type NowSetup, runNow } from "../harness/now.ts"
import { sleep, watchPeakRss } from "../harness/tools.ts"

const ready = requireDocker("pipeline faults (Docker)")
const suffix = crypto.randomBytes(3).toString("hex")
const prefix = `fault${suffix}`
const containerName = (what: string) => `ubackup-test-faults-${suffix}-${what}`
const KiB = 1024
const MiB = 1024 * KiB

/** Every file (hidden temporary ones too) the local storage holds for `service`. */
const storedFiles = (storage: string, service: string): Array<string> => {
  const folder = path.join(storage, service)
  return fs.existsSync(folder) ? fs.readdirSync(folder) : []
}

describe.runIf(ready)("faults around a run's sources (Docker)", () => {
  let dir: string
  let setup: NowSetup
  let proxy: EngineProxy
  const containers: Array<string> = []

  /** A config for `now` through the proxy, limited to this test's container. */
  const writeConfig = (name: string, only: string, fields: Record<string, unknown>) => {
    const file = path.join(dir, `${name}.json`)
    const base = JSON.parse(fs.readFileSync(setup.configFile, "utf8")) as Record<string, unknown>
    fs.writeFileSync(file, JSON.stringify({
      ...base,
      docker_endpoint: proxy.endpoint,
      container_filter: { names: [containerName(only)] },
      ...fields
    }, null, 2))
    return file
  }
  const container = async (what: string, labels: Record<string, string>) => {
    containers.push(await runContainer({ name: containerName(what), labels }))
  }

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "ubackup-pipeline-faults-"))
    setup = await initNowConfig(dir)
    proxy = await startEngineProxy()
    await buildBusyboxImage()
  })
  afterAll(async () => {
    await proxy?.close()
    if (containers.length > 0) await docker("rm", "-f", ...containers).catch(() => undefined)
  })

  it("the engine goes away mid-stream: that target fails and stores nothing, the host target is stored, the next run works", async () => {
    const service = `${prefix}stream`
    // ~10 MiB over ~4 s, so the cut lands mid-stream
    await container("stream", {
      "ubackup.command": "sh -c 'i=0; while [ $i -lt 40 ]; do head -c 262144 /dev/urandom; sleep 0.1; i=$((i+1)); done'",
      "ubackup.service": service
    })
    const config = writeConfig("restart", "stream", {
      concurrency: 2,
      static_targets: [{ service_name: `${prefix}host`, backup_command: ["sh", "-c", "sleep 1; echo host"] }]
    })
    const cut = proxy.restartWhenStreaming(2 * MiB, 2_000)
    const run = await runNow(config)
    await cut
    expect(run.code, describeRun(run)).toBe(1)
    const failed = lineOf(run, service)
    expect(failed, describeRun(run)).toMatch(/FAILED/)
    expect(lineOf(run, `${prefix}host`), describeRun(run)).toMatch(/\sok\s/)
    expect(storedFiles(setup.storage, service)).toEqual([])

    await sleep(2_000) // the engine is back
    const again = await runNow(writeConfig("restart-again", "stream", {}))
    expect(again.code, describeRun(again)).toBe(0)
    expect(lineOf(again, service)).toMatch(/\sok\s/)
    expect(storedFiles(setup.storage, service)).toHaveLength(1)
    console.log(`engine fault: cut mid-stream -> ${failed.replace(/\s+/g, " ").slice(0, 200)}`)
  })

  it("300 MB of stderr then a failure, in a container and on the host: bounded memory, a tail of at most 64 KiB, nothing stored", async () => {
    const service = `${prefix}flood`
    const flood = "yes 'stderr flood line, stderr flood line, stderr flood line' | head -c 300000000 >&2; exit 3"
    await container("flood", { "ubackup.command": `sh -c "${flood}"`, "ubackup.service": service })
    const config = writeConfig("flood", "flood", {
      concurrency: 2,
      static_targets: [{ service_name: `${prefix}hostflood`, backup_command: ["sh", "-c", flood] }]
    })
    const running = start(["now", "--config", config])
    const rss = watchPeakRss(running.child.pid!)
    const exit = await running.exited
    const peakKiB = rss.stop()
    const { stdout, stderr } = running.output()
    expect(exit.code, stderr.slice(-2000)).toBe(1)
    for (const name of [service, `${prefix}hostflood`]) {
      const line = stdout.split("\n").find((candidate) => candidate.startsWith(`${name} `))
      expect(line, stdout).toMatch(/FAILED/)
      expect(line).toMatch(/code 3/)
      expect(storedFiles(setup.storage, name)).toEqual([])
    }
    // each target's error (in the log and in the summary) carries at most its 64 KiB tail, escaped
    expect(Buffer.byteLength(stdout) + Buffer.byteLength(stderr)).toBeLessThan(4 * 64 * KiB + 64 * KiB)
    expect(stderr).toContain("stderr flood line")
    expect(peakKiB, `peak RSS ${peakKiB} KiB`).toBeGreaterThan(0)
    expect(peakKiB).toBeLessThan(256 * KiB)
    console.log(`stderr flood: 2 × 300 MB of stderr, ubackup peak RSS ${(peakKiB / KiB).toFixed(0)} MiB, ${stdout.length + stderr.length} bytes printed`)
  })

  it("a command that writes nothing and exits 0, in a container and on the host: failed, nothing stored", async () => {
    const service = `${prefix}empty`
    await container("empty", { "ubackup.command": "true", "ubackup.service": service })
    const config = writeConfig("empty", "empty", { static_targets: [{ service_name: `${prefix}hostempty`, backup_command: ["true"] }] })
    const run = await runNow(config)
    expect(run.code, describeRun(run)).toBe(1)
    for (const name of [service, `${prefix}hostempty`]) {
      expect(lineOf(run, name), describeRun(run)).toMatch(/FAILED.*produced no data/)
      expect(storedFiles(setup.storage, name)).toEqual([])
    }
  })
})
