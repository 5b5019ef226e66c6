/**
 * What to back up. Discovery finds targets (Docker containers that declare a
 * backup command, the config's static targets); the snapshotter turns one
 * into a byte stream; `backupOne` stores it.
 */
import { Context, type Effect, Schema } from "effect"

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
  /** Label `ubackup.timeout`, else the config's `target_timeout`. */
  readonly timeoutMs: number | undefined
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
}

export interface Discovered {
  readonly targets: ReadonlyArray<Target>
  readonly invalid: ReadonlyArray<InvalidTarget>
}

export class DiscoveryError extends Schema.TaggedError<DiscoveryError>()("DiscoveryError", {
  endpoint: Schema.String,
  detail: Schema.String
}) {
  override get message() {
    return `Docker discovery at ${this.endpoint} failed: ${this.detail}`
  }
}

export class Targets extends Context.Service<Targets, {
  /** Finds the targets now; called at every run, so label changes need no restart. */
  readonly discover: Effect.Effect<Discovered, DiscoveryError>
}>()("ubackup/Targets") {}

/** A word as a shell would need it, for display: `sh -c 'echo hi'`. */
export const shellQuote = (word: string): string =>
  /^[A-Za-z0-9_@%+=:,./-]+$/.test(word) ? word : `'${word.replaceAll("'", `'\\''`)}'`

/** How a target is named in logs, errors, summaries and alerts. */
export const describeTarget = (target: Target | InvalidTarget): string => {
  switch (target._tag) {
    case "Docker":
      return target.command._tag === "Volume"
        ? `docker volume ${target.command.volumeName} of ${target.containerName}`
        : `docker exec ${target.containerName} ${target.commandText}`
    case "Static":
      return `host: ${target.argv.map(shellQuote).join(" ")}`
    case "Invalid":
      return `${target.containerName}: ${target.commandText}`
  }
}
