/**
 * The services a run needs, from the config: targets (over the Docker
 * engine when one is configured), snapshots, the pipeline, alerts and
 * metrics. `ubackup now` and `scheduler run` are this layer under
 * `runReported` and `runScheduler`; an app runs backups the same way.
 */
import { Effect, Layer } from "effect"
import { layerHttpClient } from "../alert/http.ts"
import { layerConfig as layerAlerts } from "../alert/layer.ts"
import { layerPipeline } from "../config/layers.ts"
import type { LoadedConfig } from "../config/load.ts"
import { dockerEndpoint, layer as targetsLayer } from "../discovery/layer.ts"
import { DockerEngine } from "../docker/DockerEngine.ts"
import { layer as layerMetrics } from "../metrics/layer.ts"
import { Hostname } from "../pipeline/backup.ts"
import { layer as snapshotLayer } from "../snapshot/layer.ts"

/** The engine only when discovery is on: dockerode is big, and needs an engine. */
const dockerEngineLayer = (loaded: LoadedConfig) => {
  const endpoint = dockerEndpoint(loaded.config)
  return endpoint === undefined ? DockerEngine.layerNone : DockerEngine.layer(endpoint)
}

export const layerRun = (loaded: LoadedConfig) =>
  Layer.mergeAll(
    Layer.mergeAll(targetsLayer(loaded.config), snapshotLayer).pipe(Layer.provide(dockerEngineLayer(loaded))),
    layerPipeline(loaded),
    layerMetrics,
    Layer.unwrap(Effect.gen(function*() {
      return layerAlerts(loaded.config, yield* Hostname)
    })).pipe(Layer.provide(layerHttpClient))
  )
