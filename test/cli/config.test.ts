/**
 * The config, through the real CLI: `config validate FILE`, `config validate`
 * on stdin, `storage ls-services` with `--config FILE` and with
 * `UBACKUP_CONF` (base64). Every bad field is named by source and path;
 * no secret value ever reaches the output. Also print-default-config.
 */
import { Schema } from "effect"
import * as crypto from "node:crypto"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { Config } from "../../src/config/schema.ts"
import { type Run, ubackup } from "../harness/cli.ts"

type Route = "validate FILE" | "validate stdin" | "ls-services --config" | "ls-services UBACKUP_CONF"
const allRoutes: ReadonlyArray<Route> = ["validate FILE", "validate stdin", "ls-services --config", "ls-services UBACKUP_CONF"]
/** Keys are checked by `config validate` only: `storage` verbs never encrypt. */
const validateRoutes: ReadonlyArray<Route> = ["validate FILE", "validate stdin"]

const secret = "SUPERSECRET123"

const expectRefusal = (run: Run, expected: string | RegExp, label: string) => {
  expect(run.code, `${label}: ${run.stderr}`).toBe(1)
  expect(run.stdout.length, label).toBe(0)
  expect(run.stderr, label).toMatch(/^ubackup: error: /)
  if (typeof expected === "string") expect(run.stderr, label).toContain(expected)
  else expect(run.stderr, label).toMatch(expected)
  expect(run.stderr, label).not.toMatch(/\n\s+at /)
  expect(run.stderr, label).not.toContain(secret)
}

describe("config", () => {
  let dir: string
  /** An empty folder to run in: no ./config.json there. */
  let emptyCwd: string
  let recipient: string
  let recipient2: string
  let ageIdentity: string
  let rsaPrivate: string
  let rsaPublic: string
  let cases = 0

  /** A config with valid keys and local storage, plus `extra`. */
  const base = (extra: Record<string, unknown> = {}) => ({
    encryption_recipients: [recipient],
    storage: { local: { path: "backups" } },
    ...extra
  })

  /** Runs `text` through `route`; returns the run and the name errors must carry. */
  const through = async (route: Route, text: string): Promise<{ run: Run; source: string }> => {
    const file = path.join(dir, `case-${++cases}.json`)
    switch (route) {
      case "validate FILE":
        fs.writeFileSync(file, text)
        return { run: await ubackup(["config", "validate", file], { cwd: emptyCwd }), source: file }
      case "validate stdin":
        return { run: await ubackup(["config", "validate"], { input: text, cwd: emptyCwd }), source: "standard input" }
      case "ls-services --config":
        fs.writeFileSync(file, text)
        return { run: await ubackup(["storage", "ls-services", "--config", file], { cwd: emptyCwd }), source: file }
      case "ls-services UBACKUP_CONF":
        return {
          run: await ubackup(["storage", "ls-services"], { cwd: emptyCwd, env: { UBACKUP_CONF: Buffer.from(text).toString("base64") } }),
          source: "UBACKUP_CONF"
        }
    }
  }

  /** Every route refuses `text` with `<source>: <message>`. */
  const refusedEverywhere = async (text: string, message: string, routes: ReadonlyArray<Route> = allRoutes) => {
    const runs = await Promise.all(routes.map((route) => through(route, text).then((result) => ({ route, ...result }))))
    for (const { route, run, source } of runs) expectRefusal(run, `${source}: ${message}`, route)
    return runs
  }

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "ubackup-config-test-"))
    emptyCwd = fs.mkdtempSync(path.join(dir, "cwd-"))
    const [age, age2, rsa] = await Promise.all([
      ubackup(["decryption-key-generate", "--type", "x25519"]),
      ubackup(["decryption-key-generate", "--type", "x25519"]),
      ubackup(["decryption-key-generate"])
    ])
    ageIdentity = age.stdout.toString()
    recipient = /^# public key: (age1\S+)$/m.exec(ageIdentity)![1]!
    recipient2 = /^# public key: (age1\S+)$/m.exec(age2.stdout.toString())![1]!
    rsaPrivate = rsa.stdout.toString()
    const converted = await ubackup(["decryption-key-to-encryption-key"], { input: rsaPrivate })
    expect(converted.code, converted.stderr).toBe(0)
    rsaPublic = converted.stdout.toString()
  })

  afterAll(() => {
    if (dir !== undefined) fs.rmSync(dir, { recursive: true, force: true })
  })

  describe("refusals, on every route", () => {
    it("malformed JSON: the line and column", async () => {
      const text = `{\n  "encryption_recipients": ["${recipient}"],\n  "storage": { "local": { "path": "x" }, }\n}\n`
      await refusedEverywhere(text, "invalid JSON at line 3, column 42: Expected double-quoted property name")
      await refusedEverywhere(`{\n  "compression": zstd\n}`, "invalid JSON at line 2, column 18: unexpected character")
      // (an empty UBACKUP_CONF is refused before it is parsed: see below)
      const fileRoutes = allRoutes.filter((route) => route !== "ls-services UBACKUP_CONF")
      await refusedEverywhere("", "invalid JSON at line 1, column 1: unexpected end of the text", fileRoutes)
      await refusedEverywhere(`{"storage": {}`, "invalid JSON at line 1, column 15")
      await refusedEverywhere(`[]`, "Expected object")
    })

    it("an unknown storage kind", async () => {
      await refusedEverywhere(JSON.stringify(base({ storage: { ftp: { host: "x" } } })), "storage.ftp: unknown storage kind")
    })

    it("an unknown top-level key, and an unknown key deeper down", async () => {
      await refusedEverywhere(JSON.stringify(base({ frobnicate: true })), "frobnicate: unknown key")
      await refusedEverywhere(JSON.stringify(base({ storage: { local: { path: "x", mode: 7 } } })), "storage.local.mode: unknown key")
    })

    it("no storage; an empty storage object; both storage kinds", async () => {
      await refusedEverywhere(JSON.stringify({ encryption_recipients: [recipient] }), "storage: no storage configured (expected local or s3)")
      await refusedEverywhere(JSON.stringify(base({ storage: {} })), "storage: no storage configured (expected local or s3)")
      await refusedEverywhere(
        JSON.stringify(base({ storage: { local: { path: "x" }, s3: { bucket: "b" } } })),
        "storage: configure one storage kind, not local and s3"
      )
    })

    it("a storage list: each destination checked where it sits, names unique", async () => {
      await refusedEverywhere(
        JSON.stringify(base({ storage: [{ name: "nas", local: { path: "a" } }, { name: "nas", local: { path: "b" } }] })),
        `storage[1].name: "nas" is already the name of another destination`
      )
      await refusedEverywhere(
        JSON.stringify(base({ storage: [{ name: "nas", local: { path: "a" } }, { name: "offsite", local: { path: "b" }, s3: { bucket: "c" } }] })),
        "storage[1]: configure one storage kind, not local and s3"
      )
      await refusedEverywhere(
        JSON.stringify(base({ storage: [{ name: "nas", local: { path: "a" } }, { name: "offsite", s3: { bucket: "b", access_key_id: "AKIA" } }] })),
        "storage[1].s3.access_key_secret: set both access_key_id and access_key_secret, or neither"
      )
      await refusedEverywhere(JSON.stringify(base({ storage: [] })), "storage: must not be empty")
    })

    it("only one of access_key_id and access_key_secret", async () => {
      const both = "set both access_key_id and access_key_secret, or neither"
      await refusedEverywhere(JSON.stringify(base({ storage: { s3: { bucket: "b", access_key_id: "AKIA" } } })), `storage.s3.access_key_secret: ${both}`)
      await refusedEverywhere(JSON.stringify(base({ storage: { s3: { bucket: "b", access_key_secret: secret } } })), `storage.s3.access_key_id: ${both}`)
    })

    it("no encryption key at all, or only an empty encryption_publickey", async () => {
      const message = "encryption_recipients: no encryption key: set encryption_publickey or encryption_recipients"
      await refusedEverywhere(JSON.stringify({ storage: { local: { path: "x" } } }), message)
      await refusedEverywhere(JSON.stringify({ encryption_publickey: "  ", encryption_recipients: [], storage: { local: { path: "x" } } }), message)
    })

    it("several problems are all reported, one line each", async () => {
      const text = JSON.stringify({ compression: "lzma", storage: { s3: { bucket: "" } }, extra: 1 })
      for (const { run, source } of await refusedEverywhere(text, "compression: Expected \"zstd\" | \"gzip\"")) {
        expect(run.stderr).toContain(`${source}: storage.s3.bucket: `)
        expect(run.stderr).toContain(`${source}: extra: unknown key`)
      }
    })
  })

  describe("keys in the config (config validate)", () => {
    it("the scheduler, alert and metrics keys: each bad value named by its path", async () => {
      const cases: ReadonlyArray<readonly [Record<string, unknown>, string]> = [
        [{ schedule: "61 * * * *" }, "schedule: Expected a 5-field cron expression"],
        [{ schedule: "0 0 1 * * *" }, "schedule: Expected a 5-field cron expression"],
        [{ schedule_timezone: "Mars/Olympus" }, "schedule_timezone: Expected an IANA time zone"],
        [{ alertmanager: { baseurl: "https://example.com/prod", deadmansswitch_ttl: "25h" } }, "alertmanager.deadmansswitch_ttl: Expected a ttl"],
        [{ alerts: { prometheus_alertmanager: { url: "http://127.0.0.1:9093", labels: { "bad-name": "x" } } } }, "alerts.prometheus_alertmanager.labels: \"bad-name\" is not a Prometheus label name"],
        [{ alerts: { ntfy: { url: "ntfy.sh/topic" } } }, "alerts.ntfy.url: Expected an http:// or https:// URL"],
        [{ metrics_textfile: "/var/lib/node-exporter/ubackup.txt" }, "metrics_textfile: Expected a path ending in .prom"],
        [{ metrics_listen: "127.0.0.1:99999" }, "metrics_listen: Expected host:port"],
        [
          { static_targets: [{ service_name: "host", backup_command: ["tar", "c", "/etc"] }, { service_name: "host", backup_command: ["pg_dumpall"] }] },
          'static_targets[1].service_name: "host" is already the name of another static target'
        ]
      ]
      for (const [extra, message] of cases) await refusedEverywhere(JSON.stringify(base(extra)), message, validateRoutes)
      // and what is valid
      for (const ttl of ["+25h", "+24h30m", "+1.5h", "+1d@02:00", "2030-01-02T03:04:05Z"]) {
        const { run } = await through("validate stdin", JSON.stringify(base({ alertmanager: { baseurl: "https://example.com/prod", deadmansswitch_ttl: ttl } })))
        expect(run.code, `${ttl}: ${run.stderr}`).toBe(0)
      }
      const { run } = await through("validate stdin", JSON.stringify(base({ schedule: "*/15 2-5 * * 1-5", schedule_timezone: "Europe/Helsinki" })))
      expect(run.code, run.stderr).toBe(0)
    })

    it("the new limits are checked: max_backup_bytes, container_filter, abort_incomplete_uploads_after, storage.s3.acl and request_timeout", async () => {
      const cases: ReadonlyArray<readonly [Record<string, unknown>, string]> = [
        [{ max_backup_bytes: "lots" }, "max_backup_bytes: Expected a number of bytes or a size such as 500MB or 10GiB"],
        [{ max_backup_bytes: -5 }, "max_backup_bytes: Expected a number of bytes"],
        [{ container_filter: { names: [] } }, "container_filter.names: must not be empty"],
        [{ container_filter: { label: "x" } }, "container_filter.label: unknown key"],
        [{ abort_incomplete_uploads_after: "soon" }, "abort_incomplete_uploads_after: Expected a duration"]
      ]
      for (const [extra, message] of cases) await refusedEverywhere(JSON.stringify(base(extra)), message, validateRoutes)
      const s3 = (fields: Record<string, unknown>) => ({ storage: { s3: { bucket: "b", endpoint: "https://s3.example.com", ...fields } } })
      await refusedEverywhere(JSON.stringify(base(s3({ acl: "everyone" }))), "storage.s3.acl: Expected", validateRoutes)
      await refusedEverywhere(JSON.stringify(base(s3({ request_timeout: "never" }))), "storage.s3.request_timeout: Expected a duration", validateRoutes)
      const { run } = await through("validate stdin", JSON.stringify(base({
        max_backup_bytes: "10GiB",
        container_filter: { labels: { "backup.allowed": "yes" }, names: ["db-*"] },
        abort_incomplete_uploads_after: "6h",
        ...s3({ acl: "bucket-owner-full-control", request_timeout: "2m" })
      })))
      expect(run.code, run.stderr).toBe(0)
    })

    it("warns, without refusing, about secrets sent over plain http:// to another host", async () => {
      const { run } = await through("validate stdin", JSON.stringify(base({
        alertmanager: { baseurl: "http://alerts.example.com/prod" },
        alerts: {
          healthchecks: { url: "http://hc.example.com/ping/uuid" },
          ntfy: { url: "http://ntfy.example.com/topic", token: "tk_x" },
          uptime_kuma: { push_url: "http://127.0.0.1:3001/api/push/token" },
          webhooks: [{ url: "http://hooks.example.com/in", headers: { Authorization: "Bearer x" } }, { url: "https://hooks.example.com/in" }]
        }
      })))
      expect(run.code, run.stderr).toBe(0)
      for (const path of ["alertmanager.baseurl", "alerts.healthchecks.url", "alerts.ntfy.url", "alerts.webhooks[0].url"]) {
        expect(run.stderr).toMatch(new RegExp(`standard input: warning: ${path.replace(/[.[\]]/g, "\\$&")}: is plain http:// to another host`))
      }
      // loopback and https are fine
      expect(run.stderr).not.toContain("uptime_kuma")
      expect(run.stderr).not.toContain("webhooks[1]")
      expect(run.stderr).not.toContain("tk_x")
    })

    it("a bad recipient in encryption_recipients[1] is named by its index", async () => {
      const bad = `${recipient.slice(0, -1)}${recipient.endsWith("q") ? "p" : "q"}`
      await refusedEverywhere(
        JSON.stringify(base({ encryption_recipients: [recipient, bad] })),
        "encryption_recipients[1]: not a valid age1… X25519 recipient (bad checksum or length)",
        validateRoutes
      )
    })

    it("a private key pasted into encryption_publickey or encryption_recipients is refused, and not echoed", async () => {
      const identityLine = ageIdentity.split("\n")[2]!
      const cases: Array<[Record<string, unknown>, string]> = [
        [{ encryption_publickey: rsaPrivate }, "encryption_publickey"],
        [{ encryption_recipients: [recipient, identityLine] }, "encryption_recipients[1]"],
        [{ encryption_recipients: [ageIdentity] }, "encryption_recipients[0]"]
      ]
      for (const [keys, field] of cases) {
        const text = JSON.stringify({ ...base(), encryption_recipients: [], ...keys })
        for (const { run } of await refusedEverywhere(text, `${field}: this is a private key`, validateRoutes)) {
          for (const line of [...rsaPrivate.split("\n"), identityLine].filter((line) => line.length >= 40)) {
            expect(run.stderr).not.toContain(line.slice(0, 30))
          }
        }
      }
    })

    it("an unsupported key type, and an RSA key that is too small", async () => {
      await refusedEverywhere(
        JSON.stringify(base({ encryption_recipients: ["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJdD7y3aLq454yWBdwLWbieU1ebz9/cu7/QEXn9OIeZJ"] })),
        "encryption_recipients[0]: ssh-ed25519 keys are not supported",
        validateRoutes
      )
      const small = crypto.generateKeyPairSync("rsa", { modulusLength: 1024 }).publicKey.export({ type: "pkcs1", format: "pem" }).toString()
      await refusedEverywhere(
        JSON.stringify(base({ encryption_recipients: [], encryption_publickey: small })),
        "encryption_publickey: RSA key of 1024 bits; at least 2048 are needed",
        validateRoutes
      )
    })
  })

  describe("where the config comes from", () => {
    it("UBACKUP_CONF that is not base64, or empty", async () => {
      for (const [value, message] of [
        ["{not base64}", "UBACKUP_CONF: is not valid base64 (expected base64 of the JSON config)"],
        ["abc", "UBACKUP_CONF: is not valid base64"],
        ["", "UBACKUP_CONF: is set but empty"],
        ["  \n", "UBACKUP_CONF: is set but empty"]
      ] as const) {
        const run = await ubackup(["storage", "ls-services"], { cwd: emptyCwd, env: { UBACKUP_CONF: value } })
        expectRefusal(run, message, JSON.stringify(value))
      }
    })

    it("UBACKUP_CONF may be wrapped (base64 -w 76)", async () => {
      const encoded = Buffer.from(JSON.stringify(base())).toString("base64").replace(/(.{76})/g, "$1\n")
      const run = await ubackup(["storage", "ls-services"], { cwd: emptyCwd, env: { UBACKUP_CONF: encoded } })
      expect(run.code, run.stderr).toBe(0)
    })

    it("a missing --config file; a missing file to validate", async () => {
      const missing = path.join(dir, "no-such-config.json")
      expectRefusal(await ubackup(["storage", "ls-services", "--config", missing], { cwd: emptyCwd }), `${missing}: file not found`, "ls-services")
      expectRefusal(await ubackup(["config", "validate", missing], { cwd: emptyCwd }), `${missing}: file not found`, "validate")
    })

    it("--config wins over UBACKUP_CONF", async () => {
      const file = path.join(dir, "wins.json")
      fs.writeFileSync(file, JSON.stringify(base({ storage: { local: { path: "wins" } } })))
      const run = await ubackup(["storage", "ls-services", "--config", file], { cwd: emptyCwd, env: { UBACKUP_CONF: "!!!" } })
      expect(run.code, run.stderr).toBe(0)
    })

    it("no config anywhere: says every way to give one", async () => {
      const run = await ubackup(["storage", "ls-services"], { cwd: emptyCwd })
      expectRefusal(run, "config.json: no config: pass --config FILE, set UBACKUP_CONF (base64 of the JSON), or create ./config.json", "none")
    })

    it("./config.json is used when nothing else is given", async () => {
      const cwd = fs.mkdtempSync(path.join(dir, "cwd-with-config-"))
      fs.writeFileSync(path.join(cwd, "config.json"), JSON.stringify(base({ storage: { local: { path: "here" } } })))
      fs.mkdirSync(path.join(cwd, "here", "svc"), { recursive: true })
      const run = await ubackup(["storage", "ls-services"], { cwd })
      expect(run.code, run.stderr).toBe(0)
      expect(run.stdout.toString()).toBe("svc\n")
    })
  })

  describe("valid configs", () => {
    it("local storage: a relative path is resolved against the config file's folder, not the cwd", async () => {
      const configDir = path.join(dir, "project", "etc")
      fs.mkdirSync(configDir, { recursive: true })
      const file = path.join(configDir, "config.json")
      fs.writeFileSync(file, JSON.stringify(base({ storage: { local: { path: "../store" } } })))
      const expectedRoot = path.join(dir, "project", "store")

      const validate = await ubackup(["config", "validate", file], { cwd: emptyCwd })
      expect(validate.code, validate.stderr).toBe(0)
      expect(validate.stdout.toString()).toBe(`${file}: valid (storage local ${expectedRoot}; encrypted for X25519 ${recipient.slice(0, 12)}…${recipient.slice(-6)}; zstd)\n`)

      const input = Buffer.from("where does this land?\n")
      const backup = await ubackup(["manual-backup", "svc", "task1", "--config", file], { cwd: emptyCwd, input })
      expect(backup.code, backup.stderr).toBe(0)
      const id = backup.stdout.toString().trim()
      expect(fs.existsSync(path.join(expectedRoot, id))).toBe(true)
      expect(fs.readdirSync(emptyCwd)).toEqual([])

      // and the same config through UBACKUP_CONF resolves against the cwd
      const cwd = fs.mkdtempSync(path.join(dir, "cwd-env-"))
      const viaEnv = await ubackup(["manual-backup", "svc", "task2"], {
        cwd: path.join(cwd),
        input,
        env: { UBACKUP_CONF: Buffer.from(fs.readFileSync(file)).toString("base64") }
      })
      expect(viaEnv.code, viaEnv.stderr).toBe(0)
      expect(fs.existsSync(path.resolve(cwd, "../store", viaEnv.stdout.toString().trim()))).toBe(true)

      const keyFile = path.join(dir, "age.key")
      fs.writeFileSync(keyFile, ageIdentity)
      const restored = await ubackup(["decrypt", keyFile], { input: fs.readFileSync(path.join(expectedRoot, id)) })
      expect(restored.stdout.equals(input)).toBe(true)
    })

    it("s3 storage, with every option; the secret is not in the summary", async () => {
      const text = JSON.stringify({
        encryption_publickey: rsaPublic,
        encryption_recipients: [recipient, recipient2],
        compression: "gzip",
        storage: {
          s3: {
            bucket: "my-bucket",
            bucket_region: "eu-west-1",
            access_key_id: "AKIAEXAMPLE",
            access_key_secret: secret,
            endpoint: "http://127.0.0.1:1",
            force_path_style: true,
            part_size_mb: 16
          }
        }
      })
      for (const route of validateRoutes) {
        const { run, source } = await through(route, text)
        expect(run.code, run.stderr).toBe(0)
        expect(run.stdout.toString()).toMatch(new RegExp(`^${source.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}: valid \\(storage s3://my-bucket.*; encrypted for RSA-4096 \\(ssh-rsa .+\\), X25519 .+, X25519 .+; gzip\\)\\n$`))
        expect(run.stdout.toString() + run.stderr).not.toContain(secret)
      }
    })
  })

  describe("secrets never reach the output", () => {
    const s3 = (fields: string) => `{"encryption_recipients": ["${"RECIPIENT"}"], "storage": {"s3": {"bucket": "b", ${fields}}}}`
    const cases: Array<[string, string]> = [
      [`"access_key_id": "AKIA", "access_key_secrett": "${secret}"`, "storage.s3.access_key_secrett: unknown key"],
      [`"access_key_id": "AKIA", "access_key_secret": 12345`, "storage.s3.access_key_secret: Expected string"],
      [`"access_key_id": "AKIA", "access_key_secret": ["${secret}"]`, "storage.s3.access_key_secret: Expected string"],
      [`"access_key_id": "AKIA", "access_key_secret": {"value": "${secret}"}`, "storage.s3.access_key_secret: Expected string"],
      [`"access_key_id": "AKIA", "access_key_secret": ${secret}`, "invalid JSON at line 1, column"],
      [`"access_key_id": "AKIA", "access_key_secret": "${secret}}}`, "invalid JSON at line 1, column"],
      [`"access_key_id": "AKIA", "access_key_secret": "${secret}", "part_size_mb": "${secret}"`, "storage.s3.part_size_mb: Expected number"],
      [`"access_key_id": "AKIA", "access_key_secret": "${secret}", "endpoint": "${secret}"`, "storage.s3.endpoint: Expected an http:// or https:// URL"]
    ]
    it.each(cases)("%s", async (fields, message) => {
      const runs = await refusedEverywhere(s3(fields).replace("RECIPIENT", recipient), message)
      for (const { run } of runs) {
        expect(run.stderr).not.toContain(secret)
        expect(run.stderr).not.toContain("12345")
        expect(run.stderr).not.toContain("SUPERSECRE")
      }
    })

    it("a secret in a config that is not even JSON", async () => {
      await refusedEverywhere(secret, "invalid JSON at line 1, column 1: unexpected character")
      await refusedEverywhere(`"${secret}"`, "Expected object")
    })
  })

  describe("print-default-config", () => {
    const printAndValidate = async (args: ReadonlyArray<string>) => {
      const printed = await ubackup(["print-default-config", ...args], { cwd: emptyCwd })
      expect(printed.code, printed.stderr).toBe(0)
      const config = JSON.parse(printed.stdout.toString()) as Record<string, unknown>
      const validated = await ubackup(["config", "validate"], { input: printed.stdout, cwd: emptyCwd })
      return { config, validated }
    }

    it("--pubkey-file with an RSA PEM: encryption_publickey; the output validates", async () => {
      const file = path.join(dir, "rsa.pub")
      fs.writeFileSync(file, rsaPublic)
      const { config, validated } = await printAndValidate(["--pubkey-file", file])
      expect(config.encryption_publickey).toBe(rsaPublic.trim())
      expect(config.encryption_recipients).toBeUndefined()
      expect(config.storage).toEqual({ local: { path: "backups" } })
      expect(validated.code, validated.stderr).toBe(0)
      expect(validated.stdout.toString()).toContain("encrypted for RSA-4096")
    })

    it("--pubkey-file with age1 recipients (comments, blank lines): encryption_recipients; the output validates", async () => {
      const file = path.join(dir, "age.pub")
      fs.writeFileSync(file, `# laptop\n${recipient}\n\n# office\n${recipient2}\n`)
      const { config, validated } = await printAndValidate(["--pubkey-file", file])
      expect(config.encryption_recipients).toEqual([recipient, recipient2])
      expect(config.encryption_publickey).toBeUndefined()
      expect(validated.code, validated.stderr).toBe(0)
    })

    it("--pubkey-file with a private key, a bad recipient, a missing file: refused", async () => {
      const privateFile = path.join(dir, "rsa.key")
      fs.writeFileSync(privateFile, rsaPrivate)
      const refusedPrivate = await ubackup(["print-default-config", "--pubkey-file", privateFile])
      expectRefusal(refusedPrivate, `${privateFile}: this is a private key`, "private")
      expect(refusedPrivate.stderr).not.toContain(rsaPrivate.split("\n")[1]!)
      const badFile = path.join(dir, "bad.pub")
      fs.writeFileSync(badFile, `${recipient}\nage1qqqq\n`)
      expectRefusal(await ubackup(["print-default-config", "--pubkey-file", badFile]), `${badFile} line 2: not a valid age1…`, "bad")
      const missing = path.join(dir, "missing.pub")
      expectRefusal(await ubackup(["print-default-config", "--pubkey-file", missing]), `${missing}: file not found`, "missing")
    })

    it("without a key: a template whose only problem is the missing key", async () => {
      const { validated } = await printAndValidate([])
      expect(validated.code).toBe(1)
      expect(validated.stderr).toBe("ubackup: error: standard input: encryption_recipients: no encryption key: set encryption_publickey or encryption_recipients\n")
    })

    it("--kitchensink prints every top-level key and every s3 option", async () => {
      const printed = await ubackup(["print-default-config", "--kitchensink"])
      expect(printed.code, printed.stderr).toBe(0)
      const config = JSON.parse(printed.stdout.toString()) as Record<string, unknown>
      const schema = Schema.toJsonSchemaDocument(Schema.toEncoded(Config)).schema as {
        properties: Record<string, { anyOf?: ReadonlyArray<{ properties?: Record<string, { properties?: Record<string, unknown> }> }> }>
      }
      expect(Object.keys(config).sort()).toEqual(Object.keys(schema.properties).sort())
      const s3 = (config.storage as { s3: Record<string, unknown> }).s3
      // storage is one destination or a list of them: the first form's s3
      expect(Object.keys(s3).sort()).toEqual(Object.keys(schema.properties.storage!.anyOf![0]!.properties!.s3!.properties!).sort())
    })
  })
})
