/** manual-backup */
import { Effect } from "effect"
import { Argument, Command, Flag } from "effect/cli"
import { limitsOf } from "../discovery/layer.ts"
import { backupOne } from "../pipeline/backup.ts"
import { stdin } from "../snapshot/stdin.ts"
import { formatBytes } from "../domain/size.ts"
import { printLine, printNote } from "./io.ts"
import { withProgress, stdinSize } from "./progress.ts"
import { configFlag, limitUploadFlag, quietFlag, withPipeline } from "./shared.ts"

export const manualBackup = Command.make(
  "manual-backup",
  {
    serviceName: Argument.String("serviceName").pipe(Argument.withDescription("Service the backup belongs to (the folder in storage)")),
    taskId: Argument.String("taskId").pipe(Argument.withDescription("Task or instance ID that goes into the file name")),
    fileExtension: Flag.String("file-extension").pipe(
      Flag.withDescription("What the stream holds, e.g. .sql or .tar"),
      Flag.withDefault("")
    ),
    quiet: quietFlag,
    limitUpload: limitUploadFlag,
    config: configFlag
  },
  ({ serviceName, taskId, fileExtension, quiet, limitUpload, config }) =>
    withPipeline(config, (loaded) =>
      backupOne({
        service: serviceName,
        taskId,
        fileExtension,
        sourceName: "standard input",
        snapshot: stdin().pipe(withProgress({ label: "standard input", totalBytes: stdinSize(), quiet })),
        maxBytes: limitsOf(loaded.config).maxBytes
      }), limitUpload).pipe(
      Effect.tap((result) =>
        printNote(
          `stored ${result.id}: ${formatBytes(result.bytesIn)} in, ${formatBytes(result.size)} out, ${(result.durationMs / 1000).toFixed(1)} s`
        )
      ),
      Effect.flatMap((result) => printLine(result.id))
    )
).pipe(Command.withDescription("Back up standard input: compress, encrypt, store; prints the backup ID"))
