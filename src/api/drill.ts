/**
 * A restore drill: for each service, its newest backup is fetched,
 * authenticated, decompressed and, when the service has a check command,
 * piped into it on this host (`pg_restore --list`, `tar -t`,
 * `sqlite3 /dev/stdin 'pragma integrity_check'`; exit 0 = good). A service
 * whose newest backup is older than the threshold fails as stale, and each
 * failure goes to the alert sinks as a Warning. It needs the private key,
 * so it runs on a machine that has it, not on the backup host.
 */
import { Clock, Effect } from "effect"
import { Alerts } from "../alert/Alerts.ts"
import { formatDuration } from "../domain/duration.ts"
import { parseBackupId } from "../domain/names.ts"
import type { Warning } from "../domain/Warning.ts"
import type { DecryptionKeys } from "../encryption/keys.ts"
import { Storage } from "../storage/Storage.ts"
import { restoreToHostCommand } from "./restoreTo.ts"
import { latestBackup, type Verification, verifyBackup } from "./verify.ts"

export interface DrillOptions {
  /** The services to drill; default: every service in storage. */
  readonly services?: ReadonlyArray<string> | undefined
  /** Check commands per service (config `drill.checks`). */
  readonly checks?: Readonly<Record<string, ReadonlyArray<string>>> | undefined
  /** A check command for every service drilled, instead of `checks`. */
  readonly checkCommand?: ReadonlyArray<string> | undefined
  /** A newest backup older than this fails the drill; default 26 h. */
  readonly staleAfterMs?: number | undefined
}

export const defaultStaleAfterMs = 26 * 3600_000

export interface DrillResult {
  readonly service: string
  readonly ok: boolean
  /** The newest backup; undefined when the service has none (or storage could not list it). */
  readonly backupId: string | undefined
  /** When it was made (from its ID, else the object's time). */
  readonly backupTime: Date | undefined
  readonly ageMs: number | undefined
  readonly stale: boolean
  readonly verification: Verification | undefined
  /** The check command it was piped into, if any. */
  readonly check: ReadonlyArray<string> | undefined
  /** What went wrong, for a person; undefined when ok. */
  readonly problem: string | undefined
}

/** An age as people say it: `26h 5m`, `3d 2h`; under an hour as formatDuration does. */
export const formatAge = (ms: number): string => {
  const minutes = Math.floor(ms / 60_000)
  const hours = Math.floor(minutes / 60)
  const days = Math.floor(hours / 24)
  if (days >= 2) return `${days}d ${hours % 24}h`
  if (hours >= 1) return `${hours}h ${minutes % 60}m`
  return formatDuration(ms)
}

/** The result for a service whose newest backup could not even be found. */
const notFound = (service: string, check: ReadonlyArray<string> | undefined, problem: string): DrillResult => ({
  service,
  ok: false,
  backupId: undefined,
  backupTime: undefined,
  ageMs: undefined,
  stale: false,
  verification: undefined,
  check,
  problem
})

const drillService = (service: string, keys: DecryptionKeys, options: DrillOptions) =>
  Effect.gen(function*() {
    const check = options.checkCommand ?? options.checks?.[service]
    const staleAfterMs = options.staleAfterMs ?? defaultStaleAfterMs
    const newest = yield* Effect.result(latestBackup(service))
    if (newest._tag === "Failure") return notFound(service, check, newest.failure.message)
    const backup = newest.success
    const backupTime = parseBackupId(backup.id)?.time ?? backup.modified
    const ageMs = Math.max(0, (yield* Clock.currentTimeMillis) - backupTime.getTime())
    const stale = ageMs > staleAfterMs
    const found = { service, check, backupId: backup.id, backupTime, ageMs, stale, verification: undefined }
    const verified = yield* Effect.result(
      verifyBackup(backup.id, keys, check === undefined ? undefined : (plaintext) =>
        // a check may stop reading once it has seen enough; the rest is still authenticated to its end
        restoreToHostCommand(check, plaintext, { output: "discard", mayStopReading: true }))
    )
    if (verified._tag === "Failure") return { ...found, ok: false, problem: verified.failure.message } satisfies DrillResult
    const problem = stale
      ? `the newest backup is ${formatAge(ageMs)} old (stale after ${formatAge(staleAfterMs)})`
      : undefined
    return { ...found, ok: !stale, verification: verified.success, problem } satisfies DrillResult
  })

/** What a drill reports when it cannot even list the services. */
export const allServices = "(all services)"

/**
 * Drills each service in turn (one download at a time: a drill must not
 * swamp the link the backups use). By default the services are those in
 * storage and those with a check in `checks`, so that a service whose
 * backups all vanished fails rather than drops out of the drill.
 */
export const drill = (keys: DecryptionKeys, options: DrillOptions = {}) =>
  Effect.gen(function*() {
    let services = options.services
    if (services === undefined) {
      const storage = yield* Storage
      const listed = yield* Effect.result(storage.listServices)
      if (listed._tag === "Failure") {
        return [notFound(allServices, undefined, `cannot list the services in ${storage.location}: ${listed.failure.message}`)]
      }
      services = [...new Set([...listed.success, ...Object.keys(options.checks ?? {})])].sort()
    }
    return yield* Effect.forEach(services, (service) => drillService(service, keys, options))
  })

/** The warning a failed drill result raises. */
export const drillWarning = (result: DrillResult): Warning | undefined =>
  result.ok ? undefined : {
    kind: result.stale && result.verification !== undefined ? "Stale" : "DrillFailed",
    service: result.service,
    backupId: result.backupId,
    message: result.backupId === undefined
      ? `restore drill: ${result.problem}`
      : `restore drill of ${result.backupId}: ${result.problem}`,
    figures: result.ageMs === undefined ? {} : { age_seconds: Math.round(result.ageMs / 1000) }
  }

/** Sends a Warning for each failed result through the alert sinks; true when every sink took every one. */
export const reportDrill = (results: ReadonlyArray<DrillResult>) =>
  Effect.gen(function*() {
    const alerts = yield* Alerts
    const warnings = results.flatMap((result) => drillWarning(result) ?? [])
    const delivered = (yield* Effect.forEach(warnings, (warning) => alerts.warning(warning))).every(Boolean)
    if (!delivered) yield* Effect.logError("restore drill: not every failure reached every alert sink (see above)")
    return delivered
  })
