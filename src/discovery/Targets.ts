/**
 * The discovery service: where each run's targets come from (src/discovery/layer.ts
 * builds it from the config and the Docker engine).
 */
import { Context, type Effect, Schema } from "effect"
import type { Discovered } from "../domain/Target.ts"

export class DiscoveryError extends Schema.TaggedError<DiscoveryError>()("DiscoveryError", {
  endpoint: Schema.String,
  detail: Schema.String
}) {
  override get message() {
    return `Docker discovery at ${this.endpoint} failed: ${this.detail}`
  }
}

export class Targets extends Context.Service<Targets, {
  /** Finds the targets now; called at every run, so label changes need no restart. */
  readonly discover: Effect.Effect<Discovered, DiscoveryError>
}>()("ubackup/Targets") {}
