/**
 * The per-service and per-run state behind the metrics: what a run of
 * several replicas and a partial run (targets with their own schedules) do.
 */
import { Effect } from "effect"
import { describe, expect, it } from "vitest"
import type { Outcome } from "../../src/domain/Outcome.ts"
import { makeMetrics } from "../../src/metrics/layer.ts"
import { DestinationsFailed } from "../../src/pipeline/backup.ts"
import { failedOutcome, runReport, storedOutcome } from "../harness/alerts.ts"

const sampleOf = (text: string, name: string, service?: string): number | undefined => {
  const selector = service === undefined ? name : `${name}{service="${service}"}`
  const line = text.split("\n").find((candidate) => candidate.startsWith(`${selector} `))
  return line === undefined ? undefined : Number(line.slice(selector.length + 1))
}

describe("metrics state", () => {
  it("a replica failing after another was stored takes the service's last success back", () => {
    const metrics = makeMetrics()
    const day1 = new Date("2026-03-10T01:00:00Z")
    const day2 = new Date("2026-03-11T01:00:00Z")
    const text = Effect.runSync(Effect.gen(function*() {
      yield* metrics.recordOutcome(storedOutcome("db"), day1)
      yield* metrics.recordRun(runReport([storedOutcome("db")]), true)
      // the next run: replica 1 stored, replica 2 failed
      yield* metrics.recordOutcome(storedOutcome("db"), day2)
      yield* metrics.recordOutcome(failedOutcome("db", "boom"), day2)
      yield* metrics.recordRun(runReport([storedOutcome("db"), failedOutcome("db", "boom")]), true)
      return yield* metrics.render
    }))
    expect(sampleOf(text, "ubackup_last_success_timestamp_seconds", "db")).toBe(day1.getTime() / 1000)
    expect(sampleOf(text, "ubackup_last_run_success", "db")).toBe(0)
    expect(sampleOf(text, "ubackup_last_run_failed_targets")).toBe(1)
  })

  it("a partial run updates its services but leaves the run gauges to whole runs", () => {
    const metrics = makeMetrics()
    const text = Effect.runSync(Effect.gen(function*() {
      yield* metrics.recordOutcome(failedOutcome("daily", "boom"), new Date())
      yield* metrics.recordRun(runReport([failedOutcome("daily", "boom")]), true)
      yield* metrics.recordOutcome(storedOutcome("hourly"), new Date())
      yield* metrics.recordRun(runReport([storedOutcome("hourly")]), false)
      yield* metrics.recordOutcome(storedOutcome("hourly"), new Date())
      yield* metrics.recordRun(runReport([storedOutcome("hourly")]), false)
      return yield* metrics.render
    }))
    expect(sampleOf(text, "ubackup_last_run_failed_targets")).toBe(1)
    expect(sampleOf(text, "ubackup_last_run_targets")).toBe(1)
    expect(sampleOf(text, "ubackup_last_run_success", "hourly")).toBe(1)
    // each partial run starts the service's sums afresh
    expect(sampleOf(text, "ubackup_backup_bytes_in", "hourly")).toBe(10_000)
  })

  it("several destinations: a gauge per service and destination, 0 for the one a backup did not reach", () => {
    const metrics = makeMetrics()
    const day1 = new Date("2026-03-10T01:00:00Z")
    const day2 = new Date("2026-03-11T01:00:00Z")
    const both: Outcome = {
      ...storedOutcome("db"),
      result: {
        _tag: "Stored",
        backup: {
          id: "db/x", size: 1, modified: day1, bytesIn: 1, durationMs: 1,
          copies: [{ destination: "nas", id: "db/x", size: 1 }, { destination: "offsite", id: "db/x", size: 1 }]
        }
      }
    }
    const failure = new DestinationsFailed({ service: "db", stored: [{ destination: "nas", id: "db/y" }], failed: [{ destination: "offsite", error: "down" }] })
    const partly: Outcome = { ...storedOutcome("db"), result: { _tag: "Failed", error: failure.message, failure } }
    const text = Effect.runSync(Effect.gen(function*() {
      yield* metrics.recordOutcome(both, day1)
      yield* metrics.recordOutcome(partly, day2)
      return yield* metrics.render
    }))
    const line = (name: string, destination: string) =>
      text.split("\n").find((candidate) => candidate.startsWith(`${name}{service="db",destination="${destination}"} `))?.split(" ")[1]
    expect([line("ubackup_destination_last_success", "nas"), line("ubackup_destination_last_success", "offsite")]).toEqual(["1", "0"])
    expect(line("ubackup_destination_last_success_timestamp_seconds", "nas")).toBe(String(day2.getTime() / 1000))
    expect(line("ubackup_destination_last_success_timestamp_seconds", "offsite")).toBe(String(day1.getTime() / 1000))
    // a config with one destination has none of these
    expect(Effect.runSync(Effect.andThen(makeMetrics().recordOutcome(storedOutcome("db"), day1), makeMetrics().render))).not.toContain("destination")
  })
})
