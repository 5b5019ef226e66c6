/** Where metrics go: an HTTP endpoint (scheduler) or a textfile (now). */
import * as NodeHttpServer from "@effect/platform-node/NodeHttpServer"
import { Effect, Schema, Stream } from "effect"
import { HttpServerRequest, HttpServerResponse } from "effect/http"
import * as http from "node:http"
import { writeFileAtomically } from "../stream/atomicFile.ts"
import { Metrics } from "./Metrics.ts"

export class MetricsError extends Schema.TaggedError<MetricsError>()("MetricsError", {
  where: Schema.String,
  detail: Schema.String
}) {
  override get message() {
    return `metrics at ${this.where}: ${this.detail}`
  }
}

const contentType = "text/plain; version=0.0.4; charset=utf-8"

/** The endpoint: GET or HEAD of /metrics (or /), nothing else. */
const metricsApp = (metrics: Metrics["Service"]) =>
  Effect.gen(function*() {
    const request = yield* HttpServerRequest.HttpServerRequest
    if (request.method !== "GET" && request.method !== "HEAD") {
      return HttpServerResponse.empty({ status: 405, headers: { allow: "GET, HEAD" } })
    }
    const pathname = request.url.split("?")[0]
    if (pathname !== "/metrics" && pathname !== "/") return HttpServerResponse.text("see /metrics\n", { status: 404 })
    const text = yield* metrics.render
    return HttpServerResponse.text(request.method === "HEAD" ? "" : text, { contentType })
  }).pipe(Effect.catchCause(() => Effect.succeed(HttpServerResponse.empty({ status: 500 }))))

/** Serves GET /metrics on `listen` (host:port), with Effect's HTTP server, while the scope lasts. */
export const serveMetrics = (listen: string) =>
  Effect.gen(function*() {
    const metrics = yield* Metrics
    const separator = listen.lastIndexOf(":")
    const host = listen.slice(0, separator).replace(/^\[|\]$/g, "") || "0.0.0.0"
    const port = Number(listen.slice(separator + 1))
    const server = yield* NodeHttpServer.make(() => http.createServer(), { port, host }).pipe(
      Effect.mapError((error) => {
        const cause = error.cause
        return new MetricsError({ where: listen, detail: cause instanceof Error ? cause.message : String(cause ?? error.message) })
      })
    )
    yield* server.serve(metricsApp(metrics))
    yield* Effect.logInfo(`metrics on http://${listen}/metrics`)
  })

/**
 * Writes the metrics to `file` atomically (see src/stream/atomicFile.ts: a
 * planted symlink is replaced, never written through). Mode 0644:
 * node_exporter reads it as another user.
 */
export const writeTextfile = (file: string) =>
  Effect.gen(function*() {
    const text = yield* (yield* Metrics).render
    yield* writeFileAtomically(file, Stream.make(new TextEncoder().encode(text)), 0o644).pipe(
      Effect.mapError((error) => new MetricsError({ where: file, detail: error.detail }))
    )
  })
