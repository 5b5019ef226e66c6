/**
 * The scheduler's timing with the test clock (fake targets, snapshots and
 * storage), and once in real time.
 */
import { assert, describe, it } from "@effect/vitest"
import { Duration, Effect, Fiber, Layer, Stream } from "effect"
import { TestClock } from "effect/testing"
import { Alerts } from "../../src/alert/Alerts.ts"
import type { Discovered, DockerTarget, Target } from "../../src/domain/Target.ts"
import { Targets } from "../../src/discovery/Targets.ts"
import { layer as layerMetrics } from "../../src/metrics/layer.ts"
import { runScheduler, type SchedulerOptions } from "../../src/scheduler/scheduler.ts"
import { fakeSnapshotter, memoryStorage, passthroughCodecs } from "../harness/fakes.ts"

const container = (service: string, schedule?: string): DockerTarget => ({
  _tag: "Docker",
  service,
  taskId: `${service}000000000000`.slice(0, 12),
  containerId: `${service}`.padEnd(64, "0"),
  containerName: service,
  command: { _tag: "Exec", argv: ["cat", "/x"] },
  commandText: "cat /x",
  fileExtension: "",
  timeoutMs: undefined,
  maxBytes: undefined,
  owner: "container test",
  stopDuringBackup: false,
  schedule
})

interface RecordedRun {
  readonly at: number
  /** Covers the default schedule: run-level pings and the check-in. */
  readonly whole: boolean
  /** The services backed up, sorted. */
  readonly services: Array<string>
  checkedIn: boolean
}

interface Recorder {
  readonly runs: Array<RecordedRun>
  discoveries: number
}

/** Everything the scheduler needs, all fake; each snapshot takes `took` of test time. */
const harness = (targets: ReadonlyArray<Target>, took: (target: Target) => Duration.Input = () => "1 second") => {
  const recorder: Recorder = { runs: [], discoveries: 0 }
  const discovered: Discovered = { targets, invalid: [] }
  const storage = memoryStorage()
  const layer = Layer.mergeAll(
    Layer.succeed(Targets, { discover: Effect.sync(() => void recorder.discoveries++).pipe(Effect.as(discovered)) }),
    fakeSnapshotter((target) =>
      Stream.fromEffect(Effect.sleep(took(target)).pipe(Effect.as(new TextEncoder().encode(target.service))))
    ),
    storage.layer,
    passthroughCodecs,
    layerMetrics,
    Layer.succeed(Alerts, {
      runStarted: (startedAt, whole) =>
        Effect.sync(() => void recorder.runs.push({ at: startedAt.getTime(), whole, services: [], checkedIn: false })),
      targetFailed: () => Effect.succeed(true),
      targetStored: (outcome) => Effect.sync(() => void recorder.runs.at(-1)!.services.push(outcome.service)),
      warning: () => Effect.succeed(true),
      runFinished: () => Effect.sync(() => void (recorder.runs.at(-1)!.checkedIn = true))
    })
  )
  /** Forks the scheduler on these fakes: daily at 01:00 UTC, one target at a time, no --run-now, unless `options` say otherwise. */
  const start = (options: Partial<SchedulerOptions> = {}) =>
    runScheduler({ schedule: "0 1 * * *", timeZone: "UTC", concurrency: 1, runNow: false, ...options }).pipe(
      Effect.provide(layer),
      Effect.forkChild
    )
  return { recorder, start, objects: storage.objects }
}

const at = (iso: string) => new Date(iso).getTime()

/** A recorded run's start as HH:MM (UTC). */
const hhmm = (run: RecordedRun) => new Date(run.at).toISOString().slice(11, 16)

describe("scheduler (test clock)", () => {
  it.effect("runs daily at 01:00 UTC by default, not before", () =>
    Effect.gen(function*() {
      const { recorder, start } = harness([container("db")])
      yield* TestClock.setTime(at("2026-03-10T00:30:00Z"))
      const fiber = yield* start()
      yield* TestClock.adjust("29 minutes")
      assert.strictEqual(recorder.runs.length, 0)
      yield* TestClock.adjust("2 minutes")
      assert.deepStrictEqual(recorder.runs.map((r) => new Date(r.at).toISOString()), ["2026-03-10T01:00:00.000Z"])
      yield* TestClock.adjust("1 day")
      assert.strictEqual(recorder.runs.length, 2)
      yield* Fiber.interrupt(fiber)
    }))

  it.effect("honours the schedule's time zone", () =>
    Effect.gen(function*() {
      const { recorder, start } = harness([container("db")])
      yield* TestClock.setTime(at("2026-07-01T00:00:00Z"))
      const fiber = yield* start({ schedule: "0 3 * * *", timeZone: "Europe/Helsinki" })
      yield* TestClock.adjust("3 hours") // 03:00 in Helsinki (UTC+3 in July) is 00:00 UTC: already past
      yield* TestClock.adjust("1261 minutes") // to 00:01 UTC: the run itself takes a second
      assert.deepStrictEqual(recorder.runs.map((r) => new Date(r.at).toISOString()), ["2026-07-02T00:00:00.000Z"])
      yield* Fiber.interrupt(fiber)
    }))

  it.effect("a container's ubackup.schedule overrides the default for that container only", () =>
    Effect.gen(function*() {
      const { recorder, start } = harness([container("often", "*/15 * * * *"), container("daily")])
      yield* TestClock.setTime(at("2026-03-10T00:50:00Z"))
      const fiber = yield* start()
      yield* TestClock.adjust("41 minutes")
      // only the default schedule's run checks in: a 15-minute container cannot vouch for the daily run
      assert.deepStrictEqual(recorder.runs.map((r) => [hhmm(r), r.services.sort(), r.checkedIn]), [
        ["01:00", ["daily", "often"], true],
        ["01:15", ["often"], false],
        ["01:30", ["often"], false]
      ])
      assert.deepStrictEqual(recorder.runs.map((r) => r.whole), [true, false, false])
      yield* Fiber.interrupt(fiber)
    }))

  it.effect("never two runs at once: what falls due during a long run runs once, right after it", () =>
    Effect.gen(function*() {
      // each backup takes 90 minutes; the schedule is hourly
      const { recorder, start } = harness([container("slow")], () => "90 minutes")
      yield* TestClock.setTime(at("2026-03-10T00:59:30Z"))
      const fiber = yield* start({ schedule: "0 * * * *" })
      yield* TestClock.adjust("5 hours")
      const starts = recorder.runs.map(hhmm)
      // 01:00 runs until 02:30; 02:00 fell due meanwhile: it runs at 02:31 (the next minute), until 04:01;
      // 03:00 and 04:00 fell due meanwhile: one run at 04:02, until 05:32; then 05:00's run, at 05:33
      assert.deepStrictEqual(starts, ["01:00", "02:31", "04:02", "05:33"])
      yield* Fiber.interrupt(fiber)
    }))

  it.effect("retention.prune_after_run: after each run, the services it stored are pruned by their policy", () =>
    Effect.gen(function*() {
      const { recorder, start, objects } = harness([container("db"), container("web")])
      yield* TestClock.setTime(at("2026-03-10T00:59:30Z"))
      const fiber = yield* start({
        schedule: "0 * * * *",
        pruneAfterRun: (service) => (service === "db" ? { keepLast: 2 } : { keepLast: 3 })
      })
      yield* TestClock.adjust("5 hours")
      assert.strictEqual(recorder.runs.length, 5)
      const ids = [...objects.keys()].sort()
      assert.deepStrictEqual(ids.map((id) => id.slice(0, id.indexOf("_"))), [
        "db/2026-03-10 0400Z",
        "db/2026-03-10 0500Z",
        "web/2026-03-10 0300Z",
        "web/2026-03-10 0400Z",
        "web/2026-03-10 0500Z"
      ])
      yield* Fiber.interrupt(fiber)
    }))

  it.effect("--run-now backs up everything at start", () =>
    Effect.gen(function*() {
      const { recorder, start } = harness([container("a"), container("b", "0 0 1 1 *")])
      yield* TestClock.setTime(at("2026-03-10T12:00:30Z"))
      const fiber = yield* start({ concurrency: 2, runNow: true })
      yield* TestClock.adjust("5 seconds")
      assert.deepStrictEqual(recorder.runs.map((r) => r.services.sort()), [["a", "b"]])
      yield* Fiber.interrupt(fiber)
    }))

  it.effect("a slot that passes during the --run-now run runs when it ends", () =>
    Effect.gen(function*() {
      const { recorder, start } = harness([container("db")], () => "2 minutes")
      yield* TestClock.setTime(at("2026-03-10T00:59:30Z"))
      const fiber = yield* start({ runNow: true })
      yield* TestClock.adjust("10 minutes")
      assert.deepStrictEqual(recorder.runs.map(hhmm), ["00:59", "01:02"])
      yield* Fiber.interrupt(fiber)
    }))

  it.effect("the default schedule's run happens with no targets at all: it checks in", () =>
    Effect.gen(function*() {
      const { recorder, start } = harness([])
      yield* TestClock.setTime(at("2026-03-10T00:59:30Z"))
      const fiber = yield* start()
      yield* TestClock.adjust("2 minutes")
      assert.deepStrictEqual(recorder.runs.map((r) => [hhmm(r), r.checkedIn]), [["01:00", true]])
      yield* Fiber.interrupt(fiber)
    }))

  it.effect("clocks going back: the repeated hour does not run twice", () =>
    Effect.gen(function*() {
      // New York, 2025-11-02: 01:00 EDT is 05:00Z, then 02:00 EDT becomes 01:00 EST (06:00Z)
      const { recorder, start } = harness([container("db")])
      yield* TestClock.setTime(at("2025-11-02T04:30:00Z"))
      const fiber = yield* start({ schedule: "30 1 * * *", timeZone: "America/New_York" })
      yield* TestClock.adjust("4 hours")
      assert.deepStrictEqual(recorder.runs.map((r) => new Date(r.at).toISOString()), ["2025-11-02T05:30:00.000Z"])
      yield* Fiber.interrupt(fiber)
    }))

  it.effect("clocks going forward: a time in the skipped hour runs at the jump, once", () =>
    Effect.gen(function*() {
      // New York, 2025-03-09: at 07:00Z the wall clock goes from 01:59 EST to 03:00 EDT; 02:30 never happens
      const { recorder, start } = harness([container("db")])
      yield* TestClock.setTime(at("2025-03-09T06:00:00Z"))
      const fiber = yield* start({ schedule: "30 2 * * *", timeZone: "America/New_York" })
      yield* TestClock.adjust("25 hours")
      assert.deepStrictEqual(recorder.runs.map((r) => new Date(r.at).toISOString()), [
        "2025-03-09T07:00:00.000Z",
        "2025-03-10T06:30:00.000Z"
      ])
      yield* Fiber.interrupt(fiber)
    }))

  it.effect("does not ask Docker every minute when nothing can be due", () =>
    Effect.gen(function*() {
      const { recorder, start } = harness([container("db")])
      yield* TestClock.setTime(at("2026-03-10T02:00:00Z"))
      const fiber = yield* start()
      yield* TestClock.adjust("1 hour")
      // a look every 5 minutes, for new ubackup.schedule labels, not 60
      assert.isAtMost(recorder.discoveries, 13)
      assert.isAtLeast(recorder.discoveries, 11)
      yield* Fiber.interrupt(fiber)
    }))
})

describe("scheduler (real time)", () => {
  it.live("a schedule due at the next minute fires", () =>
    Effect.gen(function*() {
      // start a few seconds before a minute boundary, with a schedule for exactly that minute
      const wait = 60_000 - (Date.now() % 60_000)
      if (wait > 8_000) yield* Effect.sleep(`${wait - 5_000} millis`)
      const next = new Date(Math.ceil(Date.now() / 60_000) * 60_000)
      const { recorder, start } = harness([container("db")], () => "10 millis")
      const fiber = yield* start({ schedule: `${next.getUTCMinutes()} ${next.getUTCHours()} * * *` })
      yield* Effect.sleep(`${next.getTime() - Date.now() + 3_000} millis`)
      assert.deepStrictEqual(recorder.runs.map((r) => new Date(r.at).toISOString().slice(0, 16)), [next.toISOString().slice(0, 16)])
      yield* Fiber.interrupt(fiber)
    }), 90_000)
})
