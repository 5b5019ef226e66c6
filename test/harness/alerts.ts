/**
 * Helpers for the alert tests: outcomes and run reports, a config decoded
 * the way ubackup decodes it, a short retry policy, captured log lines, and
 * a small HTTP server that records what it is sent.
 */
import type { Warning } from "../../src/domain/Warning.ts"
import { Effect, type Exit, type Layer, Logger, Schema } from "effect"
import * as http from "node:http"
import type { AddressInfo } from "node:net"
import { Alerts } from "../../src/alert/Alerts.ts"
import { AlertHttpPolicy, type HttpPolicy, layerHttpClient } from "../../src/alert/http.ts"
import type { HttpClient } from "effect/http"
import { Config } from "../../src/config/schema.ts"
import type { Outcome, RunReport } from "../../src/domain/Outcome.ts"

export const failedOutcome = (service: string, error: string): Outcome => ({
  service,
  taskId: "static",
  source: `host: pg_dump ${service}`,
  durationMs: 1234,
  result: { _tag: "Failed", error, failure: { _tag: "SnapshotError", message: error } }
})

export const storedOutcome = (service: string): Outcome => ({
  service,
  taskId: "static",
  source: `host: pg_dump ${service}`,
  durationMs: 2345,
  result: {
    _tag: "Stored",
    backup: { id: `${service}/2026-01-02T01-00-00Z.sql.zst.age`, size: 4096, modified: new Date(), bytesIn: 10_000, durationMs: 2345 }
  }
})

/** A size-drop warning about db, as runReported raises it. */
export const sizeWarning = (service = "db"): Warning => ({
  kind: "SizeDrop",
  service,
  backupId: `${service}/2026-01-02T01-00-00Z.sql.zst.age`,
  message: `${service}/2026-01-02T01-00-00Z.sql.zst.age is 1.0 KiB, 1% of the median 97.7 KiB of the last 7 backups (warned below 50%): was the right thing backed up?`,
  figures: { size_bytes: 1024, median_bytes: 100_000, ratio: 0.5, window: 7 }
})

export const runReport = (outcomes: ReadonlyArray<Outcome>, hostname = "myhost", durationMs = 61_500): RunReport => {
  const startedAt = new Date(Date.now() - durationMs)
  return { hostname, startedAt, finishedAt: new Date(startedAt.getTime() + durationMs), outcomes }
}

/** A config as `ubackup` decodes it (snake_case keys, secrets Redacted); local storage, no keys: only the alert keys matter here. */
export const decodeConfig = (keys: Record<string, unknown>): Config =>
  Schema.decodeUnknownSync(Config)({ storage: { local: { path: "/tmp/ubackup-test" } }, ...keys }, { onExcessProperty: "error" })

/** Short enough for tests: 3 attempts, 50 ms backoff. */
export const fastPolicy: HttpPolicy = { timeoutMs: 2_000, attempts: 3, backoffMs: 50 }

export interface LogLine {
  readonly level: string
  readonly text: string
}

const textOf = (message: unknown): string =>
  Array.isArray(message) ? message.map((part) => (typeof part === "string" ? part : JSON.stringify(part))).join(" ") : String(message)

/**
 * Runs `effect` with `policy` and every log line captured (and not printed);
 * its requests go through `httpClient` (default: the live client, to the test's real servers).
 */
export const runCaptured = async <A, E>(
  effect: Effect.Effect<A, E, HttpClient.HttpClient>,
  policy: HttpPolicy = fastPolicy,
  httpClient: Layer.Layer<HttpClient.HttpClient> = layerHttpClient
): Promise<{ readonly exit: Exit.Exit<A, E>; readonly logs: ReadonlyArray<LogLine> }> => {
  const logs: Array<LogLine> = []
  const capture = Logger.make(({ logLevel, message }) => {
    logs.push({ level: logLevel, text: textOf(message) })
  })
  const exit = await Effect.runPromiseExit(
    effect.pipe(Effect.provideService(AlertHttpPolicy, policy), Effect.provide(httpClient), Effect.provide(Logger.layer([capture])))
  )
  return { exit, logs }
}

/** Like runCaptured, but the effect must succeed. */
export const runOk = async <A, E>(
  effect: Effect.Effect<A, E, HttpClient.HttpClient>,
  policy: HttpPolicy = fastPolicy,
  httpClient?: Layer.Layer<HttpClient.HttpClient>
) => {
  const { exit, logs } = await runCaptured(effect, policy, httpClient)
  if (exit._tag === "Failure") throw new Error(`expected success, got ${String(exit.cause)}`)
  return { value: exit.value, logs }
}

/** Like runCaptured, but the effect must fail; its error is returned. */
export const runFailure = async <A, E>(
  effect: Effect.Effect<A, E, HttpClient.HttpClient>,
  policy: HttpPolicy = fastPolicy,
  httpClient?: Layer.Layer<HttpClient.HttpClient>
) => {
  const { exit, logs } = await runCaptured(Effect.flip(effect), policy, httpClient)
  if (exit._tag === "Failure") throw new Error(`expected a typed failure, got ${String(exit.cause)}`)
  return { error: exit.value, logs }
}

// ---------------------------------------------------------------- a recording HTTP server

export interface Recorded {
  readonly method: string
  /** Path and query as sent. */
  readonly url: string
  readonly headers: http.IncomingHttpHeaders
  readonly body: Buffer
  /** When it arrived (Date.now()). */
  readonly at: number
}

export interface Reply {
  readonly status: number
  readonly body?: string
  readonly headers?: Readonly<Record<string, string>>
}

export interface RecordingServer {
  readonly url: string
  readonly requests: Array<Recorded>
  /** How to answer; replace it to make the server fail. `"hang"`: never answer. */
  reply: (request: Recorded) => Reply | "hang"
  readonly close: () => Promise<void>
}

/** An HTTP server on 127.0.0.1 that records every request and answers with `reply` (200 `ok` by default). */
export const startRecordingServer = async (reply: RecordingServer["reply"] = () => ({ status: 200, body: "ok" })): Promise<RecordingServer> => {
  const requests: Array<Recorded> = []
  const server = http.createServer((request, response) => {
    const chunks: Array<Buffer> = []
    request.on("data", (chunk: Buffer) => chunks.push(chunk))
    request.on("end", () => {
      const recorded = { method: request.method ?? "", url: request.url ?? "", headers: request.headers, body: Buffer.concat(chunks), at: Date.now() }
      requests.push(recorded)
      const answer = state.reply(recorded)
      if (answer === "hang") return
      response.writeHead(answer.status, { "Content-Type": "text/plain; charset=utf-8", ...answer.headers })
      response.end(answer.body ?? "")
    })
  })
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  const { port } = server.address() as AddressInfo
  const state: RecordingServer = {
    url: `http://127.0.0.1:${port}`,
    requests,
    reply,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      })
  }
  return state
}

/** A port nothing listens on (bound, then released). */
export const closedPort = async (): Promise<number> => {
  const server = http.createServer()
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  const { port } = server.address() as AddressInfo
  await new Promise<void>((resolve) => server.close(() => resolve()))
  return port
}

/**
 * A run's events in the order runReported sends them: start, each outcome
 * (an alert for a failure, a resolve for a stored backup), then the end;
 * true when every failure alert was delivered.
 */
export const reportRun = (report: RunReport) =>
  Effect.gen(function*() {
    const alerts = yield* Alerts
    yield* alerts.runStarted(report.startedAt, true)
    let delivered = true
    for (const outcome of report.outcomes) {
      if (outcome.result._tag === "Stored") yield* alerts.targetStored(outcome)
      else if (!(yield* alerts.targetFailed(outcome))) delivered = false
    }
    yield* alerts.runFinished(report, delivered)
    return delivered
  })
