/**
 * The live `Snapshotter`: a Docker target through the exec API or the
 * engine's archive, a static target as a host command.
 */
import * as NodeChildProcessSpawner from "@effect/platform-node/NodeChildProcessSpawner"
import * as NodeFileSystem from "@effect/platform-node/NodeFileSystem"
import * as NodePath from "@effect/platform-node/NodePath"
import type Dockerode from "dockerode"
import { Effect, Layer, Stream } from "effect"
import { ChildProcessSpawner } from "effect/process"
import { describeTarget, type DockerTarget } from "../domain/Target.ts"
import { commandSnapshot } from "./command.ts"
import { dockerExecSnapshot } from "./dockerExec.ts"
import { dockerVolumeSnapshot } from "./dockerVolume.ts"
import { SnapshotError, Snapshotter } from "./Snapshotter.ts"

const dockerSnapshot = (client: Dockerode | undefined, target: DockerTarget): Stream.Stream<Uint8Array, SnapshotError> => {
  if (client === undefined) {
    // discovery found a container, so this cannot happen in a run; a hand-made target can
    return Stream.fail(
      new SnapshotError({
        reason: "Docker",
        source: describeTarget(target),
        stderrTail: "",
        detail: "no Docker endpoint is configured (docker_endpoint or DOCKER_HOST)"
      })
    )
  }
  const command = target.command
  switch (command._tag) {
    case "Exec":
      return dockerExecSnapshot(client, { ...target, command })
    case "Volume":
      return dockerVolumeSnapshot(client, { ...target, command })
  }
}

/**
 * The Snapshotter for a run. `client` is the engine client when Docker
 * discovery is on; without it a Docker target fails with reason Docker.
 */
export const layerLive = (client: Dockerode | undefined): Layer.Layer<Snapshotter> =>
  Layer.effect(
    Snapshotter,
    Effect.gen(function*() {
      // captured so that the snapshot streams need nothing from their consumer
      const spawner = yield* ChildProcessSpawner.ChildProcessSpawner
      return Snapshotter.of({
        snapshot: (target) =>
          target._tag === "Docker"
            ? dockerSnapshot(client, target)
            : commandSnapshot(target.argv, describeTarget(target)).pipe(
              Stream.provideService(ChildProcessSpawner.ChildProcessSpawner, spawner)
            )
      })
    })
  ).pipe(
    Layer.provide(NodeChildProcessSpawner.layer),
    Layer.provide(Layer.mergeAll(NodeFileSystem.layer, NodePath.layer))
  )
