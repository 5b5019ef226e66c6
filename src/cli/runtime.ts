/**
 * The services a run needs, from the config: targets, snapshots, the
 * pipeline, alerts and metrics. Shared by `now` and `scheduler run`.
 */
import { Effect, Layer } from "effect"
import { layerFromConfig as alertsFromConfig } from "../alert/layer.ts"
import { pipelineLayer } from "../config/layers.ts"
import type { LoadedConfig } from "../config/load.ts"
import { dockerEndpoint, layer as targetsLayer } from "../discovery/layer.ts"
import { DockerEngine } from "../docker/DockerEngine.ts"
import { layerMetrics } from "../metrics/layer.ts"
import { Hostname } from "../pipeline/backup.ts"
import { layer as snapshotLayer } from "../snapshot/layer.ts"

/** The engine only when discovery is on: dockerode is big, and needs an engine. */
const dockerEngineLayer = (loaded: LoadedConfig) => {
  const endpoint = dockerEndpoint(loaded.config)
  return endpoint === undefined ? DockerEngine.layerNone : DockerEngine.layer(endpoint)
}

export const runLayers = (loaded: LoadedConfig) =>
  Layer.mergeAll(
    Layer.mergeAll(targetsLayer(loaded.config), snapshotLayer).pipe(Layer.provide(dockerEngineLayer(loaded))),
    pipelineLayer(loaded),
    layerMetrics,
    Layer.unwrap(Effect.gen(function*() {
      return alertsFromConfig(loaded.config, yield* Hostname)
    }))
  )
