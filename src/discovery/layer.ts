/**
 * The live `Targets`: Docker containers that declare a backup command (when
 * the config names an endpoint, or DOCKER_HOST is set) and the config's
 * static targets, found anew at every run.
 */
import { Effect, Layer } from "effect"
import { DockerEngine } from "../docker/DockerEngine.ts"
import { parseDuration } from "../domain/duration.ts"
import type { DiscoveryConfig } from "./config.ts"
import { parseSize } from "../domain/size.ts"
import { printableLine } from "../text/printable.ts"
import { resolveClaims } from "./claims.ts"
import { type ContainerFilter, matchesFilter, type TargetLimits, targetOf } from "./containers.ts"
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
export const discoverContainers = (limits: TargetLimits, filter?: ContainerFilter) =>
  Effect.gen(function*() {
    const engine = yield* DockerEngine
    const fail = (error: { readonly detail: string }) => new DiscoveryError({ endpoint: engine.endpoint, detail: error.detail })
    const listed = yield* engine.listRunning.pipe(Effect.mapError(fail))
    const inspected = yield* Effect.forEach(
      listed,
      (id) =>
        engine.inspectContainer(id).pipe(
          // a container that went away between list and inspect (404) has nothing to back up
          Effect.catchTag("DockerNotFound", () => Effect.succeed(undefined)),
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

/**
 * The Targets of a run: the config's static targets and, unless the engine
 * in context is DockerEngine.layerNone, the containers that declare a backup.
 */
export const layer = (config: DiscoveryConfig): Layer.Layer<Targets, never, DockerEngine> =>
  Layer.effect(
    Targets,
    Effect.gen(function*() {
      const engine = yield* DockerEngine
      // the config does not change between runs: its limits and the static targets are made once
      const limits = limitsOf(config)
      const statics = staticTargets(config, limits)
      const staticNames = new Set(statics.map((target) => target.service))
      return Targets.of({
        discover: Effect.gen(function*() {
          if (!engine.enabled) return { targets: statics, invalid: [] }
          const { found, filtered } = yield* discoverContainers(limits, config.containerFilter).pipe(
            Effect.provideService(DockerEngine, engine)
          )
          const claims = resolveClaims(found, staticNames)
          // containers sorted by service, then task, so runs and summaries are stable
          const containers = [...claims.targets].sort((a, b) => `${a.service}/${a.taskId}`.localeCompare(`${b.service}/${b.taskId}`))
          return { targets: [...containers, ...statics], invalid: claims.invalid, filtered }
        })
      })
    })
  )

/**
 * Where Docker discovery looks: the config's `docker_endpoint`; without it,
 * DOCKER_HOST when set (a socket proxy); else nowhere, as in µbackup.
 */
export const dockerEndpoint = (config: DiscoveryConfig, env: Record<string, string | undefined> = process.env): string | undefined =>
  config.dockerEndpoint ?? (env.DOCKER_HOST?.trim() ? env.DOCKER_HOST.trim() : undefined)
