/** Where metrics go: an HTTP endpoint (scheduler) or a textfile (now). */
import * as NodeHttpServer from "@effect/platform-node/NodeHttpServer"
import { Effect, Schema } from "effect"
import { HttpServerRequest, HttpServerResponse } from "effect/http"
import * as crypto from "node:crypto"
import * as fs from "node:fs/promises"
import * as http from "node:http"
import * as path from "node:path"
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
 * Writes the metrics to `file` atomically: a new, randomly named file in the
 * same folder, created exclusively (O_EXCL never follows a symlink someone
 * planted there, and a predictable name could be planted), then renamed
 * over `file` (which replaces a symlink at `file` rather than writing
 * through it). Mode 0644: node_exporter reads it as another user.
 */
export const writeTextfile = (file: string) =>
  Effect.gen(function*() {
    const text = yield* (yield* Metrics).render
    const temporary = path.join(path.dirname(file), `.${path.basename(file)}.${crypto.randomBytes(6).toString("hex")}.tmp`)
    yield* Effect.tryPromise({
      try: async () => {
        const handle = await fs.open(temporary, "wx", 0o644)
        try {
          await handle.writeFile(text)
        } finally {
          await handle.close()
        }
        await fs.rename(temporary, file)
      },
      catch: (cause) => new MetricsError({ where: file, detail: cause instanceof Error ? cause.message : String(cause) })
    }).pipe(Effect.tapError(() => Effect.promise(() => fs.rm(temporary, { force: true }))))
  })
