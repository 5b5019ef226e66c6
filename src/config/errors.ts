import { Schema } from "effect"

export const ConfigIssue = Schema.Struct({
  /** The field, as written in the JSON: `storage.s3.bucket`; empty for the whole config. */
  path: Schema.String,
  message: Schema.String
})
export type ConfigIssue = typeof ConfigIssue.Type

/** A config that cannot be used, with every bad field. Never includes field values. */
export class ConfigError extends Schema.TaggedError<ConfigError>()("ConfigError", {
  source: Schema.String,
  issues: Schema.Array(ConfigIssue)
}) {
  override get message() {
    return this.issues.map((issue) => `${this.source}: ${issue.path ? `${issue.path}: ` : ""}${issue.message}`).join("\n")
  }
}
