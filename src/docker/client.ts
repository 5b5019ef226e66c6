/**
 * The Docker engine client (dockerode) for an endpoint:
 *
 *   unix:///var/run/docker.sock   a local socket (or a socket proxy)
 *   tcp://host:2375               plain HTTP; HTTPS when DOCKER_TLS_VERIFY is set,
 *                                 with ca.pem, cert.pem, key.pem from DOCKER_CERT_PATH
 *   http://host:port, https://host:port
 *   (none)                        dockerode's own DOCKER_HOST / DOCKER_TLS_VERIFY /
 *                                 DOCKER_CERT_PATH handling, else the local socket
 *
 * No API version is pinned: an unversioned request gets the engine's own
 * (current) API version. That works with old engines (20.10 speaks 1.41) and
 * with new ones (Docker 29 refuses anything older than 1.44), where a pinned
 * version would break one or the other.
 */
import type Dockerode from "dockerode"
import { Context, Duration, Effect, Layer, Schema } from "effect"
import * as fs from "node:fs"
import * as http from "node:http"
import * as https from "node:https"
import * as os from "node:os"
import * as path from "node:path"
import { describeCause } from "./errors.ts"

export class DockerError extends Schema.TaggedError<DockerError>()("DockerError", {
  /** `unix:///var/run/docker.sock`, `tcp://10.0.0.5:2376`. */
  endpoint: Schema.String,
  /** What was asked: `GET /version`, `connect`. */
  operation: Schema.String,
  detail: Schema.String
}) {
  override get message() {
    return `Docker engine at ${this.endpoint}: ${this.operation} failed: ${this.detail}`
  }
}

/**
 * A connection setting of the client's docker-modem. Its typings declare no
 * fields, but the modem keeps its constructor options as plain properties
 * (socketPath, host, port, protocol, agent) and reads them on every request.
 */
const modemField = (client: Dockerode, name: "socketPath" | "host" | "port" | "protocol"): unknown =>
  Reflect.get(client.modem, name)

/** Where `client` connects, for messages. */
export const endpointOf = (client: Dockerode): string => {
  const host = modemField(client, "host")
  if (typeof host === "string" && host !== "") {
    const protocol = modemField(client, "protocol")
    const port = modemField(client, "port")
    return `${typeof protocol === "string" ? protocol : "http"}://${host}${
      typeof port === "string" || typeof port === "number" ? `:${port}` : ""
    }`
  }
  // dockerode's default socket path is a function that looks for the user's Docker Desktop socket first
  const socketPath = modemField(client, "socketPath")
  return typeof socketPath === "string" ? `unix://${socketPath}` : "unix:///var/run/docker.sock"
}

const tlsVerify = (env: NodeJS.ProcessEnv): boolean => {
  const value = env.DOCKER_TLS_VERIFY?.trim() ?? ""
  // the docker CLI treats any non-empty value as "on"; "0"/"false" meaning "on" would surprise
  return value !== "" && value !== "0" && value.toLowerCase() !== "false"
}

/** ca.pem, cert.pem and key.pem from DOCKER_CERT_PATH (the docker CLI's default: ~/.docker). */
const tlsFiles = (endpoint: string, env: NodeJS.ProcessEnv, required: boolean) => {
  const dir = env.DOCKER_CERT_PATH?.trim() || path.join(os.homedir(), ".docker")
  const read = (name: string): Buffer | undefined => {
    const file = path.join(dir, name)
    try {
      return fs.readFileSync(file)
    } catch (cause) {
      if (!required && (cause as NodeJS.ErrnoException).code === "ENOENT") return undefined
      throw new DockerError({
        endpoint,
        operation: "TLS setup",
        detail: `cannot read ${file} (DOCKER_CERT_PATH): ${(cause as Error).message}`
      })
    }
  }
  const files = { ca: read("ca.pem"), cert: read("cert.pem"), key: read("key.pem") }
  return {
    ...(files.ca === undefined ? {} : { ca: files.ca }),
    // a client certificate is only usable with its key
    ...(files.cert === undefined || files.key === undefined ? {} : { cert: files.cert, key: files.key })
  }
}

/** dockerode options for an explicit endpoint; every connection field is set so none leaks in from DOCKER_HOST. */
const optionsFor = (endpoint: string, env: NodeJS.ProcessEnv): Dockerode.DockerOptions => {
  const invalid = (detail: string) => new DockerError({ endpoint, operation: "parse endpoint", detail })
  if (endpoint.startsWith("unix://")) {
    const socketPath = endpoint.slice("unix://".length)
    if (!socketPath.startsWith("/")) throw invalid("a unix endpoint needs an absolute socket path: unix:///var/run/docker.sock")
    return { socketPath, host: undefined, port: undefined, protocol: "http", ca: undefined, cert: undefined, key: undefined }
  }
  let url: URL
  try {
    url = new URL(endpoint)
  } catch {
    throw invalid("expected unix:///path/to/docker.sock, tcp://host:port, http://host:port or https://host:port")
  }
  const scheme = url.protocol.replace(/:$/, "")
  if (scheme !== "tcp" && scheme !== "http" && scheme !== "https") {
    throw invalid(`unsupported scheme "${scheme}://" (use unix://, tcp://, http:// or https://; for SSH, forward the socket with ssh -L)`)
  }
  if (url.hostname === "") throw invalid("no host name")
  const secure = scheme === "https" || (scheme === "tcp" && tlsVerify(env))
  // tcp:// without a port: the engine's conventional ports
  const port = url.port !== "" ? url.port : scheme === "tcp" ? (secure ? "2376" : "2375") : secure ? "443" : "80"
  // IPv6 literals come bracketed from URL; http.request wants them bare
  const host = url.hostname.replace(/^\[(.*)\]$/, "$1")
  const tls = secure ? tlsFiles(endpoint, env, tlsVerify(env)) : {}
  return {
    socketPath: undefined,
    host,
    port,
    protocol: secure ? "https" : "http",
    ca: tls.ca,
    cert: tls.cert,
    key: tls.key
  }
}

export type DockerodeClass = typeof Dockerode

/** Loads dockerode (its own file in the CLI build). */
export const loadDockerode = (): Promise<DockerodeClass> => import("../vendor/dockerode.ts").then((module) => module.default)

/**
 * A dockerode client for `endpoint` (see the module comment), or, without
 * one, for what DOCKER_HOST and friends say. Throws a `DockerError` for an
 * endpoint that cannot be used (bad syntax, unreadable TLS files); connects
 * only when a request is made.
 */
export const makeDockerClient = (Dockerode: DockerodeClass, endpoint?: string): Dockerode => {
  const trimmed = endpoint?.trim()
  if (trimmed === undefined || trimmed === "") {
    try {
      return new Dockerode()
    } catch (cause) {
      // dockerode reads DOCKER_HOST and the certificate files in its constructor
      throw new DockerError({
        endpoint: process.env.DOCKER_HOST ?? "unix:///var/run/docker.sock",
        operation: "parse DOCKER_HOST",
        detail: cause instanceof Error ? cause.message : String(cause)
      })
    }
  }
  return new Dockerode(optionsFor(trimmed, process.env))
}

export interface EngineVersion {
  /** The engine's release, e.g. `20.10.24+dfsg1`, `29.0.1`. */
  readonly version: string
  /** The engine's current API version, e.g. `1.41`. */
  readonly apiVersion: string
}

/** An unanswered request (a black-holed TCP address) fails after this instead of hanging. */
const versionTimeout = Duration.seconds(15)

/** GET /version: which engine answers at the client's endpoint. */
export const engineVersion = (client: Dockerode): Effect.Effect<EngineVersion, DockerError> => {
  const endpoint = endpointOf(client)
  const fail = (detail: string) => new DockerError({ endpoint, operation: "GET /version", detail })
  return Effect.tryPromise({
    // (the typings offer no abort signal here; the timeout below bounds the wait instead)
    try: () => client.version(),
    catch: (cause) => fail(describeCause(cause))
  }).pipe(
    Effect.timeoutOrElse({
      duration: versionTimeout,
      orElse: () => Effect.fail(fail(`no answer within ${Duration.format(versionTimeout)}`))
    }),
    Effect.flatMap((answer) =>
      typeof answer?.Version === "string" && typeof answer.ApiVersion === "string"
        ? Effect.succeed({ version: answer.Version, apiVersion: answer.ApiVersion })
        : Effect.fail(fail("the answer is not a Docker engine's version document"))
    )
  )
}

/** The engine client of a run, and where it connects (for messages). */
export class DockerClient extends Context.Service<DockerClient, {
  readonly client: Dockerode
  readonly endpoint: string
}>()("ubackup/DockerClient") {
  /**
   * A client for `endpoint` (see `makeDockerClient`) with its own keep-alive
   * connection pool, closed when the layer is released so that no idle
   * engine connection outlives it. Connects only when a request is made.
   */
  static readonly layer = (endpoint?: string): Layer.Layer<DockerClient, DockerError> =>
    Layer.effect(
      DockerClient,
      Effect.acquireRelease(
        Effect.promise(loadDockerode).pipe(Effect.flatMap((Dockerode) => Effect.try({
          try: () => {
            const client = makeDockerClient(Dockerode, endpoint)
            const protocol = modemField(client, "protocol")
            // docker-modem sends every request through its `agent` option when set (ssh brings its own)
            const agent = protocol === "https"
              ? new https.Agent({ keepAlive: true })
              : protocol === "http"
              ? new http.Agent({ keepAlive: true })
              : undefined
            if (agent !== undefined) Reflect.set(client.modem, "agent", agent)
            return { client, agent }
          },
          catch: (cause) =>
            cause instanceof DockerError
              ? cause
              : new DockerError({ endpoint: endpoint ?? "DOCKER_HOST", operation: "set up client", detail: String(cause) })
        }))),
        ({ agent }) => Effect.sync(() => agent?.destroy())
      ).pipe(Effect.map(({ client }) => DockerClient.of({ client, endpoint: endpointOf(client) })))
    )
}
