/**
 * The words every sink shares: µbackup's subjects (with U+00B5 MICRO SIGN,
 * byte for byte as µbackup wrote them) and a run's summary.
 */
import { formatDuration } from "../domain/duration.ts"
import { errorOf, failedOutcomes, type RunReport } from "../domain/Outcome.ts"
import { type Warning, warningLabel } from "../domain/Warning.ts"

/** `µbackup <hostname>`: the dead man's switch subject. U+00B5, not Greek mu U+03BC. */
export const hostSubject = (hostname: string) => `\u00b5backup ${hostname}`

/** `µbackup <hostname>: <service>`: a failure alert's subject. */
export const targetSubject = (hostname: string, service: string) => `${hostSubject(hostname)}: ${service}`

/** `µbackup <hostname>: <service> (warning)`, `(stale backup)`, `(restore drill failed)`: a warning's subject. */
export const warningSubject = (hostname: string, warning: Warning) =>
  `${targetSubject(hostname, warning.service)} (${warningLabel(warning)})`

/** `3 targets: 2 stored, 1 failed (db) in 1m2s`, or `no targets in 12ms`. */
export const runSummary = (report: RunReport): string => {
  const took = formatDuration(Math.max(0, report.finishedAt.getTime() - report.startedAt.getTime()))
  const total = report.outcomes.length
  if (total === 0) return `no targets in ${took}`
  const failed = failedOutcomes(report.outcomes)
  const failedText = failed.length === 0 ? "0 failed" : `${failed.length} failed (${[...new Set(failed.map((o) => o.service))].join(", ")})`
  return `${total} target${total === 1 ? "" : "s"}: ${total - failed.length} stored, ${failedText} in ${took}`
}

/** The summary, then each failure with its error (which carries the command's stderr tail). */
export const runReportText = (report: RunReport): string =>
  [
    runSummary(report),
    ...failedOutcomes(report.outcomes).map((outcome) => `\n${outcome.service} (${outcome.source}) failed:\n${errorOf(outcome)}`)
  ].join("\n") + "\n"

const marker = "\n…[truncated]\n"

/**
 * At most `maxBytes` of UTF-8, cut on a character boundary (a server that
 * slices bytes would otherwise see invalid UTF-8), marked when cut.
 */
export const truncateUtf8 = (text: string, maxBytes: number): string => {
  const bytes = Buffer.from(text, "utf8")
  if (bytes.length <= maxBytes) return text
  // a limit too small for the marker gets the text alone
  const mark = maxBytes >= Buffer.byteLength(marker) * 2 ? marker : ""
  let end = maxBytes - Buffer.byteLength(mark)
  // back up over continuation bytes (10xxxxxx) to the start of a character
  while (end > 0 && (bytes[end]! & 0xc0) === 0x80) end--
  return bytes.subarray(0, end).toString("utf8") + mark
}
