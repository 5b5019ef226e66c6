/**
 * One HTTP request of an alert sink, through the `HttpClient` in context
 * (Effect's, from `effect/http`: `layerHttpClient` below is fetch, and a
 * test or an app provides its own, e.g. `layerFakeHttpClient` of
 * fakeHttp.ts): a timeout per
 * attempt (µbackup had none, and a sink that never answers must not hold a
 * run forever), bounded retries with exponential backoff and jitter for what
 * may pass by itself (network errors, timeouts, 5xx, 429), and error texts
 * that never carry a secret: a URL is shown as scheme://host only, because
 * the path or query of most sink URLs is the credential.
 */
import { Context, Duration, Effect, Layer, Schedule, Schema, Stream } from "effect"
import { FetchHttpClient, HttpClient, HttpClientRequest } from "effect/http"
import { STATUS_CODES } from "node:http"
import { formatDuration } from "../domain/duration.ts"
import { AlertError } from "./Alerts.ts"

export interface HttpPolicy {
  /** Per attempt, from sending the request to the end of the reply's body. */
  readonly timeoutMs: number
  /** Attempts in all (the first one included) for failures that may pass. */
  readonly attempts: number
  /** The first backoff; it doubles each retry and is jittered (0.8–1.2). */
  readonly backoffMs: number
}

/**
 * The policy every sink request uses; a Reference so that tests (and any
 * caller) can shorten it with `Effect.provideService` without a new layer.
 * 4 attempts at 10 s plus ~3.5 s of backoff bound one request to ~45 s.
 */
export const AlertHttpPolicy = Context.Reference<HttpPolicy>("ubackup/alert/HttpPolicy", {
  defaultValue: () => ({ timeoutMs: 10_000, attempts: 4, backoffMs: 500 })
})

export interface HttpRequest {
  /** For the error: `lambda-alertmanager`, `ntfy`… */
  readonly sink: string
  /** For the error: `alert for db`, `dead man's switch check-in`… */
  readonly what: string
  readonly method: "GET" | "POST"
  /** May carry secrets: it never appears in a log or an error. */
  readonly url: string
  /**
   * The host itself is a secret (lambda-alertmanager's API Gateway ID): errors
   * show `<host>` in its place and any mention of it is scrubbed.
   */
  readonly hideHost?: boolean | undefined
  readonly headers?: Readonly<Record<string, string>>
  readonly body?: string
  /** Header values (tokens) that must not appear in an error either. */
  readonly secrets?: ReadonlyArray<string>
}

export interface HttpReply {
  readonly status: number
  /** Lower-case names. */
  readonly headers: Readonly<Record<string, string>>
  /** The first 64 KiB of the body; the rest is not read. */
  readonly body: Uint8Array
}

/** How much of a reply's body is kept: enough for any error text, bounded against a misbehaving server. */
const bodyCap = 64 * 1024
/** Go's ezhttp shows this much of an error reply's body (µbackup's error texts). */
const errorBodyBytes = 128

/** `https://host:port` of a URL, the only part of a sink URL that is safe to print. */
export const displayUrl = (url: string): string => {
  try {
    const parsed = new URL(url)
    return `${parsed.protocol}//${parsed.host}`
  } catch {
    return "<invalid URL>"
  }
}

/**
 * `url` with `suffix` appended to its path, trailing slashes first taken off
 * (no `//`), and `params` set in its query (replacing any already there).
 * An unparseable URL comes back as is, for `send` to report without showing it.
 */
export const extendUrl = (url: string, suffix: string, params: Readonly<Record<string, string>> = {}): string => {
  try {
    const parsed = new URL(url)
    parsed.pathname = parsed.pathname.replace(/\/+$/, "") + suffix
    for (const [name, value] of Object.entries(params)) parsed.searchParams.set(name, value)
    return parsed.href
  } catch {
    return url
  }
}

/** Removes every secret from `text` (the URL's path, query and credentials, token headers). */
const scrubber = (url: URL | undefined, secrets: ReadonlyArray<string>) => {
  const parts = [...secrets]
  if (url !== undefined) {
    parts.push(url.href, url.pathname + url.search, url.pathname, url.search, url.username, url.password)
    try {
      parts.push(decodeURIComponent(url.pathname), decodeURIComponent(url.search))
    } catch {
      // a malformed escape: the raw forms above are all that can appear
    }
  }
  // longest first, so a URL goes as a whole before its path does; tiny parts ("/", "?") are no secret
  const sorted = [...new Set(parts)].filter((part) => part.length >= 4).sort((a, b) => b.length - a.length)
  return (text: string) => sorted.reduce((acc, part) => acc.replaceAll(part, "<redacted>"), text)
}

/** One attempt's failure: `retryable` for network errors, timeouts, 5xx and 429. */
class AttemptError extends Schema.TaggedError<AttemptError>()("AttemptError", {
  detail: Schema.String,
  retryable: Schema.Boolean
}) {}

/** Go's `resp.Status`: `400 Bad Request`. */
const statusLine = (status: number) => `${status} ${STATUS_CODES[status] ?? ""}`.trimEnd()

/**
 * µbackup's error text for a non-2xx reply: `<status line>; <first 128 bytes of body>[..]`. The body is
 * scrubbed before it is cut: a secret the cut went through would no longer match, and its first part would show.
 */
const replyDetail = (line: string, body: Uint8Array, scrub: (text: string) => string) => {
  if (body.length === 0) return `${line}; <no response body>`
  const text = Buffer.from(scrub(new TextDecoder().decode(body)), "utf8")
  return `${line}; ${new TextDecoder().decode(text.subarray(0, errorBodyBytes))}${text.length > errorBodyBytes ? ".." : ""}`
}

/** Why the request failed: the client's TransportError wraps undici's `TypeError("fetch failed", { cause })`. */
const transportDetail = (cause: unknown): string => {
  const inner = cause instanceof Error && cause.cause instanceof Error ? cause.cause : cause
  if (inner instanceof Error) {
    const code = (inner as NodeJS.ErrnoException).code
    const text = inner.message || (inner instanceof AggregateError ? inner.errors.map(String).join("; ") : "")
    return text !== "" ? text : code ?? inner.name
  }
  return String(inner)
}

/** The body up to `bodyCap` bytes; the rest is not read (the stream is cancelled, which frees the connection). */
const readCapped = <E>(body: Stream.Stream<Uint8Array, E>): Effect.Effect<Uint8Array, E> =>
  Effect.gen(function*() {
    const chunks: Array<Uint8Array> = []
    let total = 0
    yield* body.pipe(
      Stream.takeUntil((chunk) => {
        chunks.push(chunk)
        total += chunk.length
        return total >= bodyCap
      }),
      Stream.runDrain
    )
    return Buffer.concat(chunks).subarray(0, bodyCap)
  })

interface Prepared {
  readonly url: string
  readonly display: string
  readonly headers: Record<string, string>
  readonly scrub: (text: string) => string
}

const safeDecode = (text: string) => {
  try {
    return decodeURIComponent(text)
  } catch {
    return text
  }
}

/** Credentials in the URL (`https://user:pass@host`) become Basic auth: fetch refuses them in the URL. */
const prepare = (request: HttpRequest): Prepared | AlertError => {
  let url: URL
  try {
    url = new URL(request.url)
  } catch {
    return new AlertError({ sink: request.sink, what: request.what, detail: "invalid URL" })
  }
  const headers: Record<string, string> = { ...request.headers }
  const has = (name: string) => Object.keys(headers).some((header) => header.toLowerCase() === name)
  // undici would say `node`; a receiver's logs should name the sender
  if (!has("user-agent")) headers["User-Agent"] = "ubackup"
  // the Basic credentials are as secret as the URL's: a server may echo the header back
  const basic: Array<string> = []
  if ((url.username !== "" || url.password !== "") && !has("authorization")) {
    const credentials = `${safeDecode(url.username)}:${safeDecode(url.password)}`
    basic.push(Buffer.from(credentials).toString("base64"))
    headers["Authorization"] = `Basic ${basic[0]}`
  }
  const scrub = scrubber(url, [...(request.secrets ?? []), ...basic, ...(request.hideHost === true ? [url.host, url.hostname] : [])])
  url.username = ""
  url.password = ""
  const display = request.hideHost === true ? `${url.protocol}//<host>` : `${url.protocol}//${url.host}`
  return { url: url.href, display, headers, scrub }
}

/** A request's body as fetch would send it: with its Content-Type header, else text/plain. */
const requestOf = (request: HttpRequest, prepared: Prepared) => {
  const headers = { ...prepared.headers }
  const contentTypeHeader = Object.keys(headers).find((name) => name.toLowerCase() === "content-type")
  const contentType = contentTypeHeader === undefined ? "text/plain;charset=UTF-8" : headers[contentTypeHeader]!
  if (contentTypeHeader !== undefined) delete headers[contentTypeHeader]
  const base = HttpClientRequest.make(request.method)(prepared.url).pipe(HttpClientRequest.setHeaders(headers))
  return request.body === undefined ? base : HttpClientRequest.bodyText(base, request.body, contentType)
}

const attempt = (client: HttpClient.HttpClient, request: HttpRequest, prepared: Prepared, timeoutMs: number) => {
  const transportFailure = (detail: string) =>
    new AttemptError({ detail: prepared.scrub(`${request.method} ${prepared.display}: ${detail}`), retryable: true })
  return client.execute(requestOf(request, prepared)).pipe(
    Effect.flatMap((response) =>
      Effect.map(readCapped(response.stream), (body) => ({ status: response.status, headers: response.headers, body }))
    ),
    Effect.mapError((error) =>
      transportFailure(error.reason._tag === "TransportError" ? transportDetail(error.reason.cause) : error.message)
    ),
    // over the request and its body; interruption aborts the request
    Effect.timeoutOrElse({
      duration: Duration.millis(timeoutMs),
      orElse: () => Effect.fail(transportFailure(`no response within ${formatDuration(timeoutMs)}`))
    }),
    // the request is exactly what docs/ALERTING.md shows: no trace headers
    Effect.provideService(HttpClient.TracerPropagationEnabled, false),
    Effect.flatMap((reply) =>
      reply.status >= 200 && reply.status <= 299
        ? Effect.succeed<HttpReply>(reply)
        : reply.status >= 300 && reply.status <= 399
        ? Effect.fail(
          new AttemptError({
            detail: `${statusLine(reply.status)}: the sink answered with a redirect, which ubackup does not follow (set the URL it redirects to)`,
            retryable: false
          })
        )
        : Effect.fail(
          new AttemptError({
            detail: prepared.scrub(replyDetail(statusLine(reply.status), reply.body, prepared.scrub)),
            // a 4xx other than 429 says the request itself is wrong: sending it again cannot help
            retryable: reply.status >= 500 || reply.status === 429
          })
        )
    )
  )
}

/**
 * The sinks' live HTTP client: fetch, with redirects not followed (one could
 * send the body, and the URL's secrets, to another host).
 */
export const layerHttpClient: Layer.Layer<HttpClient.HttpClient> = FetchHttpClient.layer.pipe(
  Layer.provide(Layer.succeed(FetchHttpClient.RequestInit, { redirect: "manual" }))
)

/**
 * Sends `request`; any 2xx is success (the body is returned, capped). A
 * failure is an `AlertError` whose detail is µbackup's text for a reply
 * (`400 Bad Request; <body>`) or `POST https://host: <why>` for a transport
 * error, with the attempt count when it was retried.
 */
export const send = Effect.fn("alert.send")(function*(request: HttpRequest) {
  const policy = yield* AlertHttpPolicy
  const client = yield* HttpClient.HttpClient
  const prepared = prepare(request)
  if (prepared instanceof AlertError) return yield* prepared
  let attempts = 0
  return yield* Effect.suspend(() => {
    attempts++
    return attempt(client, request, prepared, policy.timeoutMs)
  }).pipe(
    Effect.tapError((error) =>
      error.retryable && attempts < policy.attempts
        ? Effect.logDebug(`${request.sink}: ${request.what}: attempt ${attempts} failed, retrying: ${error.detail}`)
        : Effect.void
    ),
    Effect.retry({
      schedule: Schedule.exponential(Duration.millis(policy.backoffMs), 2).pipe(Schedule.jittered),
      times: Math.max(0, policy.attempts - 1),
      while: (error) => error.retryable
    }),
    Effect.mapError((error) =>
      new AlertError({
        sink: request.sink,
        what: request.what,
        detail: attempts > 1 ? `${error.detail} (${attempts} attempts)` : error.detail
      })
    )
  )
})
