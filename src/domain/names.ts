/**
 * Backup IDs. An ID is also the storage key, µbackup's naming with the new suffix:
 *
 *   <service>/<YYYY-MM-DD HHMMZ>[~<n>]_<hostname>_<taskId><ext>.<zst|gz>.age
 *
 * `~<n>` (n ≥ 2) is there only when the plain ID was taken: a second backup
 * of the same service, task and host within one minute (docs/FORMAT.md). It
 * comes right after the `Z`, so the time stays what µbackup's listing parses
 * (everything up to the first `Z`), and `~` sorts after `_`, so a plain
 * listing shows it after the minute's first backup.
 */
import { hasUnsafeCharacters, printableLine } from "../text/printable.ts"

/**
 * A service, task or host name is one path segment: no `/`, no `..`, no
 * control characters (C0, DEL, C1), no format characters (bidi controls,
 * zero-width ones), no leading `.` (hidden files) and no spaces at the ends.
 */
export const isSafeName = (name: string): boolean =>
  name.length > 0 &&
  name.length <= 200 &&
  !name.includes("/") &&
  !name.includes("\\") &&
  !name.includes("..") &&
  !name.startsWith(".") &&
  name.trim() === name &&
  !hasUnsafeCharacters(name)

/** Why `name` is not safe, or undefined when it is. */
export const nameProblem = (what: string, name: string): string | undefined =>
  isSafeName(name)
    ? undefined
    : `${what} ${JSON.stringify(printableLine(name))} is not allowed: use a non-empty name without /, \\, .., control or format characters, a leading dot or spaces at the ends`

/** `.sql`, `.tar`, `.tar.xz`: a dot, then letters, digits, `.`, `_` or `-`. */
export const isFileExtension = (extension: string): boolean =>
  /^\.[A-Za-z0-9][A-Za-z0-9._-]{0,31}$/.test(extension) && !extension.includes("..")

export const fileExtensionProblem = (extension: string): string | undefined =>
  extension === "" || isFileExtension(extension)
    ? undefined
    : `file extension ${JSON.stringify(extension)} is not allowed: use a dot and up to 32 letters, digits, ., _ or -, such as .sql`

const pad = (n: number) => String(n).padStart(2, "0")

/** `2019-07-25 0830Z`, in UTC, as µbackup wrote it. */
export const formatTimestamp = (date: Date): string =>
  `${date.getUTCFullYear()}-${pad(date.getUTCMonth() + 1)}-${pad(date.getUTCDate())} ${pad(date.getUTCHours())}${
    pad(date.getUTCMinutes())
  }Z`

export interface BackupName {
  readonly service: string
  readonly taskId: string
  readonly hostname: string
  readonly time: Date
  /** What the stream holds, e.g. `.sql` or `.tar`; may be empty. */
  readonly fileExtension: string
  /** `.zst` or `.gz`. */
  readonly compressionExtension: string
  /** `.age`. */
  readonly encryptionExtension: string
}

export const backupId = (name: BackupName): string =>
  `${name.service}/${formatTimestamp(name.time)}_${name.hostname}_${name.taskId}${name.fileExtension}${name.compressionExtension}${name.encryptionExtension}`

/** The first backup of a minute has the plain ID; the n-th (n ≥ 2) of the same service, task and host gets `~n`. */
export const withSequence = (id: string, n: number): string => {
  if (n <= 1) return id
  const match = timePrefix.exec(id)
  if (match === null) throw new Error(`not a backup ID: ${id}`)
  return `${match[0]}~${n}${id.slice(match[0].length).replace(/^~\d+/, "")}`
}

/** `<service>/<YYYY-MM-DD HHMM>Z`: the part of an ID that the minute's backups share. */
const timePrefix = /^[^/]+\/\d{4}-\d{2}-\d{2} \d{4}Z/

/** The prefix every backup of `id`'s service and minute shares (its numbered variants too); `id` itself when it has no time. */
export const minutePrefix = (id: string): string => timePrefix.exec(id)?.[0] ?? id

const idPattern = /^([^/]+)\/(\d{4})-(\d{2})-(\d{2}) (\d{2})(\d{2})Z(?:~(\d{1,9}))?_([A-Za-z0-9._-]+?)_(.+)$/

export interface ParsedBackupId {
  readonly service: string
  readonly time: Date
  /** 1 for the plain ID, n for `~n`. */
  readonly sequence: number
  /** Host names have no `_` (see Hostname), so the host is exact. */
  readonly hostname: string
  /** The task ID, the file extension and the compression and encryption suffixes: `1.sql.zst.age`. */
  readonly rest: string
}

/** The parts of an ID made by ubackup (or µbackup), or undefined for any other name. */
export const parseBackupId = (id: string): ParsedBackupId | undefined => {
  const m = idPattern.exec(id)
  if (m === null) return undefined
  const [, service, year, month, day, hour, minute, sequence, hostname, rest] = m as unknown as Array<string>
  const time = new Date(Date.UTC(Number(year), Number(month) - 1, Number(day), Number(hour), Number(minute)))
  // Date.UTC rolls 2026-13-45 over into another date: only a time that formats back is one
  if (Number.isNaN(time.getTime()) || formatTimestamp(time) !== `${year}-${month}-${day} ${hour}${minute}Z`) return undefined
  return { service: service!, time, sequence: sequence === undefined ? 1 : Number(sequence), hostname: hostname!, rest: rest! }
}

/**
 * Oldest first: by the time in the ID, then by its sequence number (so
 * `~10` comes after `~9`, unlike in a plain listing), then by name. IDs that
 * do not parse sort by name, after the ones that do.
 */
export const compareBackupIds = (a: string, b: string): number => {
  const pa = parseBackupId(a)
  const pb = parseBackupId(b)
  if (pa !== undefined && pb !== undefined) {
    const byTime = pa.time.getTime() - pb.time.getTime()
    if (byTime !== 0) return byTime
    if (pa.sequence !== pb.sequence) return pa.sequence - pb.sequence
  } else if (pa !== undefined || pb !== undefined) {
    return pa !== undefined ? -1 : 1
  }
  return a < b ? -1 : a > b ? 1 : 0
}

/** True for `<service>/<file>` where both parts are safe names: what `storage get` accepts. */
export const isBackupId = (id: string): boolean => {
  const parts = id.split("/")
  return parts.length === 2 && parts.every(isSafeName)
}
