/**
 * A command run inside a container through the exec API; its stdout is the
 * backup. The engine sends stdout and stderr multiplexed on one hijacked
 * connection, in frames:
 *
 *   byte 0: 1 stdout, 2 stderr (3: an error of the engine itself)
 *   bytes 1-3: zero
 *   bytes 4-7: payload length, uint32 big-endian
 *
 * The frames are taken apart here, as a stream transform, rather than with
 * docker-modem's demuxStream: that one writes into two Node streams and
 * ignores their back-pressure, so a slow upload would let the engine fill
 * this process's memory. Here the connection is read only as fast as the
 * backup is consumed, and the engine (and the command) wait.
 *
 * After the output ended, the exec's exit status decides: 0 is a backup;
 * anything else, or no status at all, fails the stream.
 */
import { Duration, Effect, Schedule, Stream } from "effect"
import * as fs from "node:fs"
import { DockerEngine } from "../docker/DockerEngine.ts"
import { DockerStreamLost, engineAnswered } from "../docker/errors.ts"
import { describeTarget, type DockerCommand, type DockerTarget } from "../domain/Target.ts"
import { transformBytes } from "../stream/bytes.ts"
import { OutputTail } from "./command.ts"
import { SnapshotError } from "./Snapshotter.ts"

export type ExecTarget = DockerTarget & { readonly command: Extract<DockerCommand, { readonly _tag: "Exec" }> }

/** Thrown by the demultiplexer; becomes a SnapshotError with the reason it carries. */
export class DemuxFailure extends Error {
  readonly reason: "Lost" | "Docker"
  constructor(reason: "Lost" | "Docker", message: string) {
    super(message)
    this.reason = reason
  }
}

/**
 * The first bytes of the output. When the runtime cannot start the command
 * (no such program), the engine writes its error message to stdout and
 * reports exit 126 or 127: the message is the whole output then.
 */
export class OutputHead {
  readonly #bytes = new Uint8Array(1024)
  #length = 0

  append(bytes: Uint8Array): void {
    if (this.#length === this.#bytes.length) return
    const n = Math.min(bytes.length, this.#bytes.length - this.#length)
    this.#bytes.set(bytes.subarray(0, n), this.#length)
    this.#length += n
  }

  text(): string {
    return new TextDecoder().decode(this.#bytes.subarray(0, this.#length))
  }
}

/**
 * Takes Docker's multiplexed stream apart: stdout payloads come out as
 * views into the received chunks (no copies), stderr goes into `stderr`,
 * and the start of stdout is also noted in `stdoutHead`. A frame may be
 * split across chunks anywhere, its header included.
 */
export const demultiplex = (stderr: OutputTail, stdoutHead?: OutputHead) =>
  transformBytes(() => {
    const header = new Uint8Array(8)
    let headerFilled = 0
    /** The current frame's stream; undefined while a header is being read. */
    let kind: number | undefined
    let remaining = 0
    /** A frame of the engine's own errors (type 3), collected to be reported. */
    let engineError = ""
    return {
      push: (chunk) => {
        const out: Array<Uint8Array> = []
        let offset = 0
        while (offset < chunk.length) {
          if (kind === undefined) {
            const n = Math.min(8 - headerFilled, chunk.length - offset)
            header.set(chunk.subarray(offset, offset + n), headerFilled)
            headerFilled += n
            offset += n
            if (headerFilled < 8) break
            headerFilled = 0
            if (header[0]! > 3 || header[1] !== 0 || header[2] !== 0 || header[3] !== 0) {
              throw new DemuxFailure("Docker", "the engine's exec stream is not multiplexed as expected (a TTY exec?)")
            }
            kind = header[0]!
            remaining = new DataView(header.buffer).getUint32(4)
          }
          const n = Math.min(remaining, chunk.length - offset)
          const payload = chunk.subarray(offset, offset + n)
          offset += n
          remaining -= n
          // as in Docker's own stdcopy: stdin (0) frames, were there any, count as stdout
          if (kind === 0 || kind === 1) {
            if (n > 0) {
              out.push(payload)
              stdoutHead?.append(payload)
            }
          } else if (kind === 2) {
            stderr.append(payload)
          } else {
            engineError += new TextDecoder().decode(payload)
          }
          if (remaining === 0) {
            if (kind === 3) throw new DemuxFailure("Docker", `the engine reported an error: ${engineError.trim()}`)
            kind = undefined
          }
        }
        return out
      },
      finish: () => {
        if (kind !== undefined || headerFilled > 0) {
          throw new DemuxFailure("Lost", "the exec stream ended in the middle of a frame")
        }
        return []
      }
    }
  }, (cause) => cause)

/** How long to wait for the engine to record an exit after the output ended. */
const exitWait = Duration.seconds(5)
/** A command killed by a signal: how long to watch whether its container went down with it. */
const containerWait = Duration.seconds(2)

/** Every `interval` while the schedule's time lasts: the polls below. */
const pollEvery = (interval: Duration.Input, lasting: Duration.Input) =>
  Schedule.spaced(interval).pipe(Schedule.upTo({ duration: lasting }))

/**
 * True when `pid`, as this process sees it, runs in the container: its cgroup
 * names the container's full ID. A PID the engine reports from another PID
 * namespace (dockerd in a VM, or ubackup in a container of its own) would
 * name an unrelated process here, and fails this check.
 */
const inContainer = (pid: number, containerId: string): boolean => {
  try {
    return fs.readFileSync(`/proc/${pid}/cgroup`, "utf8").includes(containerId)
  } catch {
    return false // not visible from here, or gone
  }
}

/** `pid` and every process below it, from each process's parent in /proc. */
const processTree = (pid: number): Array<number> => {
  const children = new Map<number, Array<number>>()
  for (const entry of fs.readdirSync("/proc")) {
    const child = Number(entry)
    if (!Number.isInteger(child)) continue
    try {
      // the parent is the 2nd field after the parenthesised command name, which may contain spaces
      const stat = fs.readFileSync(`/proc/${child}/stat`, "utf8")
      const parent = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1])
      children.set(parent, [...(children.get(parent) ?? []), child])
    } catch {
      // exited meanwhile
    }
  }
  const tree: Array<number> = []
  const visit = (p: number) => {
    tree.push(p)
    for (const child of children.get(p) ?? []) visit(child)
  }
  visit(pid)
  return tree
}

/** A process that exited and waits for its parent to reap it (a container's init may never): nothing left to stop. */
const isZombie = (pid: number): boolean => {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8")
    return stat.slice(stat.lastIndexOf(")") + 2).startsWith("Z")
  } catch {
    return true // gone
  }
}

const signalAll = (pids: ReadonlyArray<number>, containerId: string, signal: NodeJS.Signals): number => {
  let sent = 0
  for (const pid of pids) {
    if (!inContainer(pid, containerId)) continue
    try {
      process.kill(pid, signal)
      sent++
    } catch {
      // exited meanwhile
    }
  }
  return sent
}

const killGrace = Duration.seconds(3)
/** How long a running exec may be without a PID before it is given up as unstoppable. */
const pidWait = Duration.seconds(2)

/**
 * Best effort, after the consumer went away (a timeout, SIGTERM): the exec
 * API cannot stop a process, and one blocked writing to the dropped
 * connection (or never writing, like `sleep`) would run on in the container.
 * When its host PID is visible and in the container, it and everything it
 * started (`sh -c 'a | b'`) get SIGTERM, and SIGKILL if still there after
 * a grace period.
 */
export const stopExecProcess = (
  engine: DockerEngine["Service"],
  execId: string,
  containerId: string,
  source: string,
  /** Why it is stopped, for the log. */
  why = "stopped reading"
) =>
  Effect.gen(function*() {
    // an exec stopped right after its start may run before the engine has recorded its PID
    const info = yield* engine.inspectExec(execId).pipe(
      Effect.repeat({ schedule: pollEvery("20 millis", pidWait), until: (info) => !info.running || info.pid > 0 })
    )
    if (!info.running || !(info.pid > 0)) return
    if (!inContainer(info.pid, containerId)) {
      return yield* Effect.logWarning(
        `${source}: ${why}; the command may run on in the container (its PID ${info.pid} is not visible from here)`
      )
    }
    const tree = processTree(info.pid)
    signalAll(tree, containerId, "SIGTERM")
    yield* Effect.logInfo(`${source}: ${why}; sent SIGTERM to the command (host PID ${info.pid}) and its ${tree.length - 1} child process(es)`)
    const alive = yield* Effect.sync(() => tree.filter((pid) => inContainer(pid, containerId) && !isZombie(pid))).pipe(
      Effect.repeat({ schedule: pollEvery("100 millis", killGrace), while: (alive) => alive.length > 0 })
    )
    const killed = signalAll(alive, containerId, "SIGKILL")
    if (killed > 0) yield* Effect.logWarning(`${source}: ${killed} process(es) ignored SIGTERM and got SIGKILL`)
  }).pipe(Effect.catchCause((cause) => Effect.logWarning(`${source}: could not stop the command in the container`, cause)))

/**
 * The stdout of `target.command.argv` run in the target's container. Fails
 * with reason Start when no exec can be made (no such container, not
 * running), ExitCode on a non-zero exit, Lost when the connection or the
 * container went away mid-stream, Docker when the engine misbehaves.
 */
export const dockerExecSnapshot = (target: ExecTarget): Stream.Stream<Uint8Array, SnapshotError, DockerEngine> =>
  Stream.unwrap(Effect.gen(function*() {
    const engine = yield* DockerEngine
    const source = describeTarget(target)
    const stderr = new OutputTail()
    const stdoutHead = new OutputHead()
    const fail = (reason: SnapshotError["reason"], detail: string, exitCode?: number | null) =>
      new SnapshotError({
        reason,
        source,
        stderrTail: stderr.text(),
        detail,
        ...(exitCode === undefined || exitCode === null ? {} : { exitCode })
      })

    /** Set once the engine says the command is over: nothing is left to stop. */
    let exited = false
    const execId = yield* Effect.acquireRelease(
      engine.createExec(target.containerId, target.command.argv).pipe(Effect.mapError((error) =>
        // an answer from the engine (404 no such container, 409 not running) means this exec cannot start;
        // no answer at all is the engine's problem
        fail(engineAnswered(error) ? "Start" : "Docker", `cannot create the exec: ${error.detail}`)
      )),
      (execId) => (exited ? Effect.void : stopExecProcess(engine, execId, target.containerId, source))
    )
    const output = yield* engine.startExec(execId).pipe(
      Effect.mapError((error) => fail(engineAnswered(error) ? "Start" : "Docker", `cannot start the exec: ${error.detail}`))
    )

    const inspect = engine.inspectExec(execId)
    const containerRunning = engine.inspectContainer(target.containerId).pipe(
      Effect.map((info) => info.State?.Running === true && info.State.Restarting !== true),
      Effect.orElseSucceed(() => false) // gone (404) counts as down
    )
    /** Whether the container is down, or goes down within `within`. */
    const containerDown = (within: Duration.Duration) =>
      (Duration.isZero(within)
        ? containerRunning
        : containerRunning.pipe(Effect.repeat({ schedule: pollEvery("100 millis", within), while: (running) => running }))).pipe(
          Effect.map((running) => !running)
        )

    /** After the output ended: did the command exit 0, and was it the command that ended? */
    const checkExit = Effect.gen(function*() {
      // the engine may close the connection a moment before it records the exit
      const info = yield* inspect.pipe(
        Effect.repeat({ schedule: pollEvery("50 millis", exitWait), until: (info) => !info.running }),
        Effect.mapError((error) => fail("Lost", `the output ended, then the exec could not be inspected: ${error.detail}`))
      )
      exited = !info.running
      if (!info.running && info.exitCode === 0) return
      if (!info.running && info.pid === 0) {
        // no process ever ran: the runtime could not start the command, and said why on stdout
        const said = stdoutHead.text().trim()
        return yield* fail("Start", `the command could not start${said === "" ? "" : `: ${said}`}`, info.exitCode)
      }
      // a command killed with its container (docker kill, OOM, a crash) is a lost backup, not a failed command;
      // the engine records the command's end before the container's, so a signalled one watches the container a moment
      const signalled = info.exitCode !== null && info.exitCode > 128
      if (yield* containerDown(signalled ? containerWait : Duration.zero)) {
        return yield* fail("Lost", "the container stopped while the command ran", info.exitCode)
      }
      if (info.running || info.exitCode === null) {
        return yield* fail("Lost", "the output ended but the engine reports no exit status for the command")
      }
      return yield* fail("ExitCode", `exited with code ${info.exitCode}`, info.exitCode)
    })

    return output.pipe(
      demultiplex(stderr, stdoutHead),
      Stream.mapError((error) =>
        error instanceof DockerStreamLost
          ? fail("Lost", `the exec connection failed: ${error.detail}`)
          : error instanceof DemuxFailure
          ? fail(error.reason, error.message)
          : fail("Docker", String(error))
      ),
      // the exit status decides whether the output is a backup: checked only after the output ended
      Stream.concat(Stream.fromEffectDrain(checkExit))
    )
  }))
