/** Helpers several verbs share (their flags are in ./flags.ts). */
import { Effect, Layer, Option } from "effect"
import * as os from "node:os"
import { layerPipeline, layerStorageFrom } from "../config/layers.ts"
import { type LoadedConfig, loadConfig } from "../config/load.ts"
import { parseDecryptionKeys } from "../encryption/keys.ts"
import { InvalidFlagError, readTextFile } from "./io.ts"
import { parseRate } from "../domain/size.ts"
import { layerStorageProgress } from "./progress.ts"

/** The decryption keys in `keyFile`. */
export const readKeys = (keyFile: string) => readTextFile(keyFile).pipe(Effect.flatMap((text) => parseDecryptionKeys(text, keyFile)))

/** The storage the config names (`from`'s destination, else the first), its downloads showing progress unless `quiet` (see progress.ts). */
export const layerStorageWithProgress = (loaded: LoadedConfig, quiet: boolean, from: Option.Option<string> = Option.none()) =>
  layerStorageProgress(quiet).pipe(Layer.provide(layerStorageFrom(loaded, Option.getOrUndefined(from))))

/** Runs `effect` with the storage the config names (with progress on gets unless `quiet`). */
export const withStorage = (config: Option.Option<string>, quiet = true, from: Option.Option<string> = Option.none()) =>
<A, E, R>(effect: Effect.Effect<A, E, R>) =>
  loadConfig(config).pipe(Effect.flatMap((loaded) => Effect.provide(effect, layerStorageWithProgress(loaded, quiet, from))))

/** The config, with `--limit-upload` (when given) in place of its bandwidth_limit. */
export const loadConfigWithLimit = (config: Option.Option<string>, limitUpload: Option.Option<string>) =>
  loadConfig(config).pipe(Effect.flatMap((loaded) => {
    if (Option.isNone(limitUpload)) return Effect.succeed(loaded)
    return parseRate(limitUpload.value) === undefined
      ? Effect.fail(new InvalidFlagError({
        flag: "--limit-upload",
        detail: `${JSON.stringify(limitUpload.value)} is not a rate such as 20MiB/s or 500kB/s (a bare number is KiB/s)`
      }))
      : Effect.succeed({ ...loaded, config: { ...loaded.config, bandwidthLimit: limitUpload.value } })
  }))

/** Runs `f(config)` with the whole backup pipeline the config names (and `--limit-upload`, when given). */
export const withPipeline = <A, E, R>(
  config: Option.Option<string>,
  f: (loaded: LoadedConfig) => Effect.Effect<A, E, R>,
  limitUpload: Option.Option<string> = Option.none()
) => loadConfigWithLimit(config, limitUpload).pipe(Effect.flatMap((loaded) => Effect.provide(f(loaded), layerPipeline(loaded))))


/** Backups yield the CPU to the services they back up, as µbackup did (nice 19). */
export const lowerPriority = Effect.sync(() => {
  try {
    os.setPriority(19)
  } catch {
    // a priority that cannot be lowered is no reason not to back up
  }
})
