/**
 * dockerode, in one place. The CLI build turns this module into its own
 * file, loaded only by the verbs that talk to Docker (scripts/build.mjs):
 * with its gRPC and SSH dependencies it is ~1 MB that a manual backup or a
 * restore never parses.
 */
export { default } from "dockerode"
