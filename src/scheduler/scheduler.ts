/**
 * `scheduler run`: the same runs as `ubackup now`, on a cron schedule.
 *
 * The scheduler wakes at every minute boundary, the resolution of cron. A
 * target is due when its own schedule (label `ubackup.schedule`) or else the
 * config's `schedule` matches that minute. Runs never overlap: minutes that
 * pass during a run are checked when it ends, and what fell due meanwhile
 * runs once, at once (logged). Targets are discovered anew for every run, so
 * label changes need no restart.
 */
import { Clock, Cron, Effect } from "effect"
import type { Discovered, Target } from "../discovery/Target.ts"
import { Targets } from "../discovery/Target.ts"
import { runReported } from "../pipeline/reported.ts"
import { parseCron } from "./cron.ts"

export interface SchedulerOptions {
  /** 5-field cron, the default for every target without its own. */
  readonly schedule: string
  readonly timeZone: string
  readonly concurrency: number
  /** Back up every target once at start, whatever the schedule. */
  readonly runNow: boolean
}

const minute = 60_000
const floorMinute = (ms: number) => ms - (ms % minute)

/** How often the targets are looked at when nothing is due, to learn new `ubackup.schedule` labels. */
const refreshEvery = 5 * minute

/** The targets due in the minute that starts at `at`. Unusable containers are reported with the default schedule's runs. */
export const dueAt = (discovered: Discovered, defaultCron: Cron.Cron, timeZone: string, at: Date): Discovered => {
  const cronOf = (target: Target) =>
    target._tag === "Docker" && target.schedule !== undefined ? parseCron(target.schedule, timeZone) : defaultCron
  return {
    targets: discovered.targets.filter((target) => Cron.match(cronOf(target), at)),
    invalid: Cron.match(defaultCron, at) ? discovered.invalid : []
  }
}

const union = (runs: ReadonlyArray<Discovered>): Discovered => {
  const key = (target: { readonly service: string; readonly taskId: string }) => `${target.service}/${target.taskId}`
  const targets = new Map<string, Target>()
  const invalid = new Map<string, Discovered["invalid"][number]>()
  for (const run of runs) {
    for (const target of run.targets) targets.set(key(target), target)
    for (const target of run.invalid) invalid.set(key(target), target)
  }
  return { targets: [...targets.values()], invalid: [...invalid.values()] }
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
    const defaultCron = parseCron(options.schedule, options.timeZone)
    const discover = targets.discover.pipe(
      Effect.tapError((error) => Effect.logError(`${error.message}; no backups this time (the dead man's switch will tell)`)),
      Effect.option
    )
    // `running` stays true when a run is interrupted: the stop message says so
    const run = (discovered: Discovered) =>
      Effect.sync(() => void (state.running = true)).pipe(
        Effect.andThen(runReported(discovered, { concurrency: options.concurrency })),
        Effect.tap(({ outcomes, checkInError }) => {
          const failed = outcomes.filter((outcome) => outcome.result._tag === "Failed").length
          return Effect.andThen(
            failed === 0
              ? Effect.logInfo(`run finished: ${outcomes.length} target(s) stored`)
              : Effect.logError(`run finished: ${failed} of ${outcomes.length} target(s) failed`),
            // logged; the scheduler goes on (the missed check-in makes the dead man's switch fire)
            checkInError === undefined ? Effect.void : Effect.logError(`run failed: ${checkInError.message}`)
          )
        }),
        Effect.andThen(Effect.sync(() => void (state.running = false)))
      )
    const logNext = Effect.gen(function*() {
      const now = yield* Clock.currentTimeMillis
      yield* Effect.logInfo(
        `next run at ${Cron.next(defaultCron, new Date(now)).toISOString()} (schedule "${options.schedule}" ${options.timeZone})`
      )
    })

    yield* Effect.logInfo(`scheduler started: schedule "${options.schedule}" in ${options.timeZone}`)
    let known: Discovered = { targets: [], invalid: [] }
    let lastDiscovery = 0
    if (options.runNow) {
      const discovered = yield* discover
      if (discovered._tag === "Some") {
        known = discovered.value
        yield* run(known)
      }
      lastDiscovery = yield* Clock.currentTimeMillis
    }
    yield* logNext

    let checkedUpTo = floorMinute(yield* Clock.currentTimeMillis)
    for (;;) {
      const now = yield* Clock.currentTimeMillis
      yield* Effect.sleep(floorMinute(now) + minute - now)
      const until = floorMinute(yield* Clock.currentTimeMillis)
      const minutes: Array<Date> = []
      for (let at = checkedUpTo + minute; at <= until; at += minute) minutes.push(new Date(at))
      checkedUpTo = until
      if (minutes.length === 0) continue

      const defaultDue = minutes.some((at) => Cron.match(defaultCron, at))
      const stale = until - lastDiscovery >= refreshEvery
      if (!defaultDue && !hasOwnSchedules(known) && !stale) continue
      const discovered = yield* discover
      lastDiscovery = until
      if (discovered._tag === "None") continue
      known = discovered.value
      const due = union(minutes.map((at) => dueAt(known, defaultCron, options.timeZone, at)))
      if (due.targets.length === 0 && due.invalid.length === 0) continue
      if (minutes.length > 1) {
        yield* Effect.logWarning(
          `a run fell due at ${minutes[0]!.toISOString()} while the previous run was still going; starting it now`
        )
      }
      yield* run(due)
      yield* logNext
    }
  })
