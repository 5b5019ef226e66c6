/**
 * Where the config comes from, in order: `--config FILE`, the env var
 * `UBACKUP_CONF` (base64 of the JSON), else `./config.json`. Every problem is
 * reported with the source and the path of the bad field.
 */
import { Effect, Option, Schema, SchemaIssue } from "effect"
import * as fs from "node:fs/promises"
import * as path from "node:path"
import { destinationsOf } from "../storage/config.ts"
import { Config } from "./schema.ts"
import { ConfigError, type ConfigIssue } from "./errors.ts"

export interface ConfigSource {
  /** For messages: the file path, or `UBACKUP_CONF`. */
  readonly name: string
  readonly text: string
  /** Relative paths in the config (local storage) resolve against this directory. */
  readonly baseDirectory: string
}

export interface LoadedConfig {
  readonly config: Config
  readonly source: ConfigSource
}

export const defaultConfigFile = "config.json"
export const envVar = "UBACKUP_CONF"

const readConfigFile = (file: string) =>
  Effect.tryPromise({
    try: () => fs.readFile(file, "utf8"),
    catch: (cause) =>
      new ConfigError({
        source: file,
        issues: [{
          path: "",
          message: (cause as NodeJS.ErrnoException).code === "ENOENT" ? "file not found" : `cannot read: ${String(cause)}`
        }]
      })
  }).pipe(Effect.map((text): ConfigSource => ({ name: file, text, baseDirectory: path.dirname(path.resolve(file)) })))

/** Finds the config text: the flag, then `UBACKUP_CONF`, then `./config.json`. */
export const findConfig = (
  flag: Option.Option<string>,
  env: Record<string, string | undefined> = process.env
): Effect.Effect<ConfigSource, ConfigError> => {
  if (Option.isSome(flag)) return readConfigFile(flag.value)
  const encoded = env[envVar]
  if (encoded !== undefined) {
    const compact = encoded.replace(/\s+/g, "")
    const valid = compact !== "" && /^[A-Za-z0-9+/]*={0,2}$/.test(compact) && compact.length % 4 === 0
    if (!valid) {
      return Effect.fail(
        new ConfigError({
          source: envVar,
          issues: [{ path: "", message: compact === "" ? "is set but empty" : "is not valid base64 (expected base64 of the JSON config)" }]
        })
      )
    }
    return Effect.succeed({ name: envVar, text: Buffer.from(compact, "base64").toString("utf8"), baseDirectory: process.cwd() })
  }
  return readConfigFile(defaultConfigFile).pipe(
    Effect.mapError((error) =>
      error.issues[0]?.message === "file not found"
        ? new ConfigError({
          source: defaultConfigFile,
          issues: [{
            path: "",
            message: `no config: pass --config FILE, set ${envVar} (base64 of the JSON), or create ./${defaultConfigFile} (ubackup init, or ubackup print-default-config)`
          }]
        })
        : error
    )
  )
}

/** `storage.s3.bucket`, `static_targets[0].backup_command` */
const formatPath = (segments: ReadonlyArray<PropertyKey>): string =>
  segments.map((segment, i) => (typeof segment === "number" ? `[${segment}]` : `${i === 0 ? "" : "."}${String(segment)}`)).join("")

const issuesOf = (error: Schema.SchemaError): Array<ConfigIssue> =>
  SchemaIssue.makeFormatterStandardSchemaV1()(error.issue).issues.map((issue) => {
    const segments = (issue.path ?? []).map((p) => (typeof p === "object" && p !== null ? p.key : p))
    const at = formatPath(segments)
    const excess = issue.message.startsWith("Unexpected key") || issue.message === "Expected no excess property"
    // an excess key directly under "storage" is a storage kind we do not know
    if (excess && segments.length === 2 && segments[0] === "storage") {
      return { path: at, message: "unknown storage kind (expected local or s3)" }
    }
    // never echo the value: a misspelt secret key would print the secret
    if (excess) return { path: at, message: "unknown key" }
    if (issue.message === "Missing key" && at === "storage") {
      return { path: at, message: "no storage configured (expected local or s3)" }
    }
    // an empty non-empty array reports its missing first element
    if (issue.message === "Missing key" && segments.at(-1) === 0) {
      return { path: formatPath(segments.slice(0, -1)), message: "must not be empty" }
    }
    return { path: at, message: issue.message }
  })

/**
 * The offset of the first character that breaks the JSON grammar, or
 * `text.length` when the text ends too early; `undefined` if the nesting is
 * too deep to walk. For the errors V8 reports with a quote of the text
 * ("Unexpected token 'S', …"SUPERSECRE"… is not valid JSON") instead of a
 * position: that quote may be a secret.
 */
const firstBadOffset = (text: string): number | undefined => {
  let i = 0
  const whitespace = () => {
    while (i < text.length && " \t\n\r".includes(text[i]!)) i++
  }
  const expect = (pattern: RegExp) => {
    pattern.lastIndex = i
    if (!pattern.test(text)) throw i
    i = pattern.lastIndex
  }
  const value = (): void => {
    whitespace()
    const c = text[i]
    if (c === "{" || c === "[") {
      const close = c === "{" ? "}" : "]"
      i++
      whitespace()
      if (text[i] === close) return void i++
      for (;;) {
        if (c === "{") {
          whitespace()
          expect(/"(?:[^"\\\u0000-\u001f]|\\["\\/bfnrt]|\\u[0-9a-fA-F]{4})*"/y)
          whitespace()
          expect(/:/y)
        }
        value()
        whitespace()
        if (text[i] === close) return void i++
        expect(/,/y)
      }
    }
    expect(/"(?:[^"\\\u0000-\u001f]|\\["\\/bfnrt]|\\u[0-9a-fA-F]{4})*"|-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?|true|false|null/y)
  }
  try {
    value()
    whitespace()
    return i
  } catch (offset) {
    // thrown by expect(); anything else is a stack overflow on deep nesting
    return typeof offset === "number" ? offset : undefined
  }
}

const jsonProblem = (text: string, error: unknown): string => {
  const message = error instanceof Error ? error.message : String(error)
  const stated = /at position (\d+)/.exec(message)
  const offset = stated === null ? firstBadOffset(text) : Number(stated[1])
  if (offset === undefined) return "invalid JSON"
  // only V8's own words, never its quote of the text
  const problem = stated !== null
    ? message.replace(/(?: in JSON)? at position \d+.*$/, "")
    : offset >= text.length
    ? "unexpected end of the text"
    : "unexpected character"
  const before = text.slice(0, offset)
  const line = before.split("\n").length
  const column = before.length - before.lastIndexOf("\n")
  return `invalid JSON at line ${line}, column ${column}: ${problem}`
}

/** Decodes and checks a config text; the rules that span fields come after the schema. */
export const parseConfig = (source: ConfigSource): Effect.Effect<LoadedConfig, ConfigError> =>
  Effect.try({
    try: () => JSON.parse(source.text) as unknown,
    catch: (e) => new ConfigError({ source: source.name, issues: [{ path: "", message: jsonProblem(source.text, e) }] })
  }).pipe(Effect.flatMap((json) => decodeConfig(json, source)))

/**
 * A config given as a value, as a library caller passes it: the same JSON
 * object the CLI reads from a file, checked the same way. Relative paths
 * resolve against `baseDirectory` (default: the working directory).
 */
export const configFromValue = (
  value: unknown,
  options: { readonly name?: string | undefined; readonly baseDirectory?: string | undefined } = {}
): Effect.Effect<LoadedConfig, ConfigError> =>
  decodeConfig(value, { name: options.name ?? "config", text: "", baseDirectory: path.resolve(options.baseDirectory ?? ".") })

const decodeConfig = (json: unknown, source: ConfigSource): Effect.Effect<LoadedConfig, ConfigError> =>
  Effect.gen(function*() {
    const fail = (issues: ReadonlyArray<ConfigIssue>) => new ConfigError({ source: source.name, issues })
    const config = yield* Schema.decodeUnknownEffect(Config)(json, { errors: "all", onExcessProperty: "error" }).pipe(
      Effect.mapError((error) => fail(issuesOf(error)))
    )
    const issues: Array<ConfigIssue> = []
    const names = new Set<string>()
    for (const destination of destinationsOf(config.storage)) {
      const { path, storage } = destination
      if (names.has(destination.name)) issues.push({ path: `${path}.name`, message: `"${destination.name}" is already the name of another destination` })
      names.add(destination.name)
      const kinds = [storage.local && "local", storage.s3 && "s3"].filter(Boolean)
      if (kinds.length === 0) issues.push({ path, message: "no storage configured (expected local or s3)" })
      if (kinds.length > 1) issues.push({ path, message: `configure one storage kind, not ${kinds.join(" and ")}` })
      const s3 = storage.s3
      if (s3 && (s3.accessKeyId === undefined) !== (s3.accessKeySecret === undefined)) {
        issues.push({
          path: s3.accessKeyId === undefined ? `${path}.s3.access_key_id` : `${path}.s3.access_key_secret`,
          message: "set both access_key_id and access_key_secret, or neither (to use the AWS credential chain)"
        })
      }
    }
    const keyCount = (config.encryptionPublicKey?.trim() ? 1 : 0) + (config.encryptionRecipients?.length ?? 0)
    if (keyCount === 0) {
      issues.push({ path: "encryption_recipients", message: "no encryption key: set encryption_publickey or encryption_recipients" })
    }
    // a backup's ID is service, time, host and task ("static"): two static targets of one name would overwrite each other
    const staticNames = new Set<string>()
    for (const [index, target] of config.staticTargets.entries()) {
      if (staticNames.has(target.serviceName)) {
        issues.push({ path: `static_targets[${index}].service_name`, message: `"${target.serviceName}" is already the name of another static target` })
      }
      staticNames.add(target.serviceName)
    }
    if (issues.length > 0) return yield* fail(issues)
    return { config, source }
  })

export const loadConfig = (flag: Option.Option<string>) => findConfig(flag).pipe(Effect.flatMap(parseConfig))
