/**
 * What `config validate` (and the scheduler at start) warns about without
 * refusing: a config that works, but gives a secret away. Over plain
 * `http://` to another host, a URL whose path is a credential (a
 * Healthchecks UUID, an Uptime Kuma token, lambda-alertmanager's API
 * Gateway ID), a bearer token or a webhook's headers can be read by anyone
 * on the way.
 */
import { Redacted } from "effect"
import type { ConfigIssue } from "./errors.ts"
import type { Config } from "./schema.ts"

const loopback = (host: string) => host === "localhost" || host.endsWith(".localhost") || /^127\./.test(host) || host === "[::1]"

/** True for an `http://` URL to a host other than this one's loopback. */
const plainToElsewhere = (url: string): boolean => {
  try {
    const parsed = new URL(url)
    return parsed.protocol === "http:" && !loopback(parsed.hostname)
  } catch {
    return false
  }
}

const why = "is plain http:// to another host: use https://, or anyone on the network path can read"

export const configWarnings = (config: Config): ReadonlyArray<ConfigIssue> => {
  const warnings: Array<ConfigIssue> = []
  const check = (path: string, url: string, what: string) => {
    if (plainToElsewhere(url)) warnings.push({ path, message: `${why} ${what}` })
  }
  if (config.alertmanager !== undefined) check("alertmanager.baseurl", Redacted.value(config.alertmanager.baseurl), "the URL, which is itself the secret")
  const alerts = config.alerts
  if (alerts?.healthchecks !== undefined) check("alerts.healthchecks.url", Redacted.value(alerts.healthchecks.url), "the check's ping URL, which is its secret")
  if (alerts?.uptimeKuma !== undefined) check("alerts.uptime_kuma.push_url", Redacted.value(alerts.uptimeKuma.pushUrl), "the push token in the URL")
  if (alerts?.ntfy?.token !== undefined) check("alerts.ntfy.url", alerts.ntfy.url, "the access token (alerts.ntfy.token)")
  if (alerts?.prometheusAlertmanager !== undefined && /^https?:\/\/[^/]*@/.test(alerts.prometheusAlertmanager.url)) {
    check("alerts.prometheus_alertmanager.url", alerts.prometheusAlertmanager.url, "the credentials in the URL")
  }
  for (const [index, webhook] of (alerts?.webhooks ?? []).entries()) {
    const headers = Object.keys(webhook.headers ?? {}).length > 0
    check(`alerts.webhooks[${index}].url`, Redacted.value(webhook.url), headers ? "the URL and its headers (tokens)" : "the URL, which may be a secret")
  }
  return warnings
}
