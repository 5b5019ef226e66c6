/**
 * What can go wrong in a call to the Docker engine, one tagged error per
 * kind, so that callers decide by `_tag` (and `status`) instead of decoding
 * dockerode's messages:
 *
 *   DockerUnavailable    no answer: no engine configured, no socket, refused, timed out
 *   DockerNotFound       404: no such container or exec
 *   DockerConflict       409: e.g. the container is not running, or is paused
 *   DockerNotModified    304: already started, already stopped
 *   DockerRequestFailed  any other status the engine answered with
 *   DockerBadAnswer      an answer that is not what the API promises
 *   DockerStreamLost     a stream (exec output, archive) broke after it began
 *
 * `detail` is one line a user can act on; `message` adds where and what.
 */
import { Schema } from "effect"

const common = {
  /** `unix:///var/run/docker.sock`, `tcp://10.0.0.5:2376`. */
  endpoint: Schema.String,
  /** What was asked: `inspect container 3f2a…`, `start exec`. */
  operation: Schema.String,
  detail: Schema.String
}

const withStatus = { ...common, status: Schema.Number }

function describe(this: { readonly endpoint: string; readonly operation: string; readonly detail: string }) {
  return `Docker engine at ${this.endpoint}: ${this.operation} failed: ${this.detail}`
}

export class DockerUnavailable extends Schema.TaggedError<DockerUnavailable>()("DockerUnavailable", common) {
  override get message() {
    return describe.call(this)
  }
}

export class DockerNotFound extends Schema.TaggedError<DockerNotFound>()("DockerNotFound", withStatus) {
  override get message() {
    return describe.call(this)
  }
}

export class DockerConflict extends Schema.TaggedError<DockerConflict>()("DockerConflict", withStatus) {
  override get message() {
    return describe.call(this)
  }
}

export class DockerNotModified extends Schema.TaggedError<DockerNotModified>()("DockerNotModified", withStatus) {
  override get message() {
    return describe.call(this)
  }
}

export class DockerRequestFailed extends Schema.TaggedError<DockerRequestFailed>()("DockerRequestFailed", withStatus) {
  override get message() {
    return describe.call(this)
  }
}

export class DockerBadAnswer extends Schema.TaggedError<DockerBadAnswer>()("DockerBadAnswer", common) {
  override get message() {
    return describe.call(this)
  }
}

export class DockerStreamLost extends Schema.TaggedError<DockerStreamLost>()("DockerStreamLost", common) {
  override get message() {
    return describe.call(this)
  }
}

export type DockerEngineError =
  | DockerUnavailable
  | DockerNotFound
  | DockerConflict
  | DockerNotModified
  | DockerRequestFailed
  | DockerBadAnswer
  | DockerStreamLost

/** True when the engine answered the request (with a status), false when the failure is on the way to it or in its answer's shape. */
export const engineAnswered = (
  error: DockerEngineError
): error is DockerNotFound | DockerConflict | DockerNotModified | DockerRequestFailed => "status" in error

interface ErrorView {
  readonly code?: unknown
  readonly statusCode?: unknown
  readonly message?: unknown
  readonly json?: { readonly message?: unknown } | null
}

/** The HTTP status of a failed dockerode request; undefined when no answer came (connection errors). */
const statusOf = (cause: unknown): number | undefined => {
  const status = typeof cause === "object" && cause !== null ? (cause as ErrorView).statusCode : undefined
  return typeof status === "number" ? status : undefined
}

/** A dockerode or socket error as one line a user can act on. */
export const describeCause = (cause: unknown): string => {
  if (typeof cause !== "object" || cause === null) return String(cause)
  const error = cause as ErrorView
  const status = statusOf(cause)
  if (status !== undefined) {
    // the engine's own message is in the JSON body; dockerode's message wraps it in "(HTTP code …) reason - …"
    const engineMessage = typeof error.json?.message === "string" ? error.json.message.trim() : undefined
    return `HTTP ${status}: ${engineMessage ?? String(error.message ?? "").trim()}`
  }
  const message = typeof error.message === "string" ? error.message : String(cause)
  switch (error.code) {
    case "ENOENT":
      return `${message} (no socket there: is dockerd running, and is the path right?)`
    case "EACCES":
      return `${message} (no permission on the socket: run as root or in the docker group)`
    case "ECONNREFUSED":
      return `${message} (nothing listens there: is dockerd running, and is the address right?)`
    default:
      return message
  }
}

/** The tagged error for what dockerode threw (or rejected with) in `operation`. */
export const fromCause = (endpoint: string, operation: string) => (cause: unknown): DockerEngineError => {
  const detail = describeCause(cause)
  const status = statusOf(cause)
  if (status === undefined) return new DockerUnavailable({ endpoint, operation, detail })
  const fields = { endpoint, operation, detail, status }
  switch (status) {
    case 304:
      return new DockerNotModified(fields)
    case 404:
      return new DockerNotFound(fields)
    case 409:
      return new DockerConflict(fields)
    default:
      return new DockerRequestFailed(fields)
  }
}
