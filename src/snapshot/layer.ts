/**
 * The live `Snapshotter`: a Docker target through the exec API or the
 * engine's archive, a static target as a host command.
 */
import * as NodeChildProcessSpawner from "@effect/platform-node/NodeChildProcessSpawner"
import * as NodeFileSystem from "@effect/platform-node/NodeFileSystem"
import * as NodePath from "@effect/platform-node/NodePath"
import { Effect, Layer, Stream } from "effect"
import { ChildProcessSpawner } from "effect/process"
import { DockerEngine } from "../docker/DockerEngine.ts"
import { describeTarget, type DockerTarget } from "../domain/Target.ts"
import { commandSnapshot } from "./command.ts"
import { dockerExecSnapshot } from "./dockerExec.ts"
import { dockerVolumeSnapshot } from "./dockerVolume.ts"
import { SnapshotError, Snapshotter } from "./Snapshotter.ts"

const dockerSnapshot = (target: DockerTarget): Stream.Stream<Uint8Array, SnapshotError, DockerEngine> => {
  const command = target.command
  switch (command._tag) {
    case "Exec":
      return dockerExecSnapshot({ ...target, command })
    case "Volume":
      return dockerVolumeSnapshot({ ...target, command })
  }
}

/**
 * The Snapshotter of a run, over the DockerEngine in context. With
 * DockerEngine.layerNone a Docker target fails with reason Docker (discovery
 * finds none then; a hand-made target can have one).
 */
export const layer: Layer.Layer<Snapshotter, never, DockerEngine> = Layer.effect(
  Snapshotter,
  Effect.gen(function*() {
    // captured so that the snapshot streams need nothing from their consumer
    const spawner = yield* ChildProcessSpawner.ChildProcessSpawner
    const engine = yield* DockerEngine
    return Snapshotter.of({
      snapshot: (target) =>
        target._tag === "Docker"
          ? dockerSnapshot(target).pipe(Stream.provideService(DockerEngine, engine))
          : commandSnapshot(target.argv, describeTarget(target)).pipe(
            Stream.provideService(ChildProcessSpawner.ChildProcessSpawner, spawner)
          )
    })
  })
).pipe(
  Layer.provide(NodeChildProcessSpawner.layer),
  Layer.provide(Layer.mergeAll(NodeFileSystem.layer, NodePath.layer))
)
