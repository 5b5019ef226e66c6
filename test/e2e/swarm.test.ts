/**
 * `ubackup now` in a Swarm: a service's task containers carry the container
 * label `ubackup.command`; each is backed up under the service's name, with
 * its own task ID (the container's 12-character ID).
 *
 * Other tests may run labelled containers on the engine at the same time:
 * assertions are only about this file's service.
 */
import * as crypto from "node:crypto"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { ubackup } from "../harness/cli.ts"
import { buildBusyboxImage, requireDocker } from "../harness/docker.ts"
import { backupIdSource, describeRun, expectExitMatchesSummary, initNowConfig, linesOf, runNow } from "../harness/now.ts"
import { createService, enterSwarm, removeService, serviceContainers } from "../harness/swarm.ts"

const ready = requireDocker("ubackup now in a Swarm")

describe.runIf(ready)("ubackup now in a Swarm", () => {
  const service = `ubackup-test-swarmnow-${crypto.randomBytes(3).toString("hex")}`
  let leave: (() => Promise<void>) | undefined
  let dir: string
  let keyFile: string
  let configFile: string
  let storage: string

  beforeAll(async () => {
    await buildBusyboxImage()
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "ubackup-swarmnow-"))
    ;({ keyFile, configFile, storage } = await initNowConfig(dir))
    leave = await enterSwarm()
    await createService(service, {
      replicas: 2,
      labels: { "ubackup.command": "sh -c 'echo task $(hostname); seq 1 5000'", "ubackup.file_extension": ".txt" }
    })
  })

  afterAll(async () => {
    await removeService(service)
    await leave?.()
    if (dir !== undefined) fs.rmSync(dir, { recursive: true, force: true })
  })

  it("each task container's backup lands under the service's name, with its task ID", async () => {
    const containers = await serviceContainers(service)
    expect(containers).toHaveLength(2)
    const run = await runNow(configFile)
    console.log(`now (Swarm): ${run.ms} ms\n${run.text}`)
    expectExitMatchesSummary(run)
    const report = describeRun(run)

    const lines = linesOf(run, service)
    expect(lines, report).toHaveLength(2)
    const ids: Array<string> = []
    for (const container of containers) {
      const taskId = container.slice(0, 12)
      const line = lines.find((l) => l.split(/\s+/)[1] === taskId)
      expect(line, `a line for task ${taskId}\n${report}`).toBeDefined()
      expect(line, report).toMatch(/\sok\s/)
      const pattern = new RegExp(backupIdSource(service, taskId, ".txt.zst.age", os.hostname()))
      const id = pattern.exec(line as string)?.[0]
      expect(id, `${line} should hold ${pattern}`).toBeDefined()
      ids.push(id as string)
      const decrypted = await ubackup(["decrypt", keyFile], { input: fs.readFileSync(path.join(storage, id as string)) })
      expect(decrypted.code, decrypted.stderr).toBe(0)
      // a container's hostname is its short ID
      const expected = `task ${taskId}\n${Array.from({ length: 5000 }, (_, i) => `${i + 1}\n`).join("")}`
      expect(decrypted.stdout.toString()).toBe(expected)
    }
    expect(fs.readdirSync(path.join(storage, service)).sort()).toEqual(ids.map((id) => path.basename(id)).sort())
  })
})
