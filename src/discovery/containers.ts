/**
 * From an inspected container to a backup target: which command, which
 * service name, which options. Pure, so the rules are tested without Docker.
 */
import { parseDuration } from "../config/duration.ts"
import { isCron } from "../scheduler/cron.ts"
import { isFileExtension, isSafeName } from "../pipeline/names.ts"
import { ShellWordsError, splitShellWords } from "./shellWords.ts"
import type { DockerCommand, DockerTarget, InvalidTarget } from "./Target.ts"

/** The parts of `GET /containers/{id}/json` that discovery reads. */
export interface InspectedContainer {
  readonly Id: string
  readonly Name: string
  readonly Config: { readonly Labels?: Record<string, string> | null; readonly Env?: ReadonlyArray<string> | null }
  readonly State?: { readonly Running?: boolean } | null
  readonly Mounts?: ReadonlyArray<{ readonly Type?: string; readonly Name?: string; readonly Destination?: string }> | null
}

export const labels = {
  command: "ubackup.command",
  fileExtension: "ubackup.file_extension",
  service: "ubackup.service",
  timeout: "ubackup.timeout",
  stopDuringBackup: "ubackup.stop_during_backup",
  schedule: "ubackup.schedule",
  swarmService: "com.docker.swarm.service.name",
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

/** A target for a container that declares a command; `undefined` for one that does not. */
export const targetOf = (
  container: InspectedContainer,
  defaultTimeoutMs: number | undefined
): DockerTarget | InvalidTarget | undefined => {
  const commandText = declaredCommand(container)
  if (commandText === undefined) return undefined
  const l = container.Config.Labels ?? {}
  const containerName = nameOf(container)
  const service = serviceName(container)
  const taskId = container.Id.slice(0, 12)
  const isVolume = commandText.trim() === volumeCommand
  const invalid = (reason: string): InvalidTarget => ({ _tag: "Invalid", service, taskId, containerName, commandText, reason })

  if (!isSafeName(service)) return invalid(`service name ${JSON.stringify(service)} is not usable as a folder name`)
  // a volume archive is a tar stream: say so in its name unless the label says otherwise
  const fileExtension = l[labels.fileExtension] ?? (isVolume ? ".tar" : "")
  if (fileExtension !== "" && !isFileExtension(fileExtension)) {
    return invalid(`label ${labels.fileExtension}=${JSON.stringify(fileExtension)} is not an extension such as .sql`)
  }
  let timeoutMs = defaultTimeoutMs
  const timeoutLabel = l[labels.timeout]
  if (timeoutLabel !== undefined) {
    timeoutMs = parseDuration(timeoutLabel)
    if (timeoutMs === undefined) {
      return invalid(`label ${labels.timeout}=${JSON.stringify(timeoutLabel)} is not a duration such as 90s or 30m`)
    }
  }

  const schedule = l[labels.schedule]?.trim() || undefined
  if (schedule !== undefined && !isCron(schedule)) {
    return invalid(`label ${labels.schedule}=${JSON.stringify(schedule)} is not a 5-field cron expression such as "0 3 * * *"`)
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
    stopDuringBackup: l[labels.stopDuringBackup] === "true",
    schedule
  }
}
