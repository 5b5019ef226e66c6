/** Flags and helpers several verb groups share. */
import { Effect, type Option } from "effect"
import { Flag } from "effect/cli"
import * as os from "node:os"
import { layerPipeline, layerStorage } from "../config/layers.ts"
import { type LoadedConfig, loadConfig } from "../config/load.ts"

export const configFlag = Flag.String("config").pipe(
  Flag.withAlias("c"),
  Flag.withDescription("Config file (default: $UBACKUP_CONF, base64 of the JSON, else ./config.json)"),
  Flag.optional
)

/** Runs `effect` with the storage the config names. */
export const withStorage = (config: Option.Option<string>) => <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  loadConfig(config).pipe(Effect.flatMap((loaded) => Effect.provide(effect, layerStorage(loaded))))

/** Runs `f(config)` with the whole backup pipeline the config names. */
export const withPipeline = <A, E, R>(config: Option.Option<string>, f: (loaded: LoadedConfig) => Effect.Effect<A, E, R>) =>
  loadConfig(config).pipe(Effect.flatMap((loaded) => Effect.provide(f(loaded), layerPipeline(loaded))))


/** Backups yield the CPU to the services they back up, as µbackup did (nice 19). */
export const lowerPriority = Effect.sync(() => {
  try {
    os.setPriority(19)
  } catch {
    // a priority that cannot be lowered is no reason not to back up
  }
})
