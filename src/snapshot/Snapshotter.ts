/**
 * The snapshot stage: a target in, its backup bytes out. The stream fails
 * (and nothing is stored) unless the command exits 0 after its output ended.
 */
import { Context, Schema, type Stream } from "effect"
import type { Target } from "../domain/Target.ts"

export const SnapshotFailure = Schema.Literals([
  "ExitCode", //     the command exited non-zero
  "Lost", //         the connection or the container went away mid-stream
  "Start", //        the command or the exec could not start
  "Docker" //        a Docker API call failed
])

export class SnapshotError extends Schema.TaggedError<SnapshotError>()("SnapshotError", {
  reason: SnapshotFailure,
  /** `docker exec db1 pg_dump -U postgres app`, `host: tar -c /etc`. */
  source: Schema.String,
  exitCode: Schema.optional(Schema.Number),
  /** The last 64 KiB of the command's stderr. */
  stderrTail: Schema.String,
  detail: Schema.String
}) {
  override get message() {
    const tail = this.stderrTail.trim()
    return `${this.source}: ${this.detail}${tail ? `\n${tail.split("\n").slice(-20).join("\n")}` : ""}`
  }
}

export class Snapshotter extends Context.Service<Snapshotter, {
  readonly snapshot: (target: Target) => Stream.Stream<Uint8Array, SnapshotError>
}>()("ubackup/Snapshotter") {}
