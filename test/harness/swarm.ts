/**
 * Docker Swarm for the tests: a single-node swarm on the local engine,
 * created (`docker swarm init --advertise-addr 127.0.0.1`) only when the
 * engine is not in one, and left again only by whoever created it once the
 * last test file using it is done. Test files run in parallel processes, so
 * the users are counted in a small state file under a lock directory.
 * Services carry the label `ubackup-test=1` and are removed afterwards,
 * waiting until their containers are gone.
 */
import * as crypto from "node:crypto"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { busyboxImage, docker, testLabel } from "./docker.ts"
import { processAlive, sleep } from "./tools.ts"

const stateFile = path.join(os.tmpdir(), "ubackup-test-swarm.json")
const lockDir = path.join(os.tmpdir(), "ubackup-test-swarm.lock")

interface State {
  /** Whether a test created the swarm (then the last user leaves it). */
  readonly created: boolean
  /** `<pid>:<token>` per user. */
  readonly users: ReadonlyArray<string>
}

const withLock = async <A>(f: () => Promise<A>): Promise<A> => {
  const deadline = Date.now() + 120_000
  for (;;) {
    try {
      fs.mkdirSync(lockDir)
      break
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error
      // a holder that crashed: the lock is never held for long
      const held = fs.statSync(lockDir, { throwIfNoEntry: false })
      if (held !== undefined && Date.now() - held.mtimeMs > 90_000) fs.rmSync(lockDir, { recursive: true, force: true })
      if (Date.now() > deadline) throw new Error(`timed out waiting for the swarm lock ${lockDir}`)
      await sleep(100)
    }
  }
  try {
    return await f()
  } finally {
    fs.rmSync(lockDir, { recursive: true, force: true })
  }
}

const readState = (): State | undefined => {
  try {
    const state = JSON.parse(fs.readFileSync(stateFile, "utf8")) as State
    return { created: state.created, users: state.users.filter((user) => processAlive(Number(user.split(":")[0]))) }
  } catch {
    return undefined
  }
}

const nodeState = async () => {
  const [local, control] = (await docker("info", "--format", "{{.Swarm.LocalNodeState}} {{.Swarm.ControlAvailable}}")).split(" ")
  return { local: local ?? "", manager: control === "true" }
}

/**
 * Joins the tests' swarm (creating it when the engine is in none); returns
 * the function that leaves it again (and removes it, if a test created it
 * and nobody else uses it).
 */
export const enterSwarm = async (): Promise<() => Promise<void>> => {
  const user = `${process.pid}:${crypto.randomBytes(4).toString("hex")}`
  await withLock(async () => {
    // the state file says whether a test made the swarm that is there (a crashed run may have left it)
    const previous = readState()
    let created = previous?.created ?? false
    const { local, manager } = await nodeState()
    if (local === "inactive") {
      await docker("swarm", "init", "--advertise-addr", "127.0.0.1")
      created = true
    } else if (local !== "active") {
      throw new Error(`the Docker engine's swarm state is "${local}"; expected active or inactive`)
    } else if (!manager) {
      throw new Error("the Docker engine is a swarm worker, not a manager: services cannot be created from here")
    }
    fs.writeFileSync(stateFile, JSON.stringify({ created, users: [...(previous?.users ?? []), user] } satisfies State))
  })
  let left = false
  return async () => {
    if (left) return
    left = true
    await withLock(async () => {
      const state = readState()
      const users = (state?.users ?? []).filter((u) => u !== user)
      if (users.length > 0) {
        fs.writeFileSync(stateFile, JSON.stringify({ created: state?.created ?? false, users } satisfies State))
        return
      }
      if (state?.created === true) await docker("swarm", "leave", "--force").catch(() => undefined)
      fs.rmSync(stateFile, { force: true })
    })
  }
}

export interface ServiceOptions {
  readonly image?: string
  /** Container labels (`--container-label`): what `ubackup now` reads. */
  readonly labels?: Record<string, string>
  /** Service labels (`--label`). */
  readonly serviceLabels?: Record<string, string>
  readonly env?: Record<string, string>
  /** Replicated with this many tasks (default 1), or `"global"`: one per node. */
  readonly replicas?: number | "global"
  readonly command?: ReadonlyArray<string>
  /** `--restart-condition`; default `none`, so that a task that dies is not replaced behind a test's back. */
  readonly restartCondition?: "none" | "on-failure" | "any"
}

/** The running containers of a service, full IDs. */
export const serviceContainers = async (name: string): Promise<Array<string>> =>
  (await docker("ps", "-q", "--no-trunc", "--filter", `label=com.docker.swarm.service.name=${name}`, "--filter", "status=running"))
    .split("\n")
    .filter(Boolean)

export interface Swarm {
  /** Creates a service and waits until all its tasks' containers run; returns the first container's full ID. */
  readonly createService: (name: string, options?: ServiceOptions) => Promise<string>
  readonly removeService: (name: string) => Promise<void>
}

/** Removes a service and waits until its containers are gone. */
export const removeService = async (name: string): Promise<void> => {
  await docker("service", "rm", name).catch(() => undefined)
  const deadline = Date.now() + 60_000
  for (;;) {
    const left = (await docker("ps", "-aq", "--filter", `label=com.docker.swarm.service.name=${name}`)).split("\n").filter(Boolean)
    if (left.length === 0) return
    if (Date.now() > deadline) {
      await docker("rm", "-f", ...left).catch(() => undefined)
      return
    }
    await sleep(250)
  }
}

export const createService = async (name: string, options: ServiceOptions = {}): Promise<string> => {
  const args = [
    "service", "create", "--detach", "--quiet", "--no-resolve-image", "--name", name,
    "--label", testLabel, "--container-label", testLabel,
    "--restart-condition", options.restartCondition ?? "none",
    // `sleep` as PID 1 ignores SIGTERM: do not wait the default 10 s for it at removal
    "--stop-grace-period", "1s"
  ]
  for (const [key, value] of Object.entries(options.labels ?? {})) args.push("--container-label", `${key}=${value}`)
  for (const [key, value] of Object.entries(options.serviceLabels ?? {})) args.push("--label", `${key}=${value}`)
  for (const [key, value] of Object.entries(options.env ?? {})) args.push("--env", `${key}=${value}`)
  const replicas = options.replicas ?? 1
  if (replicas === "global") args.push("--mode", "global")
  else args.push("--replicas", String(replicas))
  args.push(options.image ?? busyboxImage, ...(options.command ?? ["sleep", "3600"]))
  await docker(...args)

  const expected = replicas === "global" ? Number(await docker("info", "--format", "{{.Swarm.Nodes}}")) : replicas
  const deadline = Date.now() + 60_000
  for (;;) {
    const containers = await serviceContainers(name)
    if (containers.length >= expected && containers[0] !== undefined) return containers[0]
    // a task that cannot start (bad image, bad command) fails at once rather than at the deadline
    const tasks = (await docker("service", "ps", "--no-trunc", "--format", "{{.CurrentState}}|{{.Error}}", name)).split("\n").filter(Boolean)
    const failed = tasks.find((task) => /^(Rejected|Failed)/.test(task))
    if (failed !== undefined || Date.now() > deadline) {
      await removeService(name)
      throw new Error(`service ${name} did not start: ${failed ?? tasks.join("; ")}`)
    }
    await sleep(200)
  }
}

/**
 * Runs `fn` inside the tests' swarm: creates the swarm if needed, removes
 * every service `fn` created, and leaves the swarm if this run created it
 * and no other test file still uses it.
 */
export const withSwarm = async <A>(fn: (swarm: Swarm) => Promise<A>): Promise<A> => {
  const leave = await enterSwarm()
  const services = new Set<string>()
  try {
    return await fn({
      createService: (name, options) => {
        services.add(name)
        return createService(name, options)
      },
      removeService: async (name) => {
        services.delete(name)
        await removeService(name)
      }
    })
  } finally {
    for (const name of services) await removeService(name)
    await leave()
  }
}
