/**
 * Backup IDs. An ID is also the storage key, µbackup's naming with the new suffix:
 *
 *   <service>/<YYYY-MM-DD HHMMZ>_<hostname>_<taskId><ext>.<zst|gz>.age
 *
 * IDs sort by time within a service, so "oldest first" is key order.
 */

/**
 * A service, task or host name is one path segment: no `/`, no `..`, no
 * control characters, no leading `.` (hidden files) and no spaces at the ends.
 */
export const isSafeName = (name: string): boolean =>
  name.length > 0 &&
  name.length <= 200 &&
  !name.includes("/") &&
  !name.includes("\\") &&
  !name.includes("..") &&
  !name.startsWith(".") &&
  name.trim() === name &&
  // eslint-disable-next-line no-control-regex
  !/[\u0000-\u001f\u007f]/.test(name)

/** Why `name` is not safe, or undefined when it is. */
export const nameProblem = (what: string, name: string): string | undefined =>
  isSafeName(name)
    ? undefined
    : `${what} ${JSON.stringify(name)} is not allowed: use a non-empty name without /, \\, .., control characters, a leading dot or spaces at the ends`

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

/** True for `<service>/<file>` where both parts are safe names: what `storage get` accepts. */
export const isBackupId = (id: string): boolean => {
  const parts = id.split("/")
  return parts.length === 2 && parts.every(isSafeName)
}
