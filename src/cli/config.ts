/** print-default-config (and config example), config validate, init (their flags: ./commands.ts) */
import { Effect, Option } from "effect"
import * as fs from "node:fs/promises"
import * as path from "node:path"
import { layerEncryption, layerStorage } from "../config/layers.ts"
import { parseConfig } from "../config/load.ts"
import { configWarnings } from "../config/warnings.ts"
import type { ConfigJson } from "../config/schema.ts"
import { Encryption } from "../encryption/Encryption.ts"
import { generateDecryptionKey, parseDecryptionKeys, parseRecipient } from "../encryption/keys.ts"
import { Storage } from "../storage/Storage.ts"
import type { exampleConfigFlags, initFlags, Input, validateFlags } from "./commands.ts"
import { InputFileError, printNote, printLine, readStdinText, readTextFile } from "./io.ts"

/** Where the encryption keys of a public key file go: a PEM is µbackup's `encryption_publickey`. */
const keysFromPublicKeyFile = (file: string) =>
  Effect.gen(function*() {
    const text = yield* readTextFile(file)
    if (text.includes("-----BEGIN")) {
      yield* parseRecipient(text, file)
      return { encryption_publickey: text.trim() } satisfies Partial<ConfigJson>
    }
    const lines = text.split("\n").map((line) => line.trim()).filter((line) => line !== "" && !line.startsWith("#"))
    yield* Effect.forEach(lines, (line, i) => parseRecipient(line, `${file} line ${i + 1}`))
    return { encryption_recipients: lines } satisfies Partial<ConfigJson>
  })

const defaultLocalPath = "backups"

export const exampleConfig = ({ pubkeyFile, kitchensink }: Input<typeof exampleConfigFlags>) =>
  Effect.gen(function*() {
    const keys: Partial<ConfigJson> = Option.isSome(pubkeyFile)
      ? yield* keysFromPublicKeyFile(pubkeyFile.value)
      : { encryption_publickey: "" }
    const config: ConfigJson = kitchensink
      ? {
        ...keys,
        encryption_recipients: [...(keys.encryption_recipients ?? []), "age1…another-recipient", "ssh-rsa AAAA…another-rsa-key"],
        compression: "zstd",
        docker_endpoint: "unix:///var/run/docker.sock",
        static_targets: [{ service_name: "someapp", backup_command: ["cat", "/var/lib/someapp/file.db"], file_extension: ".db" }],
        concurrency: 1,
        target_timeout: "2h",
        max_backup_bytes: "100GiB",
        container_filter: { labels: { "backup.allowed": "true" }, names: ["db-*", "app-*"] },
        abort_incomplete_uploads_after: "24h",
        storage: {
          s3: {
            bucket: "mybucket",
            bucket_region: "us-east-1",
            access_key_id: "AKIAUZHTE3U35WCD5…",
            access_key_secret: "wXQJhB…",
            endpoint: "https://s3.example.com",
            force_path_style: true,
            part_size_mb: 8,
            parts_in_flight: 2,
            acl: "bucket-owner-full-control",
            request_timeout: "60s",
            storage_class: "STANDARD_IA",
            object_lock: { mode: "governance", days: 30 }
          }
        },
        alertmanager: { baseurl: "https://example.com/url-to-my/alertmanager", deadmansswitch_ttl: "+25h" },
        alerts: {
          prometheus_alertmanager: { url: "http://127.0.0.1:9093", labels: { team: "ops" } },
          healthchecks: { url: "https://hc-ping.com/your-check-uuid" },
          ntfy: { url: "https://ntfy.sh/your-topic", token: "tk_…" },
          uptime_kuma: { push_url: "https://kuma.example.com/api/push/your-token" },
          webhooks: [{ url: "https://example.com/hooks/backups", headers: { Authorization: "Bearer …" } }]
        },
        schedule: "0 1 * * *",
        schedule_timezone: "UTC",
        metrics_listen: "127.0.0.1:9876",
        metrics_textfile: "/var/lib/prometheus/node-exporter/ubackup.prom",
        size_drop: { ratio: 0.5, window: 7 },
        bandwidth_limit: "20MiB/s",
        drill: { stale_after: "26h", checks: { postgres: ["pg_restore", "--list"], files: ["tar", "-t"] } },
        history_file: "/var/lib/ubackup/history.json",
        retention: { keep_daily: 7, keep_weekly: 4, keep_monthly: 12, services: { postgres: { keep_last: 48 } }, prune_after_run: false }
      }
      : { ...keys, docker_endpoint: "unix:///var/run/docker.sock", storage: { local: { path: defaultLocalPath } } }
    yield* printLine(JSON.stringify(config, null, 4))
  })

export const validate = ({ file }: Input<typeof validateFlags>) =>
  Effect.gen(function*() {
    const name = Option.getOrElse(file, () => "standard input")
    const text = Option.isSome(file) ? yield* readTextFile(file.value) : yield* readStdinText
    const baseDirectory = Option.isSome(file) ? path.dirname(path.resolve(file.value)) : process.cwd()
    const loaded = yield* parseConfig({ name, text, baseDirectory })
    // the keys must parse too; building the layers checks them without touching storage
    const summary = yield* Effect.gen(function*() {
      const encryption = yield* Encryption
      const storage = yield* Storage
      return `storage ${storage.location}; encrypted for ${encryption.recipients.join(", ")}; ${loaded.config.compression}`
    }).pipe(Effect.provide(layerEncryption(loaded)), Effect.provide(layerStorage(loaded)))
    yield* printLine(`${name}: valid (${summary})`)
    for (const warning of configWarnings(loaded.config)) yield* printNote(`${name}: warning: ${warning.path}: ${warning.message}`)
  })

const writeNew = (file: string, content: string, mode: number) =>
  Effect.tryPromise({
    try: () => fs.writeFile(file, content, { flag: "wx", mode }),
    catch: (cause) =>
      new InputFileError({
        path: file,
        detail: (cause as NodeJS.ErrnoException).code === "EEXIST" ? "already exists; not overwriting it" : String(cause)
      })
  })

export const init = ({ dir, type }: Input<typeof initFlags>) =>
  Effect.gen(function*() {
    const files = { key: path.join(dir, "backups.key"), pub: path.join(dir, "backups.pub"), config: path.join(dir, "config.json") }
    for (const file of Object.values(files)) {
      const exists = yield* Effect.promise(() => fs.access(file).then(() => true, () => false))
      if (exists) return yield* new InputFileError({ path: file, detail: "already exists; not overwriting it" })
    }
    yield* Effect.promise(() => fs.mkdir(dir, { recursive: true }))
    const key = yield* generateDecryptionKey(type)
    const keys = yield* parseDecryptionKeys(key, files.key)
    const publicKey = keys.encryptionKeys.join("\n")
    const config: ConfigJson = {
      ...(type === "rsa" ? { encryption_publickey: publicKey } : { encryption_recipients: [...keys.encryptionKeys] }),
      compression: "zstd",
      storage: { local: { path: defaultLocalPath } }
    }
    yield* writeNew(files.key, key, 0o600)
    yield* writeNew(files.pub, `${publicKey}\n`, 0o644)
    yield* writeNew(files.config, `${JSON.stringify(config, null, 4)}\n`, 0o600)
    yield* printNote(
      [
        `wrote ${files.key} (decryption key: move it off this machine once you have tested a restore)`,
        `wrote ${files.pub} (encryption key)`,
        `wrote ${files.config} (local storage in ${path.join(dir, defaultLocalPath)})`
      ].join("\n")
    )
  })