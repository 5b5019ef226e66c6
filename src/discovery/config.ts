/** The config's `static_targets` and `container_filter`: what discovery may back up. */
import { Schema } from "effect"
import { isFileExtension, isSafeName } from "../domain/names.ts"

const NonEmpty = Schema.String.check(Schema.isNonEmpty())

const ServiceName = Schema.String.check(
  Schema.makeFilter((name: string) => isSafeName(name) || "Expected a name without /, .., control characters or spaces at the ends")
)

const FileExtension = Schema.String.check(
  Schema.makeFilter((ext: string) => isFileExtension(ext) || "Expected an extension such as .sql")
)

export const StaticTargetConfig = Schema.Struct({
  serviceName: ServiceName,
  backupCommand: Schema.NonEmptyArray(Schema.String),
  fileExtension: Schema.optionalKey(FileExtension)
}).pipe(Schema.encodeKeys({
  serviceName: "service_name",
  backupCommand: "backup_command",
  fileExtension: "file_extension"
}))

/** Which containers may declare backups; a container that does not match is not backed up (nor reported as failed). */
export const ContainerFilterConfig = Schema.Struct({
  /** Labels the container must carry, each with exactly this value. */
  labels: Schema.optionalKey(Schema.Record(Schema.String, Schema.String)),
  /** Container-name patterns (`*` any characters, `?` one); the name must match one of them. */
  names: Schema.optionalKey(Schema.NonEmptyArray(NonEmpty))
})

export type StaticTargetConfig = typeof StaticTargetConfig.Type

/** The part of the config discovery reads. */
export interface DiscoveryConfig {
  readonly staticTargets: ReadonlyArray<StaticTargetConfig>
  readonly targetTimeout?: string
  readonly maxBackupBytes?: number | string
  readonly containerFilter?: typeof ContainerFilterConfig.Type
  readonly dockerEndpoint?: string
}
