/**
 * The live `Targets`: Docker containers that declare a backup command (when
 * the config names an endpoint, or DOCKER_HOST is set) and the config's
 * static targets, found anew at every run.
 */
import { Effect, Layer } from "effect"
import type Dockerode from "dockerode"
import { parseDuration } from "../domain/duration.ts"
import type { DiscoveryConfig } from "./config.ts"
import { statusOf } from "../docker/client.ts"
import { parseSize } from "../domain/size.ts"
import { printableLine } from "../text/printable.ts"
import { resolveClaims } from "./claims.ts"
import { type ContainerFilter, type InspectedContainer, matchesFilter, type TargetLimits, targetOf } from "./containers.ts"
import type { DockerTarget, InvalidTarget, StaticTarget } from "../domain/Target.ts"
import { DiscoveryError, Targets } from "./Targets.ts"

/** The limits the config sets for every target. */
export const limitsOf = (config: DiscoveryConfig): TargetLimits => ({
  defaultTimeoutMs: config.targetTimeout === undefined ? undefined : parseDuration(config.targetTimeout),
  maxBytes: config.maxBackupBytes === undefined ? undefined : parseSize(config.maxBackupBytes)
})

/** Static targets run on this host; their task ID is `static`. */
export const staticTargets = (config: DiscoveryConfig, limits: TargetLimits): ReadonlyArray<StaticTarget> =>
  config.staticTargets.map((target) => ({
    _tag: "Static",
    service: target.serviceName,
    taskId: "static",
    argv: target.backupCommand,
    fileExtension: target.fileExtension ?? "",
    timeoutMs: limits.defaultTimeoutMs,
    maxBytes: limits.maxBytes
  }))

/**
 * Running containers and what they declare; stopped containers are not
 * listed, so never backed up. Containers that `filter` rules out are
 * returned only by name.
 */
export const discoverContainers = (docker: Dockerode, endpoint: string, limits: TargetLimits, filter?: ContainerFilter) =>
  Effect.gen(function*() {
    const fail = (cause: unknown) =>
      new DiscoveryError({ endpoint, detail: cause instanceof Error ? cause.message : String(cause) })
    const listed = yield* Effect.tryPromise({ try: () => docker.listContainers({ all: false }), catch: fail })
    const inspected = yield* Effect.forEach(
      listed,
      (summary) =>
        Effect.tryPromise({
          try: () => docker.getContainer(summary.Id).inspect() as Promise<InspectedContainer>,
          catch: (cause) => cause
        }).pipe(
          // a container that went away between list and inspect (404) has nothing to back up
          Effect.catchIf((cause) => statusOf(cause) === 404, () => Effect.succeed(undefined)),
          Effect.mapError(fail)
        ),
      { concurrency: 8 }
    )
    const allowed = matchesFilter(filter)
    const found: Array<DockerTarget | InvalidTarget> = []
    const filtered: Array<string> = []
    for (const container of inspected) {
      if (container === undefined || container.State?.Running === false) continue
      const target = targetOf(container, limits)
      if (target === undefined) continue
      if (allowed(container)) found.push(target)
      else filtered.push(printableLine(target.containerName))
    }
    return { found, filtered }
  })

/** `docker` is the engine client when Docker discovery is on (see dockerEndpoint), else undefined. */
export const layerTargets = (config: DiscoveryConfig, docker: { readonly client: Dockerode; readonly endpoint: string } | undefined) =>
{
  // the config does not change between runs: its limits and the static targets are made once
  const limits = limitsOf(config)
  const statics = staticTargets(config, limits)
  const staticNames = new Set(statics.map((target) => target.service))
  return Layer.succeed(Targets, {
    discover: Effect.gen(function*() {
      if (docker === undefined) return { targets: statics, invalid: [] }
      const { found, filtered } = yield* discoverContainers(docker.client, docker.endpoint, limits, config.containerFilter)
      const claims = resolveClaims(found, staticNames)
      // containers sorted by service, then task, so runs and summaries are stable
      const containers = [...claims.targets].sort((a, b) => `${a.service}/${a.taskId}`.localeCompare(`${b.service}/${b.taskId}`))
      return { targets: [...containers, ...statics], invalid: claims.invalid, filtered }
    })
  })
}

/**
 * Where Docker discovery looks: the config's `docker_endpoint`; without it,
 * DOCKER_HOST when set (a socket proxy); else nowhere, as in µbackup.
 */
export const dockerEndpoint = (config: DiscoveryConfig, env: Record<string, string | undefined> = process.env): string | undefined =>
  config.dockerEndpoint ?? (env.DOCKER_HOST?.trim() ? env.DOCKER_HOST.trim() : undefined)
