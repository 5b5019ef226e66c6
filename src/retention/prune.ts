/**
 * Pruning: a retention policy applied to what a storage holds, then the
 * backups it does not keep deleted in one batched call.
 *
 * Backups are grouped into series before the policy applies: one per host
 * and task of a service (the ID's host name and task part), so that each
 * replica of a Swarm service, or each host backing up the same service,
 * keeps its own history and the newest backup of every series stays. Names
 * that are not backup IDs are never touched. Times come from the IDs (UTC,
 * to the minute); `now` from `Clock` (for `within`).
 */
import { Clock, Effect, Schema } from "effect"
import { compareBackupIds, parseBackupId } from "../domain/names.ts"
import type { StoredBackup } from "../domain/Outcome.ts"
import { type RemoveFailure, Storage, type StorageError } from "../storage/Storage.ts"
import { applyPolicy, describePolicy, policyProblem, type RetentionPolicy } from "./policy.ts"

export class RetentionError extends Schema.TaggedError<RetentionError>()("RetentionError", {
  /** The service whose policy is wrong, or "" for the default one. */
  service: Schema.String,
  detail: Schema.String
}) {
  override get message() {
    return `retention${this.service === "" ? "" : ` for ${this.service}`}: ${this.detail}`
  }
}

export interface PlannedBackup extends StoredBackup {
  /** The series: `<host>_<task and extension>`. */
  readonly series: string
  readonly time: Date
  /** Why it is kept (`daily`, `oldest monthly`, `within 30d`, `newest`); empty when it goes. */
  readonly reasons: ReadonlyArray<string>
}

export interface ServicePlan {
  readonly service: string
  /** The policy in words: `keep 7 daily, 4 weekly`. */
  readonly policy: string
  /** Oldest first, as `storage ls` lists them. */
  readonly keep: ReadonlyArray<PlannedBackup>
  readonly remove: ReadonlyArray<PlannedBackup>
  /** Objects of the service whose names are not backup IDs: left alone. */
  readonly ignored: ReadonlyArray<string>
}

export interface PruneResult {
  readonly dryRun: boolean
  readonly services: ReadonlyArray<ServicePlan>
  /** What was deleted (none in a dry run). */
  readonly removed: ReadonlyArray<string>
  /** What should have gone and could not (a lock, a denial), with why. */
  readonly failed: ReadonlyArray<RemoveFailure>
}

export interface PruneOptions {
  /** The services to prune; every service in the storage when empty or absent. */
  readonly services?: ReadonlyArray<string> | undefined
  /** The policy of each service (a config's default, or its per-service one). */
  readonly policyFor: (service: string) => RetentionPolicy
  /** Plan only: nothing is deleted. */
  readonly dryRun: boolean
}

/** The series a backup belongs to, or undefined for a name that is not a backup ID. */
const seriesOf = (id: string) => {
  const parsed = parseBackupId(id)
  if (parsed === undefined) return undefined
  // the compression and encryption suffixes are not part of the series: a target switched from gzip to zstd goes on
  return { time: parsed.time, series: `${parsed.hostname}_${parsed.rest.replace(/(\.(zst|gz))?\.(age|aes)$/, "")}` }
}

/** The plan for one service's backups (oldest first, as `list` gives them). */
export const planService = (service: string, backups: ReadonlyArray<StoredBackup>, policy: RetentionPolicy, now: Date): ServicePlan => {
  const ignored: Array<string> = []
  const bySeries = new Map<string, Array<PlannedBackup>>()
  for (const backup of backups) {
    const parsed = seriesOf(backup.id)
    if (parsed === undefined) {
      ignored.push(backup.id)
      continue
    }
    const planned = { ...backup, ...parsed, reasons: [] }
    const series = bySeries.get(parsed.series)
    if (series === undefined) bySeries.set(parsed.series, [planned])
    else series.push(planned)
  }
  const keep: Array<PlannedBackup> = []
  const remove: Array<PlannedBackup> = []
  for (const series of bySeries.values()) {
    // newest first; same-minute backups (~2, ~3) newest first too, as restic's stable sort wants them
    const result = applyPolicy([...series].reverse(), policy, now)
    for (const kept of result.keep) keep.push({ ...kept.item, reasons: kept.reasons })
    remove.push(...result.remove)
  }
  const oldestFirst = (a: PlannedBackup, b: PlannedBackup) => compareBackupIds(a.id, b.id)
  return { service, policy: describePolicy(policy), keep: keep.sort(oldestFirst), remove: remove.sort(oldestFirst), ignored }
}

/**
 * Plans each service (checking every policy first: a bad one stops the
 * whole prune before anything is deleted), then deletes what no rule keeps,
 * unless this is a dry run.
 */
export const prune = (options: PruneOptions): Effect.Effect<PruneResult, RetentionError | StorageError, Storage> =>
  Effect.gen(function*() {
    const storage = yield* Storage
    const services = options.services !== undefined && options.services.length > 0 ? [...options.services] : [...yield* storage.listServices]
    for (const service of services) {
      const problem = policyProblem(options.policyFor(service))
      if (problem !== undefined) return yield* new RetentionError({ service, detail: problem })
    }
    const now = new Date(yield* Clock.currentTimeMillis)
    const plans: Array<ServicePlan> = []
    for (const service of services) plans.push(planService(service, yield* storage.list(service), options.policyFor(service), now))
    const doomed = plans.flatMap((plan) => plan.remove.map((backup) => backup.id))
    if (options.dryRun || doomed.length === 0) return { dryRun: options.dryRun, services: plans, removed: [], failed: [] }
    const { removed, failed } = yield* storage.remove(doomed)
    return { dryRun: false, services: plans, removed, failed }
  })
