/**
 * An in-process lambda-alertmanager (function61/lambda-alertmanager v1.0.0,
 * `cmd/alertmanager/restapi.go`) for the tests, per docs/ALERTING.md,
 * "lambda-alertmanager: the server side":
 *
 *   POST /alerts/ingest            strict JSON; 201 stored, 204 duplicate subject or 5+ active
 *   POST /deadmansswitch/checkin   strict JSON {subject, ttl}; 200 `Check-in noted\n`, acks its alert
 *   GET  /deadmansswitch/checkin?subject=&ttl=
 *   GET  /alerts, /alerts/acknowledge?id=, /deadmansswitches
 *   POST /prometheus-alertmanager/api/v1/alerts   500 `not implemented yet`
 *
 * with Go's behaviour around it: json.Decoder with DisallowUnknownFields
 * (case-insensitive field names, null leaves a field alone, a missing
 * timestamp is Go's zero time), http.Error's `text\n` bodies, ServeMux's
 * 404 and its 301 to the cleaned path (`//alerts/ingest`), gokit's
 * MethodMux 400 for other methods. An optional stage prefix (`/prod`)
 * stands for API Gateway's. Every request is recorded raw; `respondWith`
 * makes it answer an error instead, `hang` makes it never answer.
 */
import * as crypto from "node:crypto"
import * as http from "node:http"
import type { AddressInfo } from "node:net"

// ---------------------------------------------------------------- Go time

const nsPerUnit: Record<string, number> = {
  ns: 1,
  us: 1e3,
  "\u00b5s": 1e3, // U+00B5 MICRO SIGN
  "\u03bcs": 1e3, // U+03BC GREEK SMALL LETTER MU
  ms: 1e6,
  s: 1e9,
  m: 60e9,
  h: 3600e9
}

const maxDurationNs = 9223372036854775807

/** Go's time.ParseDuration, in nanoseconds (a float: exact enough for ttl specs). Throws on bad input. */
export const parseGoDuration = (text: string): number => {
  const invalid = () => new Error(`time: invalid duration "${text}"`)
  let s = text
  let negative = false
  if (s.startsWith("-") || s.startsWith("+")) {
    negative = s.startsWith("-")
    s = s.slice(1)
  }
  if (s === "0") return 0
  if (s === "") throw invalid()
  let total = 0
  while (s !== "") {
    const number = /^(\d*)(?:\.(\d*))?/.exec(s)!
    const [consumed, whole = "", fraction] = number
    // at least one digit before or after the point (".s" is no number)
    if (whole === "" && (fraction === undefined || fraction === "")) throw invalid()
    s = s.slice(consumed.length)
    const unitLength = /^[^.0-9]*/.exec(s)![0].length
    if (unitLength === 0) throw new Error(`time: missing unit in duration "${text}"`)
    const unit = s.slice(0, unitLength)
    s = s.slice(unitLength)
    const scale = nsPerUnit[unit]
    if (scale === undefined) throw new Error(`time: unknown unit "${unit}" in duration "${text}"`)
    total += Number(`${whole || "0"}.${fraction || "0"}`) * scale
    if (total > maxDurationNs) throw invalid()
  }
  return negative ? -total : total
}

/** Go's Duration.String(): `25h0m0s`, `1.5s`, `300ms`, `0s`. */
export const formatGoDuration = (ns: number): string => {
  if (ns === 0) return "0s"
  const sign = ns < 0 ? "-" : ""
  let rest = Math.round(Math.abs(ns))
  if (rest < 1e9) {
    // below a second: the largest unit that keeps a leading digit
    const [unit, scale] = rest < 1e3 ? ["ns", 1] : rest < 1e6 ? ["\u00b5s", 1e3] : ["ms", 1e6]
    return `${sign}${trimFraction((rest / scale).toFixed(9))}${unit}`
  }
  const hours = Math.floor(rest / 3600e9)
  rest -= hours * 3600e9
  const minutes = Math.floor(rest / 60e9)
  rest -= minutes * 60e9
  const seconds = trimFraction((rest / 1e9).toFixed(9))
  return `${sign}${hours > 0 ? `${hours}h` : ""}${hours > 0 || minutes > 0 ? `${minutes}m` : ""}${seconds}s`
}

const trimFraction = (decimal: string) => decimal.replace(/\.?0+$/, "")

const rfc3339 = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:\d{2})$/

export interface GoTime {
  /** Milliseconds since the epoch. */
  readonly ms: number
  /** Nanoseconds within the millisecond, so that order and formatting stay exact. */
  readonly subMsNs: number
  /** Minutes east of UTC, as the text gave it. */
  readonly offsetMinutes: number
}

/** Days in `month` (1-12) of `year`; setUTCFullYear, because Date.UTC maps years 0-99 to 1900-1999. */
const daysIn = (year: number, month: number) => new Date(new Date(0).setUTCFullYear(year, month, 0)).getUTCDate()

/** Go's time.Parse(time.RFC3339Nano, text), or undefined when it would fail. */
export const parseRfc3339 = (text: string): GoTime | undefined => {
  const match = rfc3339.exec(text)
  if (match === null) return undefined
  const [, y, mo, d, h, mi, s, fraction = "", zone = "Z"] = match
  const [year, month, day, hour, minute, second] = [y, mo, d, h, mi, s].map(Number) as [number, number, number, number, number, number]
  if (month < 1 || month > 12 || day < 1 || day > daysIn(year, month) || hour > 23 || minute > 59 || second > 59) return undefined
  const offsetMinutes = zone === "Z" ? 0 : (zone.startsWith("-") ? -1 : 1) * (Number(zone.slice(1, 3)) * 60 + Number(zone.slice(4, 6)))
  if (zone !== "Z" && (Number(zone.slice(1, 3)) > 23 || Number(zone.slice(4, 6)) > 59)) return undefined
  const nanos = Number(fraction.padEnd(9, "0"))
  const utc = new Date(0)
  utc.setUTCFullYear(year, month - 1, day)
  utc.setUTCHours(hour, minute, second, Math.floor(nanos / 1e6))
  return { ms: utc.getTime() - offsetMinutes * 60_000, subMsNs: nanos % 1e6, offsetMinutes }
}

const pad = (n: number, width = 2) => String(n).padStart(width, "0")

/** Go's Time.Format(time.RFC3339Nano): fraction trimmed, `Z` for a zero offset. */
export const formatRfc3339Nano = (time: GoTime): string => {
  const local = new Date(time.ms + time.offsetMinutes * 60_000)
  const nanos = local.getUTCMilliseconds() * 1e6 + time.subMsNs
  const fraction = nanos === 0 ? "" : `.${pad(nanos, 9).replace(/0+$/, "")}`
  const offset = Math.abs(time.offsetMinutes)
  const zone = time.offsetMinutes === 0 ? "Z" : `${time.offsetMinutes < 0 ? "-" : "+"}${pad(Math.floor(offset / 60))}:${pad(offset % 60)}`
  return `${pad(local.getUTCFullYear(), 4)}-${pad(local.getUTCMonth() + 1)}-${pad(local.getUTCDate())}T${pad(local.getUTCHours())}:${
    pad(local.getUTCMinutes())
  }:${pad(local.getUTCSeconds())}${fraction}${zone}`
}

const goTimeOf = (date: Date): GoTime => ({ ms: date.getTime(), subMsNs: 0, offsetMinutes: 0 })
/** Go's zero time.Time, 0001-01-01T00:00:00Z: what a missing timestamp decodes to. */
const zeroTime: GoTime = { ms: new Date(0).setUTCFullYear(1, 0, 1), subMsNs: 0, offsetMinutes: 0 }

// ---------------------------------------------------------------- ttl specs

const plusDayAtStaticTime = /^\+([0-9]+)d@([0-9]{2}):([0-9]{2})$/

/**
 * lambda-alertmanager's parseTtlSpec (`cmd/alertmanager/scheduled.go`):
 * `+Nd@HH:MM` (N days from now's date, at HH:MM UTC), `+<Go duration>`, or
 * an RFC 3339 time. Throws the server's error texts.
 */
export const parseTtlSpec = (spec: string, now: Date): Date => {
  const match = plusDayAtStaticTime.exec(spec)
  if (match !== null) {
    const [, day, hour, minute] = match.map(Number) as [number, number, number, number]
    // time.Date normalises overflow (25:00, day 32) the way Date.UTC does
    const date = new Date(0)
    date.setUTCFullYear(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate() + day)
    date.setUTCHours(hour, minute, 0, 0)
    return date
  }
  if (spec.startsWith("+")) {
    let ns: number
    try {
      ns = parseGoDuration(spec.slice(1))
    } catch {
      throw new Error("duration in bad format")
    }
    return new Date(now.getTime() + Math.trunc(ns / 1e6))
  }
  const time = parseRfc3339(spec)
  if (time === undefined) throw new Error(`not in RFC3339: ${spec}`)
  return new Date(time.ms)
}

// ---------------------------------------------------------------- Go's JSON decoding

type FieldKind = "string" | "time"

interface StructSpec {
  /** For error texts: `amstate.Alert`. */
  readonly goType: string
  readonly fields: Readonly<Record<string, FieldKind>>
}

const jsonKind = (value: unknown) =>
  value === null ? "null" : Array.isArray(value) ? "array" : typeof value === "boolean" ? "bool" : typeof value

/**
 * json.Decoder.Decode into a struct with DisallowUnknownFields: field names
 * match case-insensitively, null leaves a field at its zero value, an
 * unknown field or a wrong type is an error (Go's texts).
 */
const decodeStrict = (body: Buffer, spec: StructSpec): { readonly value: Record<string, string | GoTime> } | { readonly error: string } => {
  const text = body.toString("utf8")
  if (text.trim() === "") return { error: "EOF" }
  let parsed: unknown
  try {
    parsed = JSON.parse(text)
  } catch (error) {
    return { error: `invalid character: ${(error as Error).message}` }
  }
  const value: Record<string, string | GoTime> = {}
  for (const [name, kind] of Object.entries(spec.fields)) value[name] = kind === "time" ? zeroTime : ""
  if (parsed === null) return { value }
  if (typeof parsed !== "object" || Array.isArray(parsed)) return { error: `json: cannot unmarshal ${jsonKind(parsed)} into Go value of type ${spec.goType}` }
  for (const [key, raw] of Object.entries(parsed)) {
    const name = key in spec.fields ? key : Object.keys(spec.fields).find((field) => field.toLowerCase() === key.toLowerCase())
    if (name === undefined) return { error: `json: unknown field "${key}"` }
    if (raw === null) continue
    if (spec.fields[name] === "string") {
      if (typeof raw !== "string") return { error: `json: cannot unmarshal ${jsonKind(raw)} into Go struct field ${spec.goType.split(".").pop()}.${name} of type string` }
      value[name] = raw
    } else {
      if (typeof raw !== "string") return { error: "Time.UnmarshalJSON: input is not a JSON string" }
      const time = parseRfc3339(raw)
      if (time === undefined) return { error: `parsing time ${JSON.stringify(JSON.stringify(raw))} as "\\"2006-01-02T15:04:05Z07:00\\"": cannot parse` }
      value[name] = time
    }
  }
  return { value }
}

// ---------------------------------------------------------------- the server

export interface RecordedRequest {
  readonly method: string
  /** The request target as sent: path and query, stage included. */
  readonly url: string
  readonly headers: http.IncomingHttpHeaders
  /** Header names and values as sent, in order. */
  readonly rawHeaders: ReadonlyArray<string>
  readonly body: Buffer
  readonly at: Date
}

export interface StoredAlert {
  readonly alert_key: string
  readonly subject: string
  readonly details: string
  readonly timestamp: GoTime
}

export interface ForcedResponse {
  readonly status: number
  readonly body?: string
  /** Only for this path (after the stage), e.g. `/deadmansswitch/checkin`; all paths when absent. */
  readonly path?: string
}

export interface LambdaAlertmanager {
  /** What ubackup's `alertmanager.baseurl` would be: `http://127.0.0.1:<port><stage>`. */
  readonly baseurl: string
  readonly requests: Array<RecordedRequest>
  readonly alerts: Map<string, StoredAlert>
  readonly switches: Map<string, Date>
  /** The server's clock (check-in ttls are relative to it); replace it to test deadlines. */
  now: () => Date
  /** Answer every request (or those to `path`) with this instead; undefined: behave. */
  respondWith: ForcedResponse | undefined
  /** Accept requests and never answer them. */
  hang: boolean
  /** The scheduler's minute: raise "Check-in late by …" for every expired switch (deduplicated). */
  readonly tick: (now?: Date) => void
  /** `{subject, details}` of the active alerts, oldest first. */
  readonly activeAlerts: () => ReadonlyArray<{ readonly subject: string; readonly details: string }>
  readonly close: () => Promise<void>
}

export interface LambdaAlertmanagerOptions {
  /** API Gateway's stage path, e.g. `/prod`; none by default. */
  readonly stage?: string
  /** MAX_FIRING_ALERTS; 5 by default. */
  readonly maxFiringAlerts?: number
}

/** Go's path.Clean for ServeMux, which keeps a trailing slash. */
const cleanPath = (p: string): string => {
  if (p === "") return "/"
  const parts: Array<string> = []
  for (const part of (p.startsWith("/") ? p : `/${p}`).split("/")) {
    if (part === "" || part === ".") continue
    if (part === "..") parts.pop()
    else parts.push(part)
  }
  const cleaned = `/${parts.join("/")}`
  return p.endsWith("/") && cleaned !== "/" ? `${cleaned}/` : cleaned
}

/** cryptorandombytes.Base64UrlWithoutLeadingDash(6): 8 characters of base64url, never starting with `-` (it would look like a flag). */
const newAlertId = (): string => {
  for (;;) {
    const id = crypto.randomBytes(6).toString("base64url")
    if (!id.startsWith("-")) return id
  }
}

const alertSpec: StructSpec = { goType: "amstate.Alert", fields: { alert_key: "string", subject: "string", details: "string", timestamp: "time" } }
const checkinSpec: StructSpec = { goType: "main.deadMansSwitchCheckinRequest", fields: { subject: "string", ttl: "string" } }

const readBody = (request: http.IncomingMessage): Promise<Buffer> =>
  new Promise((resolve, reject) => {
    const chunks: Array<Buffer> = []
    request.on("data", (chunk: Buffer) => chunks.push(chunk))
    request.on("end", () => resolve(Buffer.concat(chunks)))
    request.on("error", reject)
  })

const compareTime = (a: GoTime, b: GoTime) => a.ms - b.ms || a.subMsNs - b.subMsNs

export const startLambdaAlertmanager = async (options: LambdaAlertmanagerOptions = {}): Promise<LambdaAlertmanager> => {
  const stage = (options.stage ?? "").replace(/\/+$/, "")
  const maxFiring = options.maxFiringAlerts ?? 5
  const requests: Array<RecordedRequest> = []
  const alerts = new Map<string, StoredAlert>()
  const switches = new Map<string, Date>()

  /** deduplicateAndRatelimit + store: true when stored (201), false when dropped (204). */
  const ingest = (alert: Omit<StoredAlert, "alert_key">): boolean => {
    if (alerts.size >= maxFiring) return false
    if ([...alerts.values()].some((active) => active.subject === alert.subject)) return false
    const id = newAlertId()
    alerts.set(id, { alert_key: id, ...alert })
    return true
  }

  const sortedAlerts = () => [...alerts.values()].sort((a, b) => compareTime(a.timestamp, b.timestamp))

  const checkin = (subject: string, ttl: string): { status: number; text: string } => {
    if (subject === "" || ttl === "") return { status: 400, text: "subject or ttl empty" }
    let deadline: Date
    try {
      deadline = parseTtlSpec(ttl, state.now())
    } catch (error) {
      return { status: 400, text: (error as Error).message }
    }
    switches.set(subject, deadline)
    let acked = false
    for (const [id, alert] of alerts) {
      if (alert.subject === subject) {
        alerts.delete(id)
        acked = true
      }
    }
    return { status: 200, text: acked ? "Check-in noted; alert that was firing for this dead mans's switch was acked\n" : "Check-in noted\n" }
  }

  const handle = async (request: http.IncomingMessage, response: http.ServerResponse) => {
    const body = await readBody(request)
    const method = request.method ?? "GET"
    requests.push({ method, url: request.url ?? "/", headers: request.headers, rawHeaders: request.rawHeaders, body, at: new Date() })
    if (state.hang) return // never answered; closed by close()

    const text = (status: number, message: string, contentType = "text/plain; charset=utf-8") => {
      response.writeHead(status, { "Content-Type": contentType, "X-Content-Type-Options": "nosniff" })
      response.end(message)
    }
    /** http.Error: the message plus a newline. */
    const httpError = (status: number, message: string) => text(status, `${message}\n`)
    const json = (value: unknown) => text(200, `${JSON.stringify(value)}\n`, "application/json")
    const empty = (status: number) => {
      response.writeHead(status)
      response.end()
    }

    const target = new URL(request.url ?? "/", "http://localhost")
    if (stage !== "" && target.pathname !== stage && !target.pathname.startsWith(`${stage}/`)) {
      // API Gateway's answer for a path outside the stage
      return text(403, `{"message":"Missing Authentication Token"}`, "application/json")
    }
    const path = target.pathname.slice(stage.length) || "/"

    const forced = state.respondWith
    if (forced !== undefined && (forced.path === undefined || forced.path === path)) {
      return text(forced.status, forced.body ?? "")
    }

    if (!["GET", "HEAD", "POST", "PUT", "DELETE"].includes(method)) return httpError(400, `unsupported method: ${method}`)

    const cleaned = cleanPath(path)
    if (cleaned !== path) {
      // ServeMux: 301 to the cleaned path, for any method (a client then re-sends a POST as a GET)
      response.writeHead(301, { Location: `${stage}${cleaned}${target.search}` })
      return response.end()
    }

    const notFound = () => httpError(404, "404 page not found")
    const query = target.searchParams

    if (method === "GET" || method === "HEAD") {
      switch (path) {
        case "/alerts":
          return json(sortedAlerts().map((alert) => ({ ...alert, timestamp: formatRfc3339Nano(alert.timestamp) })))
        case "/alerts/acknowledge": {
          const id = query.get("id") ?? ""
          if (!alerts.delete(id)) return httpError(500, `no alert: ${id}`)
          return text(200, `Ack ok for ${id}`)
        }
        case "/deadmansswitches":
          return json(
            [...switches].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([subject, ttl]) => ({ subject, ttl: formatRfc3339Nano(goTimeOf(ttl)) }))
          )
        case "/deadmansswitch/checkin": {
          const result = checkin(query.get("subject") ?? "", query.get("ttl") ?? "")
          return result.status === 200 ? text(200, result.text) : httpError(result.status, result.text)
        }
        default:
          return notFound()
      }
    }
    if (method === "POST") {
      switch (path) {
        case "/alerts/ingest": {
          const decoded = decodeStrict(body, alertSpec)
          if ("error" in decoded) return httpError(400, `JSON parsing failed: ${decoded.error}`)
          // the client's alert_key is ignored: the server assigns one
          const stored = ingest({
            subject: decoded.value["subject"] as string,
            details: decoded.value["details"] as string,
            timestamp: decoded.value["timestamp"] as GoTime
          })
          return empty(stored ? 201 : 204)
        }
        case "/deadmansswitch/checkin": {
          const decoded = decodeStrict(body, checkinSpec)
          if ("error" in decoded) return httpError(400, `JSON parsing failed: ${decoded.error}`)
          const result = checkin(decoded.value["subject"] as string, decoded.value["ttl"] as string)
          return result.status === 200 ? text(200, result.text) : httpError(result.status, result.text)
        }
        case "/prometheus-alertmanager/api/v1/alerts":
          return httpError(500, "not implemented yet")
        default:
          return notFound()
      }
    }
    return notFound()
  }

  const server = http.createServer((request, response) => {
    handle(request, response).catch((error: unknown) => {
      if (!response.headersSent) response.writeHead(500)
      response.end(String(error))
    })
  })
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  const { port } = server.address() as AddressInfo

  const state: LambdaAlertmanager = {
    baseurl: `http://127.0.0.1:${port}${stage}`,
    requests,
    alerts,
    switches,
    now: () => new Date(),
    respondWith: undefined,
    hang: false,
    tick: (now = state.now()) => {
      for (const [subject, ttl] of switches) {
        if (now.getTime() < ttl.getTime()) continue
        ingest({
          subject,
          details: `Check-in late by ${formatGoDuration((now.getTime() - ttl.getTime()) * 1e6)} (${formatRfc3339Nano(goTimeOf(ttl))})`,
          timestamp: goTimeOf(now)
        })
      }
    },
    activeAlerts: () => sortedAlerts().map(({ subject, details }) => ({ subject, details })),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      })
  }
  return state
}
