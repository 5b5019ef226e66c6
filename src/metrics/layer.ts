/**
 * The live `Metrics`: per-service state of the latest runs, kept in memory,
 * rendered as Prometheus text. Names follow Prometheus conventions
 * (`_seconds`, `_bytes`, `_timestamp_seconds`) and carry no sample
 * timestamps, so node_exporter's textfile collector accepts them too.
 */
import { Effect, Layer } from "effect"
import { failedOutcomes, type Outcome, type RunReport } from "../domain/Outcome.ts"
import { Metrics } from "./Metrics.ts"

interface ServiceState {
  /** The run these figures belong to: a service's first outcome in a new run starts fresh sums. */
  run: number
  lastSuccess: number | undefined
  /** lastSuccess before this run: restored when a later target of the service fails in it. */
  readonly lastSuccessBefore: number | undefined
  success: boolean
  durationMs: number
  bytesIn: number
  bytesOut: number
}

interface RunState {
  readonly finishedAt: number
  readonly targets: number
  readonly failed: number
  readonly durationMs: number
}

/** A label value as the text format wants it: \\ " and newline escaped. */
const labelValue = (value: string) => value.replaceAll("\\", "\\\\").replaceAll('"', '\\"').replaceAll("\n", "\\n")

const gauge = (name: string, help: string, samples: ReadonlyArray<readonly [string | undefined, number]>): string =>
  samples.length === 0 ? "" : [
    `# HELP ${name} ${help}`,
    `# TYPE ${name} gauge`,
    ...samples.map(([service, value]) => `${name}${service === undefined ? "" : `{service="${labelValue(service)}"}`} ${value}`)
  ].join("\n") + "\n"

const seconds = (ms: number) => Math.round(ms) / 1000

/** A gauge over (service, destination) pairs. */
const destinationGauge = (name: string, help: string, samples: ReadonlyArray<readonly [string, string, number]>): string =>
  samples.length === 0 ? "" : [
    `# HELP ${name} ${help}`,
    `# TYPE ${name} gauge`,
    ...samples.map(([service, destination, value]) => `${name}{service="${labelValue(service)}",destination="${labelValue(destination)}"} ${value}`)
  ].join("\n") + "\n"

interface DestinationState {
  success: boolean
  lastSuccess: number | undefined
}

/**
 * Where an outcome's backup was stored and where not, by destination name,
 * when the config has several destinations: the copies of a stored backup,
 * or DestinationsFailed's lists. Undefined otherwise (one destination, or a
 * failure before any destination was reached).
 */
const destinationResults = (outcome: Outcome): ReadonlyArray<readonly [string, boolean]> | undefined => {
  if (outcome.result._tag === "Stored") return outcome.result.backup.copies?.map((copy) => [copy.destination, true] as const)
  const failure = outcome.result.failure as Partial<{ _tag: string; stored: ReadonlyArray<{ destination: string }>; failed: ReadonlyArray<{ destination: string }> }>
  if (failure._tag !== "DestinationsFailed") return undefined
  return [...(failure.stored ?? []).map((copy) => [copy.destination, true] as const), ...(failure.failed ?? []).map((miss) => [miss.destination, false] as const)]
}

export const makeMetrics = (): Metrics["Service"] => {
  const services = new Map<string, ServiceState>()
  /** By `service\u0000destination`. */
  const destinations = new Map<string, DestinationState>()
  // a service with several targets (Swarm replicas) adds up within one run
  let run = 0
  let lastRun: RunState | undefined

  return {
    recordOutcome: (outcome, at) =>
      Effect.sync(() => {
        const previous = services.get(outcome.service)
        const state: ServiceState = previous !== undefined && previous.run === run
          ? previous
          : {
            run,
            lastSuccess: previous?.lastSuccess,
            lastSuccessBefore: previous?.lastSuccess,
            success: true,
            durationMs: 0,
            bytesIn: 0,
            bytesOut: 0
          }
        state.durationMs += outcome.durationMs
        if (outcome.result._tag === "Stored") {
          state.bytesIn += outcome.result.backup.bytesIn
          state.bytesOut += outcome.result.backup.size
        } else {
          // one failed replica and the service's backup is not good, whatever was stored before it
          state.success = false
          state.lastSuccess = state.lastSuccessBefore
        }
        if (state.success) state.lastSuccess = at.getTime()
        services.set(outcome.service, state)
        for (const [destination, stored] of destinationResults(outcome) ?? []) {
          const key = `${outcome.service}\u0000${destination}`
          const known = destinations.get(key) ?? { success: true, lastSuccess: undefined }
          known.success = stored
          if (stored) known.lastSuccess = at.getTime()
          destinations.set(key, known)
        }
      }),
    recordRun: (report: RunReport, whole: boolean) =>
      Effect.sync(() => {
        run++
        // a run of only targets with their own schedules leaves the run-level gauges to whole runs
        if (!whole) return
        lastRun = {
          finishedAt: report.finishedAt.getTime(),
          targets: report.outcomes.length,
          failed: failedOutcomes(report.outcomes).length,
          durationMs: report.finishedAt.getTime() - report.startedAt.getTime()
        }
      }),
    render: Effect.sync(() => {
      const list = [...services].sort(([a], [b]) => a.localeCompare(b))
      const byDestination = [...destinations]
        .map(([key, state]): readonly [string, string, DestinationState] => {
          const [service = "", destination = ""] = key.split("\u0000")
          return [service, destination, state]
        })
        .sort(([a, x], [b, y]) => a.localeCompare(b) || x.localeCompare(y))
      return [
        gauge("ubackup_last_run_timestamp_seconds", "When the last run finished (Unix time).", lastRun ? [[undefined, seconds(lastRun.finishedAt)]] : []),
        gauge("ubackup_last_run_duration_seconds", "How long the last run took.", lastRun ? [[undefined, seconds(lastRun.durationMs)]] : []),
        gauge("ubackup_last_run_targets", "Targets in the last run.", lastRun ? [[undefined, lastRun.targets]] : []),
        gauge("ubackup_last_run_failed_targets", "Targets that failed in the last run.", lastRun ? [[undefined, lastRun.failed]] : []),
        gauge(
          "ubackup_last_success_timestamp_seconds",
          "When the service last had every target stored (Unix time); alert on time() minus this.",
          list.flatMap(([service, state]) => (state.lastSuccess === undefined ? [] : [[service, seconds(state.lastSuccess)] as const]))
        ),
        gauge("ubackup_last_run_success", "1 if the service's last run stored every target, else 0.", list.map(([service, state]) => [service, state.success ? 1 : 0])),
        gauge("ubackup_backup_duration_seconds", "How long the service's last backup took.", list.map(([service, state]) => [service, seconds(state.durationMs)])),
        gauge("ubackup_backup_bytes_in", "Bytes the service's last backup read (before compression).", list.map(([service, state]) => [service, state.bytesIn])),
        gauge("ubackup_backup_bytes_out", "Bytes the service's last backup stored (compressed, encrypted).", list.map(([service, state]) => [service, state.bytesOut])),
        destinationGauge(
          "ubackup_destination_last_success",
          "1 if the service's last backup reached this destination (a config with several), else 0.",
          byDestination.map(([service, destination, state]) => [service, destination, state.success ? 1 : 0])
        ),
        destinationGauge(
          "ubackup_destination_last_success_timestamp_seconds",
          "When a backup of the service last reached this destination (Unix time).",
          byDestination.flatMap(([service, destination, state]) =>
            state.lastSuccess === undefined ? [] : [[service, destination, seconds(state.lastSuccess)] as const]
          )
        )
      ].join("")
    })
  }
}

export const layer = Layer.sync(Metrics, makeMetrics)
