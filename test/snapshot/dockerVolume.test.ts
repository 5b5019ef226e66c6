/**
 * `dockervolume://` snapshots against the real engine: the archive
 * unpacked as root matches the volume (contents, modes, owners, symlinks,
 * empty directories, times); stopDuringBackup stops the container for the
 * archive and starts it again, also after a failure or an interruption;
 * images without tools and stopped containers work; an archive cut short
 * is not taken for a whole one.
 */
import { Effect, Result, Stream } from "effect"
import { execFileSync } from "node:child_process"
import * as crypto from "node:crypto"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import type { DockerError } from "../../src/docker/client.ts"
import { DockerEngine } from "../../src/docker/DockerEngine.ts"
import { dockerVolumeSnapshot, requireTarEnd, TruncatedArchive, type VolumeTarget } from "../../src/snapshot/dockerVolume.ts"
import type { SnapshotError } from "../../src/snapshot/Snapshotter.ts"
import { buildBusyboxImage, docker, requireDocker, runContainer, testLabel } from "../harness/docker.ts"
import { requireCommands } from "../harness/tools.ts"

const engineLayer = DockerEngine.layer("unix:///var/run/docker.sock")
const suffix = `${process.pid}-${crypto.randomBytes(3).toString("hex")}`

const volumeTarget = (
  containerId: string,
  containerName: string,
  volumeName: string,
  options: { readonly mountPoint?: string; readonly stopDuringBackup?: boolean } = {}
): VolumeTarget => ({
  _tag: "Docker",
  service: "files",
  taskId: containerId.slice(0, 12),
  containerId,
  containerName,
  command: { _tag: "Volume", mountPoint: options.mountPoint ?? "/data", volumeName },
  commandText: "dockervolume://",
  fileExtension: ".tar",
  timeoutMs: undefined,
  maxBytes: undefined,
  owner: "container test",
  stopDuringBackup: options.stopDuringBackup ?? false,
  schedule: undefined
})

const failure = (result: Result.Result<unknown, SnapshotError | DockerError>): SnapshotError => {
  if (Result.isSuccess(result)) throw new Error("expected the snapshot to fail, it ended cleanly")
  if (result.failure._tag !== "SnapshotError") throw result.failure
  return result.failure
}

/**
 * Whether the container runs, from the container list: not from inspect,
 * which waits for the container's lock, and the engine holds that lock
 * while it archives (a check from inside the stream would deadlock).
 */
const isRunning = async (container: string) =>
  (await docker("ps", "-a", "--filter", `name=^${container}$`, "--format", "{{.State}}")) === "running"

/** Builds (once) an image with no shell and no tools at all: FROM scratch and one file. */
const buildScratchImage = async (): Promise<string> => {
  const image = "ubackup-test/scratch:1"
  if ((await docker("images", "-q", image)) !== "") return image
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "ubackup-scratch-"))
  try {
    fs.writeFileSync(path.join(dir, "marker"), "no tools here\n")
    fs.writeFileSync(path.join(dir, "Dockerfile"), "FROM scratch\nCOPY marker /marker\nCMD [\"/no-such-program\"]\n")
    await docker("build", "-q", "-t", image, "--label", testLabel, dir)
    return image
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
  }
}

/**
 * One line per entry under `root`, sorted: path, type, mode (with setuid
 * and friends), owner, group, mtime (not for symlinks), then the sha256 of
 * a file or the target of a symlink. The same format for both sides.
 */
const hostTree = (root: string): Array<string> => {
  const lines: Array<string> = []
  const walk = (relative: string) => {
    const full = path.join(root, relative)
    const stat = fs.lstatSync(full)
    const mode = (stat.mode & 0o7777).toString(8)
    const common = `${relative}|${mode}|${stat.uid}|${stat.gid}`
    if (stat.isSymbolicLink()) lines.push(`${common}|link|${fs.readlinkSync(full)}`)
    else if (stat.isDirectory()) {
      lines.push(`${common}|dir|${Math.floor(stat.mtimeMs / 1000)}`)
      for (const name of fs.readdirSync(full)) walk(path.join(relative, name))
    } else {
      const sha = crypto.createHash("sha256").update(fs.readFileSync(full)).digest("hex")
      lines.push(`${common}|file|${Math.floor(stat.mtimeMs / 1000)}|${sha}`)
    }
  }
  walk(".")
  return lines.sort()
}

/** The same listing, made inside the container with busybox. */
const containerTree = async (container: string, root: string): Promise<Array<string>> => {
  const script = `cd '${root}' && find . | while IFS= read -r f; do
    set -- $(stat -c '%a %u %g %Y' "$f")
    if [ -L "$f" ]; then echo "$f|$1|$2|$3|link|$(readlink "$f")"
    elif [ -d "$f" ]; then echo "$f|$1|$2|$3|dir|$4"
    else echo "$f|$1|$2|$3|file|$4|$(sha256sum "$f" | cut -d' ' -f1)"; fi
  done`
  const out = await docker("exec", container, "sh", "-c", script)
  return out.split("\n").map((line) => line.replace(/^\.\//, "")).sort()
}

/** The files the test volume holds: modes, owners, links, an empty directory, awkward names. */
const populate = `set -e; cd /data
printf 'hello\\n' > plain.txt; chmod 644 plain.txt
head -c 300000 /dev/urandom > random.bin; chmod 600 random.bin
printf '#!/bin/sh\\necho hi\\n' > run.sh; chmod 755 run.sh
cp run.sh setuid; chmod 4755 setuid
mkdir empty; chmod 750 empty
mkdir -p nested/deeper; echo deep > nested/deeper/file; chmod 444 nested/deeper/file; chmod 700 nested
ln -s plain.txt link; ln -s /etc/passwd absolute-link; ln -s missing dangling
echo owned > owned.txt; chown 1234:1234 owned.txt
mkdir owned-dir; chown 1234:5678 owned-dir
touch 'name with spaces'; touch -d '2001-02-03 04:05:06' old.txt`

describe.runIf(requireDocker("docker volume snapshots") && requireCommands("docker volume snapshots", "tar"))(
  "docker volume snapshots",
  () => {
    /** The target's snapshot through the real engine. */
    const snapshotOf = (target: Parameters<typeof dockerVolumeSnapshot>[0]) => dockerVolumeSnapshot(target).pipe(Stream.provide(engineLayer))
    const containers: Array<string> = []
    const volumes: Array<string> = []
    let dir: string

    const volume = async (name: string) => {
      volumes.push(name)
      await docker("volume", "create", "--label", testLabel, name)
      return name
    }
    const start = async (name: string, volumeName: string) => {
      containers.push(name)
      // a main process that exits on SIGTERM: docker stop takes a moment, not its 10 s timeout
      return runContainer({ name, volumes: [`${volumeName}:/data`], command: ["sh", "-c", "trap 'exit 0' TERM; sleep 3600 & wait"] })
    }

    /** Runs a snapshot to its end, calling `onChunk` for each chunk. */
    const snapshot = (target: VolumeTarget, onChunk: (chunk: Uint8Array) => Effect.Effect<void> = () => Effect.void) =>
      Effect.runPromise(Effect.gen(function*() {
        const chunks: Array<Uint8Array> = []
        const result = yield* snapshotOf(target).pipe(
          Stream.runForEach((chunk) => Effect.andThen(Effect.sync(() => chunks.push(chunk)), onChunk(chunk))),
          Effect.result
        )
        return { bytes: Buffer.concat(chunks), result }
      }))

    /** Unpacks `archive` as root, keeping owners and modes, into a fresh directory; returns it. */
    const unpack = (archive: Buffer): string => {
      const into = fs.mkdtempSync(path.join(dir, "unpacked-"))
      execFileSync("tar", ["-x", "-p", "--numeric-owner", "-f", "-", "-C", into], { input: archive })
      return into
    }

    let name: string
    let id: string
    let vol: string

    beforeAll(async () => {
      dir = fs.mkdtempSync(path.join(os.tmpdir(), "ubackup-volume-test-"))
      await buildBusyboxImage()
      vol = await volume(`ubackup-vol-test-${suffix}`)
      name = `ubackup-vol-test-${suffix}`
      id = await start(name, vol)
      await docker("exec", name, "sh", "-c", populate)
    })

    afterAll(async () => {
      // only this file's containers and volumes: other test files may be using the engine right now
      if (containers.length > 0) await docker("rm", "-fv", ...containers).catch(() => undefined)
      if (volumes.length > 0) await docker("volume", "rm", "-f", ...volumes).catch(() => undefined)
      if (dir !== undefined) fs.rmSync(dir, { recursive: true, force: true })
    })

    it("archives the volume with contents, modes, owners, symlinks and empty directories", async () => {
      const { bytes, result } = await snapshot(volumeTarget(id, name, vol))
      expect(Result.isSuccess(result)).toBe(true)
      const unpacked = hostTree(path.join(unpack(bytes), "data"))
      const expected = await containerTree(name, "/data")
      expect(unpacked).toEqual(expected)
      // and the listing really covers what matters
      const ownedSha = crypto.createHash("sha256").update("owned\n").digest("hex")
      expect(unpacked.find((line) => line.startsWith("owned.txt|"))).toMatch(new RegExp(`^owned\\.txt\\|644\\|1234\\|1234\\|file\\|\\d+\\|${ownedSha}$`))
      expect(unpacked.find((line) => line.startsWith("setuid|"))).toMatch(/^setuid\|4755\|0\|0\|file\|/)
      expect(unpacked).toContain("link|777|0|0|link|plain.txt")
      expect(unpacked).toContain("dangling|777|0|0|link|missing")
      expect(unpacked.find((line) => line.startsWith("empty|"))).toMatch(/^empty\|750\|0\|0\|dir\|/)
      expect(unpacked.find((line) => line.startsWith("owned-dir|"))).toMatch(/^owned-dir\|755\|1234\|5678\|dir\|/)
      expect(unpacked.find((line) => line.startsWith("old.txt|"))).toContain(`|${Date.UTC(2001, 1, 3, 4, 5, 6) / 1000}|`)
    })

    it("with stopDuringBackup, stops the container during the archive and starts it again", async () => {
      const states: Array<boolean> = []
      const { bytes, result } = await snapshot(
        volumeTarget(id, name, vol, { stopDuringBackup: true }),
        () => states.length === 0 ? Effect.promise(async () => void states.push(await isRunning(name))) : Effect.void
      )
      expect(Result.isSuccess(result)).toBe(true)
      expect(states).toEqual([false])
      expect(await isRunning(name)).toBe(true)
      expect(hostTree(path.join(unpack(bytes), "data"))).toEqual(await containerTree(name, "/data"))
    })

    it("with stopDuringBackup, starts the container again when the archive fails", async () => {
      const { result } = await snapshot(volumeTarget(id, name, vol, { mountPoint: "/no/such/path", stopDuringBackup: true }))
      const error = failure(result)
      expect(error.reason).toBe("Docker")
      expect(error.detail).toMatch(/no\/such\/path/)
      expect(error.source).toBe(`docker volume ${vol} of ${name}`)
      expect(await isRunning(name)).toBe(true)
    })

    it("with stopDuringBackup, starts the container again when the archive is interrupted", async () => {
      const bigVolume = await volume(`ubackup-vol-big-${suffix}`)
      const big = `ubackup-vol-big-${suffix}`
      const bigId = await start(big, bigVolume)
      await docker("exec", big, "sh", "-c", "head -c 200000000 /dev/zero > /data/big")
      let received = 0
      let stoppedMidway: boolean | undefined
      const result = await Effect.runPromise(
        snapshotOf(volumeTarget(bigId, big, bigVolume, { stopDuringBackup: true })).pipe(
          Stream.runForEach((chunk) =>
            Effect.gen(function*() {
              received += chunk.length
              if (stoppedMidway === undefined) stoppedMidway = !(yield* Effect.promise(() => isRunning(big)))
              yield* Effect.sleep("20 millis") // a slow upload
            })
          ),
          Effect.timeout("3 seconds"),
          Effect.result
        )
      )
      expect(Result.isFailure(result) && result.failure._tag).toBe("TimeoutError")
      expect(stoppedMidway).toBe(true)
      expect(received).toBeGreaterThan(0)
      expect(received).toBeLessThan(200_000_000)
      expect(await isRunning(big)).toBe(true)
    })

    it("archives a stopped container of an image without tools, and leaves it stopped", async () => {
      const image = await buildScratchImage()
      const bare = `ubackup-vol-bare-${suffix}`
      containers.push(bare)
      // never started: there is nothing in the image that could run
      const bareId = await docker("create", "--network", "none", "--name", bare, "--label", testLabel, "-v", `${vol}:/data`, image)
      const { bytes, result } = await snapshot(volumeTarget(bareId, bare, vol, { stopDuringBackup: true }))
      expect(Result.isSuccess(result)).toBe(true)
      expect(hostTree(path.join(unpack(bytes), "data"))).toEqual(await containerTree(name, "/data"))
      expect(await isRunning(bare)).toBe(false)
    })

    it("fails with Docker for a container that does not exist", async () => {
      const { result } = await snapshot(volumeTarget("f".repeat(64), "gone", vol))
      const error = failure(result)
      expect(error.reason).toBe("Docker")
      expect(error.detail).toMatch(/no such container/i)
    })
  }
)

describe("the archive's end marker", () => {
  const check = (chunks: ReadonlyArray<Uint8Array>) =>
    Effect.runPromise(Stream.fromIterable(chunks).pipe(requireTarEnd, Stream.mkUint8Array, Effect.result))

  it("passes a whole archive through unchanged, however it is cut", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "ubackup-tar-end-"))
    try {
      fs.writeFileSync(path.join(dir, "a"), crypto.randomBytes(5000))
      const archive = execFileSync("tar", ["-c", "-f", "-", "-C", dir, "a"])
      for (const size of [1, 100, 1024, 4096, archive.length]) {
        const chunks: Array<Uint8Array> = []
        for (let offset = 0; offset < archive.length; offset += size) chunks.push(archive.subarray(offset, offset + size))
        const result = await check(chunks)
        expect(Result.isSuccess(result) && Buffer.from(result.success).equals(archive)).toBe(true)
      }
      // cut short at a block boundary, or with an error message appended
      const short = await check([archive.subarray(0, 1024)])
      expect(Result.isFailure(short) && short.failure).toBeInstanceOf(TruncatedArchive)
      const appended = await check([archive, Buffer.from("{\"message\":\"archive failed\"}")])
      expect(Result.isFailure(appended) && appended.failure).toBeInstanceOf(TruncatedArchive)
    } finally {
      fs.rmSync(dir, { recursive: true, force: true })
    }
  })
})
