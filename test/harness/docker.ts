/**
 * The real Docker engine for the tests, and images built from nothing (no
 * registry can be reached): a busybox image from the host's busybox-static.
 * Everything a test creates carries the label `ubackup-test=1` so that
 * `removeTestContainers` can clean up even after a crash.
 */
import { execFile, execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { promisify } from "node:util"
import { requireCommands, runProcess } from "./tools.ts"

const run = promisify(execFile)

export const testLabel = "ubackup-test=1"
export const busyboxImage = "ubackup-test/busybox:1"

/** True when a Docker engine answers; in CI its absence fails the run (see requireCommands). */
export const requireDocker = (suite: string): boolean => {
  if (!requireCommands(suite, "docker", "busybox")) return false
  try {
    execFileSync("docker", ["info"], { stdio: "ignore", timeout: 20_000 })
    return true
  } catch {
    const reason = `${suite}: no Docker engine answers on /var/run/docker.sock (scripts/provision.sh starts one as root)`
    if (process.env.CI === "true" || process.env.CI === "1") throw new Error(`CI=true but ${reason}`)
    console.warn(`skipping ${reason}`)
    return false
  }
}

export const docker = async (...args: ReadonlyArray<string>): Promise<string> => {
  const { stdout } = await run("docker", [...args], { maxBuffer: 64 * 1024 * 1024 })
  return stdout.trim()
}

export interface DockerRun {
  readonly code: number | null
  readonly stdout: Buffer
  readonly stderr: string
}

/** `docker <args>` with `input` on stdin; never rejects on a non-zero exit. */
export const dockerWithInput = (args: ReadonlyArray<string>, input: Uint8Array | string = ""): Promise<DockerRun> =>
  runProcess("docker", args, input)


/** Builds (once per engine) a busybox image: FROM scratch + the host's static busybox. */
export const buildBusyboxImage = async (): Promise<string> => {
  const exists = await docker("images", "-q", busyboxImage)
  if (exists !== "") return busyboxImage
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "ubackup-busybox-"))
  try {
    const busybox = execFileSync("sh", ["-c", "command -v busybox"]).toString().trim()
    fs.copyFileSync(busybox, path.join(dir, "busybox"))
    fs.chmodSync(path.join(dir, "busybox"), 0o755)
    fs.writeFileSync(
      path.join(dir, "Dockerfile"),
      [
        "FROM scratch",
        "COPY busybox /bin/busybox",
        'RUN ["/bin/busybox", "--install", "-s", "/bin"]',
        "ENV PATH=/bin",
        'CMD ["sleep", "3600"]'
      ].join("\n") + "\n"
    )
    await docker("build", "-q", "-t", busyboxImage, "--label", testLabel, dir)
    return busyboxImage
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
  }
}

export interface ContainerOptions {
  readonly name: string
  readonly labels?: Record<string, string>
  readonly env?: Record<string, string>
  readonly volumes?: ReadonlyArray<string>
  readonly image?: string
  readonly command?: ReadonlyArray<string>
}

/** Starts a detached container with no network (exec needs none); returns its full ID. */
export const runContainer = async (options: ContainerOptions): Promise<string> => {
  const args = ["run", "-d", "--network", "none", "--name", options.name, "--label", testLabel]
  for (const [key, value] of Object.entries(options.labels ?? {})) args.push("--label", `${key}=${value}`)
  for (const [key, value] of Object.entries(options.env ?? {})) args.push("--env", `${key}=${value}`)
  for (const volume of options.volumes ?? []) args.push("--volume", volume)
  args.push(options.image ?? busyboxImage, ...(options.command ?? ["sleep", "3600"]))
  return docker(...args)
}

/** Removes every container (and anonymous volume) the tests labelled. */
export const removeTestContainers = async (): Promise<void> => {
  const ids = (await docker("ps", "-aq", "--filter", `label=${testLabel}`)).split("\n").filter(Boolean)
  if (ids.length > 0) await docker("rm", "-fv", ...ids).catch(() => undefined)
}
