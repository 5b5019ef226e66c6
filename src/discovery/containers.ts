/**
 * From an inspected container to a backup target: which command, which
 * service name, which options. Pure, so the rules are tested without Docker.
 */
import type { ContainerInfo } from "../docker/DockerEngine.ts"
import { parseDuration } from "../domain/duration.ts"
import { parseSize } from "../domain/size.ts"
import { printableLine } from "../text/printable.ts"
import { isCron } from "../domain/cron.ts"
import { isFileExtension, isSafeName } from "../domain/names.ts"
import { ShellWordsError, splitShellWords } from "./shellWords.ts"
import type { DockerCommand, DockerTarget, InvalidTarget } from "../domain/Target.ts"

/** The parts of `GET /containers/{id}/json` that discovery reads (DockerEngine's ContainerInfo). */
export type InspectedContainer = ContainerInfo

export const labels = {
  command: "ubackup.command",
  fileExtension: "ubackup.file_extension",
  service: "ubackup.service",
  timeout: "ubackup.timeout",
  maxBackupBytes: "ubackup.max_backup_bytes",
  stopDuringBackup: "ubackup.stop_during_backup",
  schedule: "ubackup.schedule",
  swarmService: "com.docker.swarm.service.name",
  swarmServiceId: "com.docker.swarm.service.id",
  composeProject: "com.docker.compose.project",
  composeService: "com.docker.compose.service"
} as const

export const legacyCommandEnv = "BACKUP_COMMAND"
export const volumeCommand = "dockervolume://"

const envValue = (env: ReadonlyArray<string>, key: string): string | undefined => {
  const entry = env.find((line) => line.startsWith(`${key}=`))
  return entry === undefined ? undefined : entry.slice(key.length + 1)
}

/** The backup command a container declares: label `ubackup.command`, else µbackup's env `BACKUP_COMMAND`. */
export const declaredCommand = (container: InspectedContainer): string | undefined => {
  const label = container.Config.Labels?.[labels.command]
  if (label !== undefined && label.trim() !== "") return label
  const env = envValue(container.Config.Env ?? [], legacyCommandEnv)
  return env !== undefined && env.trim() !== "" ? env : undefined
}

/**
 * Service name, in order: label `ubackup.service`, the Swarm service, the
 * Compose project and service (`project-service`, as Compose names
 * containers), else the container name.
 */
/** The container's name as `docker ps` shows it (the API's has a leading slash). */
const nameOf = (container: InspectedContainer): string => container.Name.replace(/^\//, "")

export const serviceName = (container: InspectedContainer): string => {
  const l = container.Config.Labels ?? {}
  const compose = l[labels.composeProject] && l[labels.composeService]
    ? `${l[labels.composeProject]}-${l[labels.composeService]}`
    : undefined
  return l[labels.service] ?? l[labels.swarmService] ?? compose ?? nameOf(container)
}

/**
 * What the container is a replica of, for telling replicas (which may share
 * a service name) from unrelated containers (which may not): its Swarm
 * service, else its Compose project and service, else itself.
 */
export const ownerOf = (container: InspectedContainer): string => {
  const l = container.Config.Labels ?? {}
  if (l[labels.swarmServiceId]) return `swarm service ${l[labels.swarmServiceId]}`
  if (l[labels.composeProject] && l[labels.composeService]) return `compose service ${l[labels.composeProject]}/${l[labels.composeService]}`
  return `container ${container.Id.slice(0, 12)}`
}

/** A label's value as it may appear in a message: quoted, escaped, and cut short (a container chooses it). */
const quoted = (value: string) => `"${printableLine(value.length > 200 ? `${value.slice(0, 200)}…` : value)}"`

/** What the operator configured; a container's labels may only narrow it. */
export interface TargetLimits {
  readonly defaultTimeoutMs: number | undefined
  readonly maxBytes: number | undefined
}

/** A target for a container that declares a command; `undefined` for one that does not. */
export const targetOf = (
  container: InspectedContainer,
  limits: TargetLimits
): DockerTarget | InvalidTarget | undefined => {
  const commandText = declaredCommand(container)
  if (commandText === undefined) return undefined
  const l = container.Config.Labels ?? {}
  const containerName = nameOf(container)
  const service = serviceName(container)
  const taskId = container.Id.slice(0, 12)
  const owner = ownerOf(container)
  const isVolume = commandText.trim() === volumeCommand
  const invalid = (reason: string): InvalidTarget => ({ _tag: "Invalid", service, taskId, containerName, commandText, reason, owner })

  if (!isSafeName(service)) return invalid(`service name ${quoted(service)} is not usable as a folder name`)
  // a volume archive is a tar stream: say so in its name unless the label says otherwise
  const fileExtension = l[labels.fileExtension] ?? (isVolume ? ".tar" : "")
  if (fileExtension !== "" && !isFileExtension(fileExtension)) {
    return invalid(`label ${labels.fileExtension}=${quoted(fileExtension)} is not an extension such as .sql`)
  }
  // a label may shorten the operator's timeout, never lengthen it
  let timeoutMs = limits.defaultTimeoutMs
  const timeoutLabel = l[labels.timeout]
  if (timeoutLabel !== undefined) {
    const labelled = parseDuration(timeoutLabel)
    if (labelled === undefined) {
      return invalid(`label ${labels.timeout}=${quoted(timeoutLabel)} is not a duration such as 90s or 30m`)
    }
    timeoutMs = timeoutMs === undefined ? labelled : Math.min(timeoutMs, labelled)
  }
  // likewise a size limit: lower only
  let maxBytes = limits.maxBytes
  const maxBytesLabel = l[labels.maxBackupBytes]
  if (maxBytesLabel !== undefined) {
    const labelled = parseSize(maxBytesLabel)
    if (labelled === undefined) {
      return invalid(`label ${labels.maxBackupBytes}=${quoted(maxBytesLabel)} is not a size such as 500MB or 10GiB`)
    }
    maxBytes = maxBytes === undefined ? labelled : Math.min(maxBytes, labelled)
  }

  const schedule = l[labels.schedule]?.trim() || undefined
  if (schedule !== undefined && !isCron(schedule)) {
    return invalid(`label ${labels.schedule}=${quoted(schedule)} is not a 5-field cron expression such as "0 3 * * *"`)
  }

  let command: DockerCommand
  if (isVolume) {
    const volumes = (container.Mounts ?? []).filter((mount) => mount.Type === "volume")
    if (volumes.length !== 1 || volumes[0]!.Destination === undefined) {
      return invalid(`${volumeCommand} needs exactly one volume mounted in the container; it has ${volumes.length}`)
    }
    command = { _tag: "Volume", mountPoint: volumes[0]!.Destination, volumeName: volumes[0]!.Name ?? volumes[0]!.Destination }
  } else {
    let argv: Array<string>
    try {
      argv = splitShellWords(commandText)
    } catch (error) {
      if (error instanceof ShellWordsError) return invalid(`the backup command does not parse: ${error.message}`)
      throw error
    }
    if (argv.length === 0) return invalid("the backup command is empty")
    command = { _tag: "Exec", argv }
  }

  return {
    _tag: "Docker",
    service,
    taskId,
    containerId: container.Id,
    containerName,
    command,
    commandText,
    fileExtension,
    timeoutMs,
    maxBytes,
    owner,
    stopDuringBackup: l[labels.stopDuringBackup] === "true",
    schedule
  }
}

/** The operator's `container_filter`: which containers may declare backups at all. */
export interface ContainerFilter {
  readonly labels?: Readonly<Record<string, string>> | undefined
  readonly names?: ReadonlyArray<string> | undefined
}

/** `*` any characters, `?` one; the whole name must match. */
const globPattern = (glob: string) =>
  new RegExp(`^${glob.replace(/[.+^${}()|[\]\\]/g, "\\$&").replaceAll("*", ".*").replaceAll("?", ".")}$`, "s")

/** A predicate for `filter`: true for a container that may declare a backup. */
export const matchesFilter = (filter: ContainerFilter | undefined) => {
  if (filter === undefined) return () => true
  const patterns = (filter.names ?? []).map(globPattern)
  const required = Object.entries(filter.labels ?? {})
  return (container: InspectedContainer): boolean => {
    const l = container.Config.Labels ?? {}
    if (!required.every(([key, value]) => l[key] === value)) return false
    return patterns.length === 0 || patterns.some((pattern) => pattern.test(nameOf(container)))
  }
}
