/** The config's `alertmanager` (µbackup's) and `alerts` (every other sink) sections. */
import { Schema } from "effect"
import { isTtlSpec } from "./ttl.ts"

const HttpUrl = Schema.String.check(Schema.makeFilter((url: string) => /^https?:\/\/\S+$/.test(url) || "Expected an http:// or https:// URL"))

/** A URL that carries a secret (a token, a check's UUID, an API Gateway ID): never printed. */
const SecretUrl = Schema.RedactedFromValue(HttpUrl)

/** lambda-alertmanager, as µbackup spoke to it. `baseurl` is itself the secret, so it is redacted. */
export const AlertmanagerConfig = Schema.Struct({
  baseurl: SecretUrl,
  /** The dead man's switch deadline, in lambda-alertmanager's grammar (`+25h`, `+1d@02:00`, RFC 3339). */
  deadmansswitchTtl: Schema.optionalKey(Schema.String.check(
    Schema.makeFilter((spec: string) => isTtlSpec(spec) || "Expected a ttl such as +25h, +1d@02:00 or an RFC 3339 time")
  ))
}).pipe(Schema.encodeKeys({ deadmansswitchTtl: "deadmansswitch_ttl" }))

export const AlertSinksConfig = Schema.Struct({
  /** Prometheus Alertmanager v2: a failed target fires an alert, its next success resolves it. */
  prometheusAlertmanager: Schema.optionalKey(Schema.Struct({
    url: HttpUrl,
    /** Extra labels on every alert, e.g. `{"team": "ops"}`. */
    labels: Schema.optionalKey(Schema.Record(Schema.String, Schema.String).check(Schema.makeFilter((labels: Record<string, string>) => {
      // Alertmanager refuses other label names with a 400, at the first failure
      const bad = Object.keys(labels).find((name) => !/^[a-zA-Z_][a-zA-Z0-9_]*$/.test(name))
      return bad === undefined || `"${bad}" is not a Prometheus label name ([a-zA-Z_][a-zA-Z0-9_]*)`
    })))
  })),
  /** A Healthchecks check's ping URL: start, then success or fail with a log tail. */
  healthchecks: Schema.optionalKey(Schema.Struct({ url: SecretUrl })),
  /** An ntfy topic URL (`https://ntfy.sh/mytopic`); a message per failed target. */
  ntfy: Schema.optionalKey(Schema.Struct({
    url: HttpUrl,
    token: Schema.optionalKey(Schema.RedactedFromValue(Schema.String.check(Schema.isNonEmpty())))
  })),
  /** An Uptime Kuma push monitor URL (`https://kuma/api/push/<token>`): up or down after each run. */
  uptimeKuma: Schema.optionalKey(Schema.Struct({ pushUrl: SecretUrl }).pipe(Schema.encodeKeys({ pushUrl: "push_url" }))),
  /** JSON webhooks: backup_failed, backup_stored and run_finished events. */
  webhooks: Schema.optionalKey(Schema.Array(Schema.Struct({
    url: SecretUrl,
    headers: Schema.optionalKey(Schema.Record(Schema.String, Schema.RedactedFromValue(Schema.String)))
  })))
}).pipe(Schema.encodeKeys({ prometheusAlertmanager: "prometheus_alertmanager", uptimeKuma: "uptime_kuma" }))

/** The part of the config the alert sinks read. */
export interface AlertsConfig {
  readonly alertmanager?: typeof AlertmanagerConfig.Type
  readonly alerts?: typeof AlertSinksConfig.Type
}
