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
import { envVar, type LoadedConfig } from "../config/load.ts"
import { dockerEndpoint, layer as targetsLayer } from "../discovery/layer.ts"
import { DockerEngine } from "../docker/DockerEngine.ts"
import { BackupHistory } from "../history/BackupHistory.ts"
import * as os from "node:os"
import * as path from "node:path"
import { layer as layerMetrics } from "../metrics/layer.ts"
import { Hostname } from "../pipeline/backup.ts"
import { layer as snapshotLayer } from "../snapshot/layer.ts"

/** The engine only when discovery is on: dockerode is big, and needs an engine. */
const dockerEngineLayer = (loaded: LoadedConfig) => {
  const endpoint = dockerEndpoint(loaded.config)
  return endpoint === undefined ? DockerEngine.layerNone : DockerEngine.layer(endpoint)
}

/**
 * Where the backup history is kept: the config's history_file (relative to
 * the config file); else history.json in $UBACKUP_STATE_DIR (the image sets
 * it); else beside the config file; else, for a config from UBACKUP_CONF
 * (which has no folder of its own: the working directory would scatter the
 * history), in $XDG_STATE_HOME/ubackup (default ~/.local/state/ubackup).
 */
export const historyPath = (loaded: LoadedConfig, env: Record<string, string | undefined> = process.env): string => {
  if (loaded.config.historyFile !== undefined) return path.resolve(loaded.source.baseDirectory, loaded.config.historyFile)
  const stateDir = env.UBACKUP_STATE_DIR?.trim()
  if (stateDir) return path.join(stateDir, "history.json")
  if (loaded.source.name !== envVar) return path.join(loaded.source.baseDirectory, "history.json")
  const stateHome = env.XDG_STATE_HOME?.trim() || path.join(os.homedir(), ".local", "state")
  return path.join(stateHome, "ubackup", "history.json")
}

/** The alert sinks the config names, for this host, over fetch. */
export const layerAlertsOf = (loaded: LoadedConfig) =>
  Layer.unwrap(Effect.gen(function*() {
    return layerAlerts(loaded.config, yield* Hostname)
  })).pipe(Layer.provide(layerHttpClient))

export const layerRun = (loaded: LoadedConfig) =>
  Layer.mergeAll(
    BackupHistory.layerFile(historyPath(loaded)),
    Layer.mergeAll(targetsLayer(loaded.config), snapshotLayer).pipe(Layer.provide(dockerEngineLayer(loaded))),
    layerPipeline(loaded),
    layerMetrics,
    layerAlertsOf(loaded)
  )
