/**
 * The services a run needs, from the config: targets, snapshots, the
 * pipeline, alerts and metrics. Shared by `now` and `scheduler run`.
 */
import { Effect, Layer } from "effect"
import { layerFromConfig as alertsFromConfig } from "../alert/layer.ts"
import { pipelineLayer } from "../config/layers.ts"
import type { LoadedConfig } from "../config/load.ts"
import { dockerEndpoint, layerTargets } from "../discovery/layer.ts"
import { DockerClient } from "../docker/client.ts"
import { layerMetrics } from "../metrics/layer.ts"
import { Hostname } from "../pipeline/backup.ts"
import { layerLive } from "../snapshot/layer.ts"

/** The Docker client only when discovery is on: dockerode is big, and needs an engine. */
const dockerLayers = (loaded: LoadedConfig) => {
  const endpoint = dockerEndpoint(loaded.config)
  return endpoint === undefined
    ? Layer.mergeAll(layerTargets(loaded.config, undefined), layerLive(undefined))
    : Layer.unwrap(Effect.map(DockerClient, ({ client, endpoint }) =>
      Layer.mergeAll(layerTargets(loaded.config, { client, endpoint }), layerLive(client))
    )).pipe(Layer.provide(DockerClient.layer(endpoint)))
}

export const runLayers = (loaded: LoadedConfig) =>
  Layer.mergeAll(
    dockerLayers(loaded),
    pipelineLayer(loaded),
    layerMetrics,
    Layer.unwrap(Effect.gen(function*() {
      return alertsFromConfig(loaded.config, yield* Hostname)
    }))
  )
