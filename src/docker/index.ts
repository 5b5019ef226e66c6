/**
 * `ubackup/docker`: the Docker engine ubackup discovers and snapshots
 * containers with, as the `DockerEngine` service (live over dockerode at the
 * engine's own API version, none, or a fake one in memory for tests), its
 * tagged errors, and the client underneath. dockerode is loaded when the
 * live layer is built, not when this module is imported.
 */
export { DockerClient, DockerError, type EngineVersion, engineVersion } from "./client.ts"
export { type ContainerInfo, DockerEngine, type ExecConnection, type ExecState, make } from "./DockerEngine.ts"
export {
  DockerBadAnswer,
  DockerConflict,
  type DockerEngineError,
  DockerNotFound,
  DockerNotModified,
  DockerRequestFailed,
  DockerStreamLost,
  DockerUnavailable
} from "./errors.ts"
export { execFrame, type FakeContainer, type FakeEngine, type FakeExec, type FakeFailures, layerFake, makeFakeEngine } from "./fake.ts"
