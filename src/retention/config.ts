/**
 * The `retention` section of the config: restic's keep rules, snake_case,
 * a default policy and per-service ones, and whether the scheduler prunes
 * after each run (by default nothing is ever deleted).
 *
 *   "retention": { "keep_daily": 7, "keep_weekly": 4, "keep_monthly": 12,
 *                  "services": { "db": { "keep_last": 48 } },
 *                  "prune_after_run": false }
 *
 * A service's entry replaces the default policy for that service.
 */
import { Effect, Schema } from "effect"
import { parseCalendarSpan, policyProblem, type RetentionPolicy } from "./policy.ts"

/** A count: how many periods to keep, -1 for all of them, 0 (or absent) for none. */
const Count = Schema.Int.check(Schema.isBetween({ minimum: -1, maximum: 1_000_000 }))

const Span = Schema.String.check(
  Schema.makeFilter((text: string) =>
    parseCalendarSpan(text) !== undefined || "Expected a span such as 30d, 6m or 1y2m (y years, m months, d days, h hours; as restic)"
  )
)

const policyKeys = {
  keepLast: "keep_last",
  keepHourly: "keep_hourly",
  keepDaily: "keep_daily",
  keepWeekly: "keep_weekly",
  keepMonthly: "keep_monthly",
  keepYearly: "keep_yearly",
  keepWithin: "keep_within"
} as const

const policyFields = {
  keepLast: Schema.optionalKey(Count),
  keepHourly: Schema.optionalKey(Count),
  keepDaily: Schema.optionalKey(Count),
  keepWeekly: Schema.optionalKey(Count),
  keepMonthly: Schema.optionalKey(Count),
  keepYearly: Schema.optionalKey(Count),
  keepWithin: Schema.optionalKey(Span)
}

type PolicyConfig = { readonly [K in keyof typeof policyFields]?: K extends "keepWithin" ? string : number }

/** The policy a config section describes. */
export const policyFromConfig = (config: PolicyConfig): RetentionPolicy => ({
  keepLast: config.keepLast,
  keepHourly: config.keepHourly,
  keepDaily: config.keepDaily,
  keepWeekly: config.keepWeekly,
  keepMonthly: config.keepMonthly,
  keepYearly: config.keepYearly,
  keepWithin: config.keepWithin === undefined ? undefined : parseCalendarSpan(config.keepWithin)
})

const ServicePolicyConfig = Schema.Struct(policyFields).pipe(
  Schema.encodeKeys(policyKeys),
  Schema.check(Schema.makeFilter((policy: PolicyConfig) => policyProblem(policyFromConfig(policy)) ?? true))
)

export const RetentionConfig = Schema.Struct({
  ...policyFields,
  services: Schema.optionalKey(Schema.Record(Schema.String, ServicePolicyConfig)),
  /** `scheduler run`: prune the services of each run after it (needs credentials that may delete). */
  pruneAfterRun: Schema.Boolean.pipe(Schema.withDecodingDefaultTypeKey(Effect.succeed(false)))
}).pipe(
  Schema.encodeKeys({ ...policyKeys, pruneAfterRun: "prune_after_run" }),
  Schema.check(Schema.makeFilter((retention: PolicyConfig & { readonly pruneAfterRun: boolean }) => {
    const problem = retention.pruneAfterRun ? policyProblem(policyFromConfig(retention)) : undefined
    return problem === undefined || `prune_after_run is on, but the default policy has a problem: ${problem}`
  }))
)

export type RetentionConfig = typeof RetentionConfig.Type

/** The policy of each service: its own entry, else the default. */
export const policyForService = (retention: RetentionConfig | undefined) => (service: string): RetentionPolicy => {
  const own = retention?.services?.[service]
  return policyFromConfig(own ?? retention ?? {})
}
