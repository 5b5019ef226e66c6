/**
 * `scheduler run`: the same runs as `ubackup now`, on a cron schedule.
 *
 * The scheduler wakes at every minute boundary, the resolution of cron. A
 * target is due when its own schedule (label `ubackup.schedule`) or else the
 * config's `schedule` matches that minute. Runs never overlap: minutes that
 * pass during a run are checked when it ends, and what fell due meanwhile
 * runs once, at once (logged). Targets are discovered anew for every run, so
 * label changes need no restart.
 *
 * Schedules are matched against wall-clock minutes in the schedule's time
 * zone, each wall minute once, as Vixie cron does around daylight saving
 * changes: when clocks go back, the repeated hour does not run twice; when
 * they go forward, what fell due in the skipped hour runs at the jump. A
 * system clock set back does not repeat runs either.
 */
import type { SizeDropOptions } from "../history/sizeDrop.ts"
import { Clock, Cron, Effect } from "effect"
import type { Discovered, Target } from "../domain/Target.ts"
import { Targets } from "../discovery/Targets.ts"
import { runReported } from "../pipeline/reported.ts"
import { parseCron } from "../domain/cron.ts"
import type { Outcome } from "../domain/Outcome.ts"
import type { RetentionPolicy } from "../retention/policy.ts"
import { prune } from "../retention/prune.ts"

export interface SchedulerOptions {
  /** 5-field cron, the default for every target without its own. */
  readonly schedule: string
  readonly timeZone: string
  readonly concurrency: number
  /** See `ReportedRunOptions.abandonedAfterMs`. */
  readonly abandonedAfterMs?: number | undefined
  /** See `ReportedRunOptions.sizeDrop`. */
  readonly sizeDrop?: SizeDropOptions | undefined
  /** Back up every target once at start, whatever the schedule. */
  readonly runNow: boolean
  /**
   * retention.prune_after_run: after each run, the services it stored are
   * pruned by this policy (a failure is logged; the scheduler goes on).
   */
  readonly pruneAfterRun?: ((service: string) => RetentionPolicy) | undefined
}

/** The prune after a run, of the services it stored; logged, never failing the scheduler. */
const pruneStored = (outcomes: ReadonlyArray<Outcome>, policyFor: (service: string) => RetentionPolicy) => {
  const services = [...new Set(outcomes.filter((outcome) => outcome.result._tag === "Stored").map((outcome) => outcome.service))]
  if (services.length === 0) return Effect.void
  return prune({ services, policyFor, dryRun: false }).pipe(
    Effect.flatMap((result) =>
      Effect.andThen(
        Effect.logInfo(`pruned ${services.join(", ")}: ${result.removed.length} backup(s) removed`),
        Effect.forEach(result.failed, (failure) => Effect.logWarning(`prune: could not remove ${failure.id}: ${failure.detail}`), { discard: true })
      )
    ),
    Effect.catch((error) => Effect.logError(`prune after the run failed: ${error.message}`))
  )
}

const minute = 60_000
const floorMinute = (ms: number) => ms - (ms % minute)

const wallClocks = new Map<string, Intl.DateTimeFormat>()

/**
 * The wall-clock minute in `timeZone` at the instant `ms`, as the instant
 * that wall time would be in UTC: 02:30 in Berlin becomes 02:30Z. Schedules
 * are matched against these (with crons parsed for UTC), so each wall
 * minute is one number, whatever the zone's offset does.
 */
export const wallMinute = (ms: number, timeZone: string): number => {
  let format = wallClocks.get(timeZone)
  if (format === undefined) {
    format = new Intl.DateTimeFormat("en-US", {
      timeZone,
      hourCycle: "h23",
      year: "numeric",
      month: "numeric",
      day: "numeric",
      hour: "numeric",
      minute: "numeric"
    })
    wallClocks.set(timeZone, format)
  }
  const part: Record<string, number> = {}
  for (const { type, value } of format.formatToParts(new Date(ms))) part[type] = Number(value)
  return Date.UTC(part.year!, part.month! - 1, part.day!, part.hour!, part.minute!)
}

/** How often the targets are looked at when nothing is due, to learn new `ubackup.schedule` labels. */
const refreshEvery = 5 * minute

/** A cron that matches wall minutes as `wallMinute` gives them. */
const wallCron = (text: string) => parseCron(text, "UTC")

/**
 * The targets due in any of the wall-clock minutes `walls` (see
 * `wallMinute`), each once and in discovery order. Unusable containers are
 * reported with the default schedule's runs.
 */
const dueIn = (discovered: Discovered, defaultCron: Cron.Cron, defaultDue: boolean, walls: ReadonlyArray<Date>): Discovered => {
  const isDue = (target: Target) => {
    const cron = target._tag === "Docker" && target.schedule !== undefined ? wallCron(target.schedule) : defaultCron
    return walls.some((wall) => Cron.match(cron, wall))
  }
  return { targets: discovered.targets.filter(isDue), invalid: defaultDue ? discovered.invalid : [] }
}

const hasOwnSchedules = (discovered: Discovered) =>
  discovered.targets.some((target) => target._tag === "Docker" && target.schedule !== undefined)

export const runScheduler = (options: SchedulerOptions) =>
  Effect.gen(function*() {
    const state = { running: false }
    return yield* schedulerLoop(options, state).pipe(
      Effect.onInterrupt(() =>
        Effect.logInfo(
          state.running
            ? "scheduler stopped: the run in progress was aborted; nothing partial was stored"
            : "scheduler stopped"
        )
      )
    )
  })

const schedulerLoop = (options: SchedulerOptions, state: { running: boolean }) =>
  Effect.gen(function*() {
    const targets = yield* Targets
    const defaultCron = wallCron(options.schedule)
    // only for the "next run" log line: Cron.next gives an instant
    const defaultCronInZone = parseCron(options.schedule, options.timeZone)
    const discover = targets.discover.pipe(
      Effect.tapError((error) => Effect.logError(`${error.message}; no backups this time (the dead man's switch will tell)`)),
      Effect.option
    )
    // `running` stays true when a run is interrupted: the stop message says so
    const run = (discovered: Discovered, whole: boolean) =>
      Effect.sync(() => void (state.running = true)).pipe(
        Effect.andThen(runReported(discovered, {
          concurrency: options.concurrency,
          whole,
          abandonedAfterMs: options.abandonedAfterMs,
          sizeDrop: options.sizeDrop
        })),
        Effect.tap(({ outcomes, checkInError, verdict }) =>
          Effect.andThen(
            verdict?._tag === "RunFailed"
              ? Effect.logError(`run finished: ${verdict.message}`)
              : Effect.logInfo(`run finished: ${outcomes.length} target(s) stored`),
            // logged; the scheduler goes on (the missed check-in makes the dead man's switch fire)
            checkInError === undefined ? Effect.void : Effect.logError(`run failed: ${checkInError.message}`)
          )
        ),
        Effect.tap(({ outcomes }) => (options.pruneAfterRun === undefined ? Effect.void : pruneStored(outcomes, options.pruneAfterRun))),
        Effect.andThen(Effect.sync(() => void (state.running = false)))
      )
    const logNext = Effect.gen(function*() {
      const now = yield* Clock.currentTimeMillis
      yield* Effect.logInfo(
        `next run at ${Cron.next(defaultCronInZone, new Date(now)).toISOString()} (schedule "${options.schedule}" ${options.timeZone})`
      )
    })

    yield* Effect.logInfo(`scheduler started: schedule "${options.schedule}" in ${options.timeZone}`)
    // minutes up to these are done: set before --run-now, so a slot that
    // passes during that first run is still seen when it ends
    let checkedUtc = floorMinute(yield* Clock.currentTimeMillis)
    let checkedWall = wallMinute(checkedUtc, options.timeZone)
    let known: Discovered = { targets: [], invalid: [] }
    let lastDiscovery = 0
    if (options.runNow) {
      const discovered = yield* discover
      if (discovered._tag === "Some") {
        known = discovered.value
        yield* run(known, true)
      }
      lastDiscovery = yield* Clock.currentTimeMillis
    }
    yield* logNext

    for (;;) {
      const now = yield* Clock.currentTimeMillis
      yield* Effect.sleep(floorMinute(now) + minute - now)
      const untilUtc = floorMinute(yield* Clock.currentTimeMillis)
      const untilWall = wallMinute(untilUtc, options.timeZone)
      // each wall minute once: none when the clocks went back, the skipped ones when they went forward
      const minutes: Array<Date> = []
      for (let at = checkedWall + minute; at <= untilWall; at += minute) minutes.push(new Date(at))
      const missed = untilUtc - checkedUtc > minute
      checkedUtc = Math.max(checkedUtc, untilUtc)
      checkedWall = Math.max(checkedWall, untilWall)
      if (minutes.length === 0) continue

      const defaultDue = minutes.some((at) => Cron.match(defaultCron, at))
      const stale = untilUtc - lastDiscovery >= refreshEvery
      if (!defaultDue && !hasOwnSchedules(known) && !stale) continue
      const discovered = yield* discover
      lastDiscovery = untilUtc
      if (discovered._tag === "None") continue
      known = discovered.value
      const due = dueIn(known, defaultCron, defaultDue, minutes)
      // a default-schedule run happens even with nothing to back up: its check-in says the host is alive
      if (!defaultDue && due.targets.length === 0) continue
      if (missed) {
        yield* Effect.logWarning(
          `a run fell due at ${new Date(untilUtc - (untilWall - minutes[0]!.getTime())).toISOString()} while the previous run was still going; starting it now`
        )
      }
      yield* run(due, defaultDue)
      yield* logNext
    }
  })
