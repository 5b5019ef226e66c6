/**
 * What to back up. Discovery finds targets (Docker containers that declare a
 * backup command, the config's static targets); the snapshotter turns one
 * into a byte stream; `backupOne` stores it. A domain type: every stage may
 * import it, and it imports no stage.
 */
import { printableLine } from "../text/printable.ts"

/** How a container's data is read. */
export type DockerCommand =
  /** A command run inside the container through the exec API; stdout is the backup. */
  | { readonly _tag: "Exec"; readonly argv: ReadonlyArray<string> }
  /** `dockervolume://`: the container's only volume, archived by the engine as a tar stream. */
  | { readonly _tag: "Volume"; readonly mountPoint: string; readonly volumeName: string }

export interface DockerTarget {
  readonly _tag: "Docker"
  readonly service: string
  /** The 12-character container ID. */
  readonly taskId: string
  readonly containerId: string
  readonly containerName: string
  readonly command: DockerCommand
  /** The command as the user wrote it, for logs and `now --dry-run`. */
  readonly commandText: string
  /** `.sql`, `.tar`… or empty. */
  readonly fileExtension: string
  /** The config's `target_timeout`, or label `ubackup.timeout` when shorter. */
  readonly timeoutMs: number | undefined
  /** The config's `max_backup_bytes`, or label `ubackup.max_backup_bytes` when lower. */
  readonly maxBytes: number | undefined
  /**
   * What the container is a replica of: its Swarm service, else its
   * Compose service, else only itself. Containers of one owner may share a
   * service name; containers of different owners may not.
   */
  readonly owner: string
  /** Label `ubackup.stop_during_backup=true`: stop the container while its volume is archived. */
  readonly stopDuringBackup: boolean
  /** Label `ubackup.schedule`: a cron expression used by the scheduler instead of the config's. */
  readonly schedule: string | undefined
}

export interface StaticTarget {
  readonly _tag: "Static"
  readonly service: string
  readonly taskId: string
  readonly argv: ReadonlyArray<string>
  readonly fileExtension: string
  readonly timeoutMs: number | undefined
  readonly maxBytes: number | undefined
}

export type Target = DockerTarget | StaticTarget

/**
 * A container that declares a backup command ubackup cannot use (an
 * unbalanced quote, `dockervolume://` without exactly one volume, a bad
 * label): a failed target of the run, reported like any other failure.
 */
export interface InvalidTarget {
  readonly _tag: "Invalid"
  readonly service: string
  readonly taskId: string
  readonly containerName: string
  readonly commandText: string
  readonly reason: string
  /** As DockerTarget's. */
  readonly owner: string
}

export interface Discovered {
  readonly targets: ReadonlyArray<Target>
  readonly invalid: ReadonlyArray<InvalidTarget>
  /** Containers that declare a command but do not match `container_filter`: not backed up (names, for `now --dry-run`). */
  readonly filtered?: ReadonlyArray<string>
}

/** A word as a shell would need it, for display: `sh -c 'echo hi'`. */
export const shellQuote = (word: string): string =>
  /^[A-Za-z0-9_@%+=:,./-]+$/.test(word) ? word : `'${word.replaceAll("'", `'\\''`)}'`

/**
 * How a target is named in logs, errors, summaries and alerts. What comes
 * from a container (its name, its labels) is escaped: it may hold control
 * or bidi characters meant for the operator's terminal.
 */
export const describeTarget = (target: Target | InvalidTarget): string => {
  switch (target._tag) {
    case "Docker":
      return target.command._tag === "Volume"
        ? `docker volume ${printableLine(target.command.volumeName)} of ${printableLine(target.containerName)}`
        : `docker exec ${printableLine(target.containerName)} ${printableLine(target.commandText)}`
    case "Static":
      return `host: ${printableLine(target.argv.map(shellQuote).join(" "))}`
    case "Invalid":
      return `${printableLine(target.containerName)}: ${printableLine(target.commandText)}`
  }
}
