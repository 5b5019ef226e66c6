/**
 * An HTTP client held in memory, for tests of the alert sinks (ubackup's and
 * an app's own): every request is recorded, and `respond` decides each
 * answer, or that the sink cannot be reached. The sinks run the same code as
 * over fetch (src/alert/http.ts): retries, timeouts, error texts, redaction.
 *
 *   const http = makeFakeHttpClient(() => ({ status: 500, body: "down" }))
 *   … Effect.provide(http.layer) …
 *   http.requests[0].body
 */
import { Effect, Layer } from "effect"
import { HttpClient, HttpClientError, HttpClientResponse } from "effect/http"

export interface RecordedRequest {
  readonly method: string
  /** With its query. */
  readonly url: string
  /** Lower-case names. */
  readonly headers: Readonly<Record<string, string>>
  readonly body: string
}

export interface FakeReply {
  /** 200 unless said. */
  readonly status?: number | undefined
  readonly headers?: Readonly<Record<string, string>> | undefined
  readonly body?: string | undefined
}

/** What `respond` returns for a sink that cannot be reached (a refused connection). */
export const unreachable = "unreachable" as const

export interface FakeHttpClient {
  readonly client: HttpClient.HttpClient
  readonly layer: Layer.Layer<HttpClient.HttpClient>
  readonly requests: ReadonlyArray<RecordedRequest>
}

const decoder = new TextDecoder()

export const makeFakeHttpClient = (
  respond: (request: RecordedRequest) => FakeReply | typeof unreachable = () => ({})
): FakeHttpClient => {
  const requests: Array<RecordedRequest> = []
  const client = HttpClient.make((request, url) =>
    Effect.suspend(() => {
      const body = request.body._tag === "Uint8Array" ? decoder.decode(request.body.body) : ""
      const headers: Record<string, string> = { ...request.headers }
      if (request.body._tag === "Uint8Array") headers["content-type"] ??= request.body.contentType
      const recorded: RecordedRequest = { method: request.method, url: url.href, headers, body }
      requests.push(recorded)
      const reply = respond(recorded)
      if (reply === unreachable) {
        return Effect.fail(
          new HttpClientError.HttpClientError({
            reason: new HttpClientError.TransportError({ request, cause: new Error("connect ECONNREFUSED (fake)") })
          })
        )
      }
      const status = reply.status ?? 200
      // a null body for the statuses that may not have one
      const webBody = status === 204 || status === 304 ? null : reply.body ?? ""
      return Effect.succeed(
        HttpClientResponse.fromWeb(request, new Response(webBody, { status, headers: { ...reply.headers } }))
      )
    })
  )
  return { client, layer: Layer.succeed(HttpClient.HttpClient, client), requests }
}

/** A fake HTTP client (see makeFakeHttpClient) as a layer. */
export const layerFakeHttpClient = (
  respond?: (request: RecordedRequest) => FakeReply | typeof unreachable
): Layer.Layer<HttpClient.HttpClient> => makeFakeHttpClient(respond).layer
