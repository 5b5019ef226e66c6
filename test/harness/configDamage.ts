/**
 * Configs damaged in a single field, for the config property tests
 * (test/config/property.test.ts through the loader,
 * test/cli/configProperty.test.ts through `bin/ubackup config validate`):
 * two valid starting points that hold every field of the schema (one with
 * local storage, as `ubackup init` writes it and then some, one with S3),
 * and fast-check's choice of a field and its damage: a wrong-typed or
 * out-of-range value at any depth, a required key removed, an unknown key
 * added.
 */
import fc from "fast-check"
import { parseCalendarSpan } from "../../src/retention/policy.ts"
import { isTtlSpec } from "../../src/alert/ttl.ts"
import { parseDuration } from "../../src/domain/duration.ts"
import { parseRate, parseSize } from "../../src/domain/size.ts"
import { generateSecret, x25519Identity } from "../../src/encryption/age/x25519.ts"
import { isFileExtension, isSafeName } from "../../src/domain/names.ts"
import { isCron, isTimeZone } from "../../src/domain/cron.ts"

export type Json = null | boolean | number | string | ReadonlyArray<Json> | { readonly [key: string]: Json }

export const recipient = x25519Identity(generateSecret()).recipient

/** What `ubackup init` writes, plus every other top-level and nested option the schema has (local storage). */
export const localBase = {
  encryption_publickey: "",
  encryption_recipients: [recipient],
  compression: "zstd",
  storage: { local: { path: "backups" } },
  docker_endpoint: "unix:///var/run/docker.sock",
  static_targets: [
    { service_name: "someapp", backup_command: ["cat", "/var/lib/someapp/file.db"], file_extension: ".db" },
    { service_name: "postgres", backup_command: ["pg_dumpall", "-U", "postgres"] }
  ],
  concurrency: 2,
  target_timeout: "2h",
  max_backup_bytes: "100GiB",
  bandwidth_limit: "20MiB/s",
  container_filter: { labels: { "backup.allowed": "true" }, names: ["db-*", "app-?"] },
  abort_incomplete_uploads_after: "24h",
  alertmanager: { baseurl: "https://example.com/alertmanager", deadmansswitch_ttl: "+25h" },
  alerts: {
    prometheus_alertmanager: { url: "http://127.0.0.1:9093", labels: { team: "ops" } },
    healthchecks: { url: "https://hc-ping.com/check-uuid" },
    ntfy: { url: "https://ntfy.sh/topic", token: "tk_token" },
    uptime_kuma: { push_url: "https://kuma.example.com/api/push/token" },
    webhooks: [{ url: "https://example.com/hooks/backups", headers: { Authorization: "Bearer token" } }]
  },
  schedule: "0 1 * * *",
  schedule_timezone: "Europe/Helsinki",
  metrics_listen: "127.0.0.1:9876",
  metrics_textfile: "/var/lib/prometheus/node-exporter/ubackup.prom",
  // two rules per policy: one damaged field never leaves a policy empty (that is refused at the policy, not the field)
  retention: {
    keep_daily: 7,
    keep_weekly: 4,
    keep_monthly: 12,
    keep_yearly: -1,
    keep_last: 3,
    keep_hourly: 24,
    keep_within: "30d",
    services: { postgres: { keep_last: 48, keep_within: "1y2m" } },
    prune_after_run: false
  }
} satisfies Json

/** Every S3 option. */
export const s3Base = {
  encryption_recipients: [recipient],
  max_backup_bytes: 1_000_000,
  storage: {
    s3: {
      bucket: "my-bucket",
      bucket_region: "eu-west-1",
      access_key_id: "AKIAEXAMPLE",
      access_key_secret: "secret-value",
      endpoint: "https://s3.example.com",
      force_path_style: true,
      part_size_mb: 8,
      parts_in_flight: 2,
      acl: "bucket-owner-full-control",
      request_timeout: "60s",
      storage_class: "STANDARD_IA",
      object_lock: { mode: "governance", days: 30 }
    }
  }
} satisfies Json

type Kind =
  | "object" | "record" | "promLabels" | "array" | "nonEmptyArray"
  | "string" | "nonEmpty" | "url" | "duration" | "size" | "boolean" | "concurrency" | "partSize" | "partsInFlight"
  | "compression" | "acl" | "dockerEndpoint" | "serviceName" | "fileExtension" | "ttl" | "cron" | "timeZone" | "listen" | "promFile"
  | "keepCount" | "span" | "storageClass" | "lockMode" | "lockDays" | "rate"

/**
 * What each field must be, by its path with indices as `[]` and record keys
 * as `.*`. Every field of the bases must be here (checked below), so a new
 * schema field in a base is not silently left out of the fuzzing.
 */
const kinds: Record<string, Kind> = {
  "": "object",
  encryption_publickey: "string",
  encryption_recipients: "array",
  "encryption_recipients[]": "string",
  compression: "compression",
  storage: "object",
  "storage.local": "object",
  "storage.local.path": "nonEmpty",
  "storage.s3": "object",
  "storage.s3.bucket": "nonEmpty",
  "storage.s3.bucket_region": "nonEmpty",
  "storage.s3.access_key_id": "nonEmpty",
  "storage.s3.access_key_secret": "nonEmpty",
  "storage.s3.endpoint": "url",
  "storage.s3.force_path_style": "boolean",
  "storage.s3.part_size_mb": "partSize",
  "storage.s3.parts_in_flight": "partsInFlight",
  "storage.s3.acl": "acl",
  "storage.s3.request_timeout": "duration",
  "storage.s3.storage_class": "storageClass",
  "storage.s3.object_lock": "object",
  "storage.s3.object_lock.mode": "lockMode",
  "storage.s3.object_lock.days": "lockDays",
  docker_endpoint: "dockerEndpoint",
  static_targets: "array",
  "static_targets[]": "object",
  "static_targets[].service_name": "serviceName",
  "static_targets[].backup_command": "nonEmptyArray",
  "static_targets[].backup_command[]": "string",
  "static_targets[].file_extension": "fileExtension",
  concurrency: "concurrency",
  target_timeout: "duration",
  max_backup_bytes: "size",
  bandwidth_limit: "rate",
  container_filter: "object",
  "container_filter.labels": "record",
  "container_filter.labels.*": "string",
  "container_filter.names": "nonEmptyArray",
  "container_filter.names[]": "nonEmpty",
  abort_incomplete_uploads_after: "duration",
  alertmanager: "object",
  "alertmanager.baseurl": "url",
  "alertmanager.deadmansswitch_ttl": "ttl",
  alerts: "object",
  "alerts.prometheus_alertmanager": "object",
  "alerts.prometheus_alertmanager.url": "url",
  "alerts.prometheus_alertmanager.labels": "promLabels",
  "alerts.prometheus_alertmanager.labels.*": "string",
  "alerts.healthchecks": "object",
  "alerts.healthchecks.url": "url",
  "alerts.ntfy": "object",
  "alerts.ntfy.url": "url",
  "alerts.ntfy.token": "nonEmpty",
  "alerts.uptime_kuma": "object",
  "alerts.uptime_kuma.push_url": "url",
  "alerts.webhooks": "array",
  "alerts.webhooks[]": "object",
  "alerts.webhooks[].url": "url",
  "alerts.webhooks[].headers": "record",
  "alerts.webhooks[].headers.*": "string",
  schedule: "cron",
  schedule_timezone: "timeZone",
  metrics_listen: "listen",
  metrics_textfile: "promFile",
  retention: "object",
  "retention.keep_last": "keepCount",
  "retention.keep_hourly": "keepCount",
  "retention.keep_daily": "keepCount",
  "retention.keep_weekly": "keepCount",
  "retention.keep_monthly": "keepCount",
  "retention.keep_yearly": "keepCount",
  "retention.keep_within": "span",
  "retention.services": "record",
  "retention.services.*": "object",
  "retention.services.*.keep_last": "keepCount",
  "retention.services.*.keep_within": "span",
  "retention.prune_after_run": "boolean"
}

/** Keys without which the config (or the object holding them) does not decode. */
const required = new Set([
  "storage",
  "storage.s3.object_lock.mode",
  "storage.s3.object_lock.days",
  "storage.local.path",
  "storage.s3.bucket",
  "static_targets[].service_name",
  "static_targets[].backup_command",
  "alertmanager.baseurl",
  "alerts.prometheus_alertmanager.url",
  "alerts.healthchecks.url",
  "alerts.ntfy.url",
  "alerts.uptime_kuma.push_url",
  "alerts.webhooks[].url"
])

type Segment = string | number

/** The project's notation (src/config/load.ts): `a.b[0].c`. */
const formatPath = (segments: ReadonlyArray<Segment>): string =>
  segments.map((s, i) => (typeof s === "number" ? `[${s}]` : `${i === 0 ? "" : "."}${s}`)).join("")

const patternOf = (segments: ReadonlyArray<Segment>): string => {
  const parent = segments.slice(0, -1)
  const last = segments.at(-1)
  if (last === undefined) return ""
  const head = parent.length === 0 ? "" : patternOf(parent)
  if (typeof last === "number") return `${head}[]`
  // a record's keys are the user's: one pattern for all of them
  const recordParent = kinds[head]
  const name = recordParent === "record" || recordParent === "promLabels" ? "*" : last
  return head === "" ? name : `${head}.${name}`
}

interface Site {
  readonly segments: ReadonlyArray<Segment>
  readonly path: string
  readonly kind: Kind
}

export const sitesOf = (value: Json, segments: ReadonlyArray<Segment> = []): Array<Site> => {
  const pattern = patternOf(segments)
  const kind = kinds[pattern]
  if (kind === undefined) throw new Error(`no kind for ${pattern}: add it to the table`)
  const here: Site = { segments, path: formatPath(segments), kind }
  if (Array.isArray(value)) return [here, ...value.flatMap((v: Json, i) => sitesOf(v, [...segments, i]))]
  if (value !== null && typeof value === "object") {
    return [here, ...Object.entries(value).flatMap(([k, v]) => sitesOf(v, [...segments, k]))]
  }
  return [here]
}

const isPlainObject = (v: unknown): v is Record<string, Json> => v !== null && typeof v === "object" && !Array.isArray(v)

// any JSON value of another type than the field's: fast-check's jsonValue, filtered
const json = fc.jsonValue({ maxDepth: 2 }) as fc.Arbitrary<Json>
const notString = json.filter((v) => typeof v !== "string")
const notNumber = json.filter((v) => typeof v !== "number")
const notBoolean = json.filter((v) => typeof v !== "boolean")
const notArray = json.filter((v) => !Array.isArray(v))
const notObject = json.filter((v) => !isPlainObject(v))
/** Strings a field's own check refuses: random ones, and the near-misses people write. */
const badString = (accepts: (s: string) => boolean, nearMisses: ReadonlyArray<string>) =>
  fc.oneof(fc.constantFrom(...nearMisses), fc.string({ maxLength: 30 }).filter((s) => !accepts(s)))
const number = fc.oneof(fc.integer({ min: -1_000_000, max: 1_000_000 }), fc.double({ noNaN: true, noDefaultInfinity: true }))

const wrong: Record<Kind, fc.Arbitrary<Json>> = {
  object: notObject,
  record: fc.oneof(notObject, fc.record({ key: fc.constantFrom("a", "team", "x-y"), value: notString }).map(({ key, value }) => ({ [key]: value }))),
  promLabels: fc.oneof(notObject, fc.constantFrom({ "bad-name": "x" }, { "0abc": "y" }, { "a.b": "z" }, { team: 5 })),
  array: notArray,
  nonEmptyArray: fc.oneof(notArray, fc.constant([])),
  string: notString,
  nonEmpty: fc.oneof(notString, fc.constant("")),
  url: fc.oneof(notString, badString((s) => /^https?:\/\/\S+$/.test(s), ["", "ntfy.sh/topic", "ftp://example.com", "http://", "https:// x", "mailto:a@b"])),
  duration: fc.oneof(notString, badString((s) => parseDuration(s) !== undefined, ["soon", "-5m", "", "0s", "0", "5 minutes", "1h-30m", "1.5.2h", "1y", "P1D"])),
  size: fc.oneof(
    json.filter((v) => typeof v !== "number" && typeof v !== "string"),
    number.filter((n) => parseSize(n) === undefined),
    badString((s) => parseSize(s) !== undefined, ["lots", "-1MB", "0", "0GiB", "10 PB", "1e9", "MB", ""])
  ),
  boolean: notBoolean,
  concurrency: fc.oneof(notNumber, fc.constantFrom(0, 65, -1, 1.5, 1e6), fc.integer().filter((n) => n < 1 || n > 64)),
  partsInFlight: fc.oneof(notNumber, fc.constantFrom(0, 17, -1, 2.5), fc.integer().filter((n) => n < 1 || n > 16)),
  partSize: fc.oneof(notNumber, fc.constantFrom(0, 4, 5121, 8.5, -8), fc.integer().filter((n) => n < 5 || n > 5120)),
  compression: fc.oneof(notString, fc.constantFrom("lzma", "ZSTD", "", "gz", "none", "xz")),
  acl: fc.oneof(notString, fc.constantFrom("everyone", "PRIVATE", "", "public")),
  dockerEndpoint: fc.oneof(notString, badString((s) => /^(unix|tcp|http|https|npipe):\/\/.+/.test(s), ["/var/run/docker.sock", "ftp://x", "unix://", ""])),
  serviceName: fc.oneof(notString, badString(isSafeName, ["", "../etc", "a/b", ".hidden", " padded", "a\\b", "x".repeat(201)])),
  fileExtension: fc.oneof(notString, badString(isFileExtension, ["sql", ".", "..sql", ".a/b", ".a b", ""])),
  ttl: fc.oneof(notString, badString(isTtlSpec, ["25h", "+", "+1d", "tomorrow", "2030-01-02"])),
  cron: fc.oneof(notString, badString(isCron, ["61 * * * *", "* * * *", "0 0 1 * * *", "@daily", ""])),
  timeZone: fc.oneof(notString, badString(isTimeZone, ["Mars/Olympus", "utc+2", "", "Europe"])),
  listen: fc.oneof(notString, fc.constantFrom("127.0.0.1:99999", "localhost", ":abc", "", "[::1]", "a b:80")),
  promFile: fc.oneof(notString, fc.constantFrom("/var/lib/node-exporter/ubackup.txt", "", "ubackup.prom.bak")),
  storageClass: fc.oneof(notString, fc.constantFrom("", "standard_ia", "GLACIER IR", "1CLASS", "A".repeat(65))),
  lockMode: fc.oneof(notString, fc.constantFrom("GOVERNANCE", "legal", "", "compliant")),
  lockDays: fc.oneof(notNumber, fc.constantFrom(0, -1, 1.5, 36_501), fc.integer().filter((n) => n < 1 || n > 36_500)),
  rate: fc.oneof(
    json.filter((v) => typeof v !== "number" && typeof v !== "string"),
    fc.constantFrom(0, -5),
    badString((s) => parseRate(s) !== undefined, ["fast", "20MiB", "20 MiB per second", "0MiB/s", "/s", "-1MB/s", ""])
  ),
  keepCount: fc.oneof(notNumber, fc.constantFrom(-2, 1.5, 1_000_001, -0.5), fc.integer().filter((n) => n < -1 || n > 1_000_000)),
  span: fc.oneof(notString, badString((s) => parseCalendarSpan(s) !== undefined, ["1w", "30 days", "", "0d", "1d1d", "-1d", "P30D", "1.5m"]))
}

/** All the key names the bases use, at any depth: an added key must be none of them to be unknown. */
const knownKeys = new Set<string>()
const collectKeys = (value: Json): void => {
  if (Array.isArray(value)) value.forEach(collectKeys)
  else if (isPlainObject(value)) {
    for (const [k, v] of Object.entries(value)) {
      knownKeys.add(k)
      collectKeys(v)
    }
  }
}
collectKeys(localBase)
collectKeys(s3Base)

const unknownKey = fc.oneof(
  fc.constantFrom("bucke", "Path", "acess_key_id", "access_key_secrett", "backupCommand", "serviceName", "retries", "storage_class", "webhook"),
  fc.stringMatching(/^[A-Za-z_][A-Za-z0-9_-]{0,15}$/)
)
  // __proto__ would set the copy's prototype, not add a key
  .filter((k) => !knownKeys.has(k) && k !== "__proto__")

export interface Damage {
  readonly what: string
  readonly base: "local" | "s3"
  readonly config: Json
  /** The field every issue must be at, or under. */
  readonly path: string
}

const setAt = (value: Json, segments: ReadonlyArray<Segment>, replacement: Json | undefined): Json => {
  const [first, ...rest] = segments
  if (first === undefined) return replacement ?? null
  if (Array.isArray(value)) {
    const copy = [...(value as ReadonlyArray<Json>)]
    copy[first as number] = setAt(copy[first as number]!, rest, replacement)
    return copy
  }
  const copy: Record<string, Json> = { ...(value as Record<string, Json>) }
  if (rest.length === 0 && replacement === undefined) delete copy[first as string]
  else copy[first as string] = setAt(copy[first as string]!, rest, replacement)
  return copy
}

const damages = (base: "local" | "s3"): fc.Arbitrary<Damage> => {
  const config = base === "local" ? localBase : s3Base
  const sites = sitesOf(config)
  const fields = sites.filter((s) => s.segments.length > 0)
  const objects = sites.filter((s) => s.kind === "object")
  const requiredSites = fields.filter((s) => required.has(patternOf(s.segments)))
  const replaced = fc.constantFrom(...fields).chain((site) =>
    wrong[site.kind].map((value): Damage => ({
      what: `${site.path} = ${JSON.stringify(value)}`,
      base,
      config: setAt(config, site.segments, value),
      path: site.path
    }))
  )
  const added = fc.record({ site: fc.constantFrom(...objects), key: unknownKey, value: json }).map(({ site, key, value }): Damage => {
    const segments = [...site.segments, key]
    return { what: `${formatPath(segments)} added`, base, config: setAt(config, segments, value), path: formatPath(segments) }
  })
  const removed = fc.constantFrom(...requiredSites).map((site): Damage => ({
    what: `${site.path} removed`,
    base,
    config: setAt(config, site.segments, undefined),
    path: site.path
  }))
  return fc.oneof({ arbitrary: replaced, weight: 6 }, { arbitrary: added, weight: 2 }, { arbitrary: removed, weight: 1 })
}

export const damageArb = fc.oneof({ arbitrary: damages("local"), weight: 3 }, { arbitrary: damages("s3"), weight: 1 })
  .map((d) => Object.assign(d, { [fc.toStringMethod]: () => `${d.base} base: ${d.what}` }))
