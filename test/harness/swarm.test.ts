/**
 * The Swarm harness: a service's task container runs, carries the swarm's
 * labels and the container labels given, and is gone once the service is
 * removed; the swarm is left as it was found.
 */
import * as crypto from "node:crypto"
import { beforeAll, describe, expect, it } from "vitest"
import { buildBusyboxImage, docker, requireDocker } from "./docker.ts"
import { serviceContainers, withSwarm } from "./swarm.ts"

const ready = requireDocker("Swarm harness")

describe.runIf(ready)("Swarm harness", () => {
  beforeAll(async () => {
    await buildBusyboxImage()
  })

  it("a service's container carries com.docker.swarm.service.name and its container labels", async () => {
    const name = `ubackup-test-swarmh-${crypto.randomBytes(4).toString("hex")}`
    const before = await docker("info", "--format", "{{.Swarm.LocalNodeState}}")
    await withSwarm(async (swarm) => {
      expect(await docker("info", "--format", "{{.Swarm.LocalNodeState}}")).toBe("active")
      const id = await swarm.createService(name, { labels: { "ubackup.command": "echo hi" } })
      expect(id).toMatch(/^[0-9a-f]{64}$/)
      expect(await docker("inspect", "-f", "{{.State.Running}}", id)).toBe("true")
      expect(await docker("inspect", "-f", '{{index .Config.Labels "com.docker.swarm.service.name"}}', id)).toBe(name)
      expect(await docker("inspect", "-f", '{{index .Config.Labels "ubackup.command"}}', id)).toBe("echo hi")
      expect(await docker("exec", id, "echo", "inside")).toBe("inside")

      // global mode: one task on this single node
      const global = `${name}-g`
      const globalId = await swarm.createService(global, { replicas: "global", labels: { "ubackup.service": "g" } })
      expect(await docker("inspect", "-f", '{{index .Config.Labels "com.docker.swarm.service.name"}}', globalId)).toBe(global)
      await swarm.removeService(global)
      expect(await serviceContainers(global)).toEqual([])
    })
    // removed with the service, and the swarm left as found (unless another test file still uses it)
    expect(await docker("ps", "-aq", "--filter", `label=com.docker.swarm.service.name=${name}`)).toBe("")
    if (before === "inactive") {
      const after = await docker("info", "--format", "{{.Swarm.LocalNodeState}}")
      expect(["inactive", "active"]).toContain(after)
    } else {
      expect(await docker("info", "--format", "{{.Swarm.LocalNodeState}}")).toBe(before)
    }
  })

  it("a service that cannot start fails with the task's error", async () => {
    const name = `ubackup-test-swarmbad-${crypto.randomBytes(4).toString("hex")}`
    await withSwarm(async (swarm) => {
      await expect(swarm.createService(name, { image: "ubackup-test/no-such-image:0" })).rejects.toThrow(/did not start/)
    })
    expect(await docker("ps", "-aq", "--filter", `label=com.docker.swarm.service.name=${name}`)).toBe("")
  })
})
