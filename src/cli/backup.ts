/** manual-backup (its flags: ./commands.ts) */
import { Effect } from "effect"
import { limitsOf } from "../discovery/layer.ts"
import { backupOne } from "../pipeline/backup.ts"
import { stdin } from "../snapshot/stdin.ts"
import { formatBytes } from "../domain/size.ts"
import { printLine, printNote } from "./io.ts"
import { withProgress, stdinSize } from "./progress.ts"
import type { Input, manualBackupFlags } from "./commands.ts"
import { withPipeline } from "./shared.ts"

export const manualBackup = ({ serviceName, taskId, fileExtension, quiet, limitUpload, config }: Input<typeof manualBackupFlags>) =>
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
