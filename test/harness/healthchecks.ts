/**
 * A small Healthchecks-style ping server for the tests (docs/ALERTING.md, Healthchecks,
 * after hc/api/urls.py and views.ping), mounted at `/ping/` as self-hosted
 * Healthchecks is:
 *
 *   HEAD|GET|POST /ping/<uuid>[/start|/fail|/log|/<0-255>][?rid=<uuid>]
 *
 * 200 `OK` with `Ping-Body-Limit` and `Access-Control-Allow-Origin: *`;
 * 404 `not found` for an unknown check (or a path that is no ping URL);
 * 400 `invalid url format` for an exit status over 255, 400 `invalid uuid
 * format` for a bad rid. A POST body is kept up to the limit (bytes), as
 * text when it is UTF-8. Each check keeps its pings and its state (new, up,
 * down, started) and a start/finish pair sharing a rid gets a duration.
 */
import * as crypto from "node:crypto"
import * as http from "node:http"
import type { AddressInfo } from "node:net"

export type PingKind = "success" | "start" | "fail" | "log"

export interface Ping {
  readonly kind: PingKind
  readonly exitStatus: number | undefined
  readonly method: string
  readonly rid: string | undefined
  /** The body as stored: at most the limit. */
  readonly body: Buffer
  /** The body as text, when it is valid UTF-8. */
  readonly text: string | undefined
  /** For a success or fail that closes a start with the same rid (or no rid), within 72 h. */
  readonly durationMs: number | undefined
  readonly userAgent: string | undefined
  readonly at: Date
}

export interface Check {
  status: "new" | "up" | "down"
  /** A start ping is waiting for its success or fail. */
  started: boolean
  readonly pings: Array<Ping>
}

export interface RecordedRequest {
  readonly method: string
  readonly url: string
  readonly headers: http.IncomingHttpHeaders
  readonly body: Buffer
}

export interface HealthchecksServer {
  /** `http://127.0.0.1:<port>/ping/` */
  readonly pingBase: string
  readonly checks: Map<string, Check>
  readonly requests: Array<RecordedRequest>
  /** PING_BODY_LIMIT: 10 000 bytes by default (self-hosted); undefined means no limit and no header. */
  bodyLimit: number | undefined
  /** A new check; its ping URL is `pingBase + uuid`. */
  readonly createCheck: () => { readonly uuid: string; readonly pingUrl: string }
  readonly close: () => Promise<void>
}

// Django's <uuid:…> converter: lowercase only
const uuidPath = "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
const pingPath = new RegExp(`^/ping/(${uuidPath})(?:/(start|fail|log|\\d+))?$`)
// hc's is_valid_uuid_string: a canonical UUID, either case
const validRid = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/

const maxRunMs = 72 * 3600_000

const utf8Text = (bytes: Buffer): string | undefined => {
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(bytes)
  } catch {
    return undefined
  }
}

export const startHealthchecks = async (): Promise<HealthchecksServer> => {
  const checks = new Map<string, Check>()
  const requests: Array<RecordedRequest> = []
  /** Start times per check and rid ("" for none), to pair finishes with. */
  const starts = new Map<string, Map<string, number>>()

  const handle = (request: http.IncomingMessage, body: Buffer, response: http.ServerResponse) => {
    const method = request.method ?? "GET"
    requests.push({ method, url: request.url ?? "/", headers: request.headers, body })
    const reply = (status: number, text: string) => {
      const headers: Record<string, string> = { "Content-Type": "text/plain; charset=utf-8", "Access-Control-Allow-Origin": "*" }
      if (status === 200 && state.bodyLimit !== undefined) headers["Ping-Body-Limit"] = String(state.bodyLimit)
      response.writeHead(status, headers)
      response.end(text)
    }
    const target = new URL(request.url ?? "/", "http://localhost")
    const match = pingPath.exec(target.pathname)
    if (match === null) return reply(404, "not found")
    if (!["HEAD", "GET", "POST"].includes(method)) return reply(405, "method not allowed")
    const [, uuid, suffix] = match
    const check = checks.get(uuid!)
    if (check === undefined) return reply(404, "not found")

    let kind: PingKind = suffix === "start" || suffix === "fail" || suffix === "log" ? suffix : "success"
    let exitStatus: number | undefined
    if (suffix !== undefined && /^\d+$/.test(suffix)) {
      exitStatus = Number(suffix)
      if (exitStatus > 255) return reply(400, "invalid url format")
      if (exitStatus > 0) kind = "fail"
    }
    const rid = target.searchParams.get("rid") ?? undefined
    if (rid !== undefined && !validRid.test(rid)) return reply(400, "invalid uuid format")

    const now = Date.now()
    const stored = state.bodyLimit === undefined ? body : body.subarray(0, state.bodyLimit)
    const runKey = rid?.toLowerCase() ?? ""
    const checkStarts = starts.get(uuid!) ?? new Map<string, number>()
    starts.set(uuid!, checkStarts)
    let durationMs: number | undefined
    if (kind === "start") {
      checkStarts.set(runKey, now)
      check.started = true
    } else if (kind === "success" || kind === "fail") {
      const startedAt = checkStarts.get(runKey)
      if (startedAt !== undefined && now - startedAt < maxRunMs) durationMs = now - startedAt
      checkStarts.delete(runKey)
      check.started = checkStarts.size > 0
      check.status = kind === "success" ? "up" : "down"
    }
    check.pings.push({
      kind,
      exitStatus,
      method,
      rid,
      body: stored,
      text: utf8Text(stored),
      durationMs,
      userAgent: request.headers["user-agent"],
      at: new Date(now)
    })
    return reply(200, "OK")
  }

  const server = http.createServer((request, response) => {
    const chunks: Array<Buffer> = []
    request.on("data", (chunk: Buffer) => chunks.push(chunk))
    request.on("end", () => handle(request, Buffer.concat(chunks), response))
  })
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  const { port } = server.address() as AddressInfo
  const pingBase = `http://127.0.0.1:${port}/ping/`

  const state: HealthchecksServer = {
    pingBase,
    checks,
    requests,
    bodyLimit: 10_000,
    createCheck: () => {
      const uuid = crypto.randomUUID()
      checks.set(uuid, { status: "new", started: false, pings: [] })
      return { uuid, pingUrl: `${pingBase}${uuid}` }
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      })
  }
  return state
}
