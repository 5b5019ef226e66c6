/**
 * `ubackup/docker`: the Docker engine client ubackup discovers and snapshots
 * containers with (dockerode, at the engine's own API version). dockerode is
 * loaded when the layer is built, not when this module is imported.
 */
export { DockerClient, DockerError, type EngineVersion, engineVersion } from "./client.ts"
