/**
 * No secret ever leaves ubackup in anything it prints, sends or writes.
 *
 * Distinctive random secrets are planted everywhere a secret can sit: the
 * S3 key pair in the config (a wrong one against the real radosgw: a
 * signature error; an unknown key ID; an unreachable endpoint) and the real
 * radosgw key pair for the runs that succeed; AWS_ACCESS_KEY_ID,
 * AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN and UBACKUP_CONF (base64 of a
 * config holding secrets of its own) in the environment of every run; every
 * alert sink's credential (lambda-alertmanager's baseurl path and its API
 * Gateway host, Prometheus Alertmanager user:password, the Healthchecks
 * UUID, the ntfy topic and token, the Uptime Kuma push token, webhook URL
 * paths, query tokens, user:password and header values) pointing at a
 * server that records what it gets, at ones that answer 500 and echo the
 * request (its URL and Authorization header) back, one of them with the
 * header across the 128-byte cut of ubackup's error text, at one that redirects,
 * at a closed port and at a host that does not resolve; and the private
 * keys (age and RSA) that init and decryption-key-generate make, also
 * pasted by mistake where a public key belongs.
 *
 * Then every verb runs, through the real bin/ubackup: --help, --version and
 * each verb's --help, wrong invocations, init, print-default-config, the key
 * verbs, config validate (valid, with http:// warnings, invalid JSON around
 * a secret, a misspelt secret key, wrong types, a private key as a
 * recipient; from a file and from stdin), now --dry-run, now (succeeding
 * with host-command static targets, failing: a command that exits 1 or does
 * not exist, storage with wrong credentials, sinks that fail, a dead man's
 * switch check-in that fails), manual-backup, storage ls / ls-services /
 * get / cleanup, decrypt (right key, wrong key, garbage), scheduler run
 * (metrics over HTTP) and install-systemd-service-file. Every byte of every
 * stdout and stderr, every alert request (body, and the URL and headers
 * less that sink's own credentials), the metrics textfile, the metrics
 * served over HTTP, the systemd unit and the files init writes beside the
 * key is scanned for each secret raw, URL-encoded, JSON-escaped and as
 * base64 / base64url at every byte alignment, and for 12-character pieces of
 * its random part (a secret cut in half by a truncation): zero hits.
 *
 * The only exceptions: decryption-key-generate's stdout is the key it
 * generates (scanned for every other secret), and the configured
 * credentials in the URL and headers of a request to their own sink.
 */
import { CreateBucketCommand } from "@aws-sdk/client-s3"
import { spawn } from "node:child_process"
import * as crypto from "node:crypto"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest"
import { type Recorded, type RecordingServer, closedPort, startRecordingServer } from "../harness/alerts.ts"
import { binary, type Run, type RunOptions, ubackup, verbs } from "../harness/cli.ts"
import { rgwCommands, testS3Client } from "../harness/rgw.ts"
import { freePort, inCI, requireCommands, waitFor } from "../harness/tools.ts"

const s3 = inject("s3")
const s3Ready = (() => {
  const suite = "secrets scan, S3 part (radosgw)"
  if (!requireCommands(suite, ...rgwCommands)) return false
  if (s3 === null) {
    if (inCI) throw new Error(`CI=true but ${suite}: radosgw was not started by the global setup`)
    console.warn(`skipping ${suite}: radosgw was not started by the global setup`)
    return false
  }
  return true
})()

// ---------------------------------------------------------------- secrets and the forms a leak could take

interface Secret {
  readonly label: string
  readonly value: string
  /** The sink whose own requests may carry it (in their URL and headers): the first path segment of those requests. */
  readonly owner?: string | undefined
  /** Its random part: no 12 characters of it may appear either (a secret cut by a truncation). */
  readonly core?: string | undefined
  /** More forms to look for (a case-insensitive encoding's other case). */
  readonly extra?: ReadonlyArray<string> | undefined
}

const secrets = new Map<string, Secret>()

const plant = (label: string, value: string, options: Omit<Secret, "label" | "value"> = {}): string => {
  if (secrets.has(label)) throw new Error(`secret label used twice: ${label}`)
  secrets.set(label, { label, value, ...options })
  return value
}

const hex = (bytes = 16) => crypto.randomBytes(bytes).toString("hex")
/** `SECRET-<hex>`: its hex is the random part. */
const token = (label: string, owner?: string) => {
  const core = hex()
  return plant(label, `SECRET-${core}`, { owner, core })
}

/** base64 of `value` as it appears inside any longer base64 text, for each of the 3 byte alignments. */
const base64Forms = (value: string): Array<[string, string]> => {
  const bytes = Buffer.from(value, "utf8")
  const forms: Array<[string, string]> = []
  for (const shift of [0, 1, 2]) {
    const encoded = Buffer.concat([Buffer.alloc(shift), bytes]).toString("base64")
    // the first group mixes in what comes before; an incomplete last group, what comes after
    const core = encoded.slice(shift === 0 ? 0 : 4, (shift + bytes.length) % 3 === 0 ? encoded.length : encoded.length - 4)
    forms.push([`base64@${shift}`, core], [`base64url@${shift}`, core.replaceAll("+", "-").replaceAll("/", "_")])
  }
  return forms
}

const formsOf = (secret: Secret): Array<{ readonly kind: string; readonly bytes: Buffer }> => {
  const forms: Array<[string, string]> = [
    ["raw", secret.value],
    ["URL-encoded", encodeURIComponent(secret.value)],
    ["JSON-escaped", JSON.stringify(secret.value).slice(1, -1)],
    ...base64Forms(secret.value),
    ...(secret.extra ?? []).map((form): [string, string] => ["other case", form])
  ]
  const core = secret.core ?? ""
  if (core.length >= 16) {
    for (let i = 0; i + 12 <= core.length; i++) forms.push([`12-character piece at ${i}`, core.slice(i, i + 12)])
  }
  const seen = new Set<string>()
  return forms.flatMap(([kind, text]) => {
    if (text.length < 8 || seen.has(text)) return []
    seen.add(text)
    return [{ kind, bytes: Buffer.from(text, "utf8") }]
  })
}

// ---------------------------------------------------------------- what is scanned

interface Output {
  readonly name: string
  readonly bytes: Buffer
  /** Labels of secrets this output may hold (its own credentials, a key it prints). */
  readonly allowed: ReadonlySet<string>
}

const outputs: Array<Output> = []

const capture = (name: string, data: Buffer | string, allowed: Iterable<string> = []) =>
  void outputs.push({ name, bytes: Buffer.isBuffer(data) ? data : Buffer.from(data, "utf8"), allowed: new Set(allowed) })

const captureFile = (name: string, file: string) => capture(`${name} (${path.basename(file)})`, fs.readFileSync(file))

// ---------------------------------------------------------------- running the CLI

let dir: string
/** The environment of every run: AWS credentials and UBACKUP_CONF, all secrets. */
let secretEnv: Record<string, string> = {}

interface RunSpec extends RunOptions {
  /** The exit code it must have. */
  readonly code?: number
  /** Secrets its stdout may hold. */
  readonly stdoutAllowed?: ReadonlyArray<string>
}

const describeRun = (name: string, run: Run) => `${name}: exit ${run.code}\n--- stdout\n${run.stdout.toString()}\n--- stderr\n${run.stderr}`

/** Runs bin/ubackup with the secret environment (plus `spec.env`); both streams are captured for the scan. */
const cli = async (name: string, args: ReadonlyArray<string>, spec: RunSpec = {}): Promise<Run> => {
  const run = await ubackup(args, { ...spec, env: { ...secretEnv, ...spec.env } })
  capture(`${name}: stdout`, run.stdout, spec.stdoutAllowed)
  capture(`${name}: stderr`, run.stderr)
  if (spec.code !== undefined) expect(run.code, describeRun(name, run)).toBe(spec.code)
  return run
}

const writeJson = (name: string, value: unknown) => {
  const file = path.join(dir, name)
  fs.writeFileSync(file, JSON.stringify(value, null, 2))
  return file
}

// ---------------------------------------------------------------- alert sinks, each with its own credentials

/** `http://user:password@host:port` of `base`, both parts planted as secrets of `owner`, and the Basic credentials they make. */
const withUserinfo = (base: string, owner: string) => {
  const user = plant(`${owner}: URL user`, `user${hex(6)}`, { owner })
  const password = token(`${owner}: URL password`, owner)
  plant(`${owner}: user:password (Basic auth)`, `${user}:${password}`, { owner })
  return base.replace("://", `://${user}:${password}@`)
}

const lambdaAt = (base: string, owner: string) => ({ baseurl: `${base}/${owner}/${token(`${owner}: lambda-alertmanager baseurl path`, owner)}` })
const prometheusAt = (base: string, owner: string) => ({ url: `${withUserinfo(base, owner)}/${owner}`, labels: { team: "ops" } })
const healthchecksAt = (base: string, owner: string) => ({ url: `${base}/${owner}/ping/${token(`${owner}: Healthchecks check UUID`, owner)}` })
const ntfyAt = (base: string, owner: string) => ({
  url: `${base}/${owner}/${token(`${owner}: ntfy topic`, owner)}`,
  token: `tk_${token(`${owner}: ntfy access token`, owner)}`
})
const kumaAt = (base: string, owner: string) => ({
  push_url: `${base}/${owner}/api/push/${token(`${owner}: Uptime Kuma push token`, owner)}?status=up&msg=OK&ping=`
})
const webhookAt = (base: string, owner: string, userinfo = false) => ({
  url: `${userinfo ? withUserinfo(base, owner) : base}/${owner}/${token(`${owner}: webhook URL path token`, owner)}?token=${
    token(`${owner}: webhook URL query token`, owner)
  }`,
  headers: {
    Authorization: `Bearer ${token(`${owner}: webhook Authorization header`, owner)}`,
    // quotes, a backslash, + / =: its URL-encoded and JSON-escaped forms differ from it
    "X-Api-Key": plant(`${owner}: webhook X-Api-Key header`, `k"${hex(12)}\\+/=${hex(4)}`, { owner })
  }
})

/** Which sink a recorded request went to: the first segment of its path. */
const ownerOf = (request: Recorded) => request.url.split(/[/?]/)[1] ?? ""

const captureRequests = (server: string, recorded: ReadonlyArray<Recorded>) => {
  for (const [i, request] of recorded.entries()) {
    const owner = ownerOf(request)
    const own = [...secrets.values()].filter((secret) => secret.owner === owner).map((secret) => secret.label)
    const name = `${server} request ${i + 1} (${request.method} /${owner}/…)`
    capture(`${name}: body`, request.body)
    const headers = Object.entries(request.headers).map(([header, value]) => `${header}: ${String(value)}`).join("\n")
    capture(`${name}: URL and headers`, `${request.method} ${request.url}\n${headers}\n`, own)
  }
}

// ---------------------------------------------------------------- servers

let recorder: RecordingServer
/** Answers 500, and echoes the request's URL and credentials back, as a careless server may. */
let echo500: RecordingServer
/** Answers 500 with the Authorization header echoed across the 128-byte cut of an error text. */
let echoCut: RecordingServer
let redirect302: RecordingServer
let closedUrl: string

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "ubackup-secrets-"))
  recorder = await startRecordingServer()
  echo500 = await startRecordingServer((request) => ({
    status: 500,
    body: `Cannot ${request.method} ${request.url}; authorization: ${request.headers.authorization ?? "-"}; x-api-key: ${
      request.headers["x-api-key"] ?? "-"
    }; url ${decodeURIComponent(request.url)}`
  }))
  echoCut = await startRecordingServer((request) => ({ status: 500, body: `${"x".repeat(100)} ${request.headers.authorization ?? "-"}` }))
  redirect302 = await startRecordingServer((request) => ({
    status: 302,
    headers: { Location: `https://elsewhere.invalid${request.url}` },
    body: `Found: https://elsewhere.invalid${request.url} authorization=${request.headers.authorization ?? "-"}`
  }))
  closedUrl = `http://127.0.0.1:${await closedPort()}`
})

afterAll(async () => {
  await Promise.all([recorder?.close(), echo500?.close(), echoCut?.close(), redirect302?.close()])
  if (dir !== undefined) fs.rmSync(dir, { recursive: true, force: true })
})

// ---------------------------------------------------------------- the test

const quietTarget = { service_name: "ok", backup_command: ["echo", "hi"] }
/** The command's environment, as its backup: AWS_* and UBACKUP_* must not be in it. */
const envTarget = { service_name: "envdump", backup_command: ["env"] }
/** Says what it got of ubackup's secret variables (nothing), on stderr, which goes into the error and the alerts. */
const failingTarget = {
  service_name: "bad",
  backup_command: ["sh", "-c", "echo \"key=$AWS_SECRET_ACCESS_KEY token=$AWS_SESSION_TOKEN id=$AWS_ACCESS_KEY_ID conf=$UBACKUP_CONF\" >&2; exit 1"]
}
const missingTarget = { service_name: "missing", backup_command: ["/nonexistent/ubackup-secrets-no-such-command"] }

describe("secrets", () => {
  it("no verb prints, sends or writes a secret, in any encoding", async () => {
    // ------------------------------------------------------------ keys: age and RSA, from init
    const initInto = async (name: string, type: "x25519" | "rsa") => {
      const into = path.join(dir, name)
      await cli(`init --type ${type}`, ["init", "--dir", into, "--type", type], { code: 0 })
      const keyFile = path.join(into, "backups.key")
      const keyText = fs.readFileSync(keyFile, "utf8")
      for (const file of ["config.json", "backups.pub"]) captureFile(`init --type ${type} wrote`, path.join(into, file))
      return { keyFile, keyText, config: JSON.parse(fs.readFileSync(path.join(into, "config.json"), "utf8")) as Record<string, unknown> }
    }
    const plantAgeKey = (label: string, keyText: string) => {
      const line = keyText.split("\n").find((l) => l.startsWith("AGE-SECRET-KEY-1"))
      expect(line, `${label}: an AGE-SECRET-KEY-1 line`).toBeDefined()
      plant(label, line!, { core: line!.slice("AGE-SECRET-KEY-1".length), extra: [line!.toLowerCase()] })
    }
    /** The whole PEM, its lines past the public modulus, and the private exponent. */
    const plantRsaKey = (label: string, pem: string) => {
      plant(`${label} (PEM)`, pem.trim())
      const body = pem.split("\n").filter((line) => line !== "" && !line.startsWith("-----"))
      // 13 lines of 48 bytes: past the version, modulus (512 bytes) and public exponent
      body.slice(13).forEach((line, i) => plant(`${label} (PEM line ${14 + i})`, line))
      const jwk = crypto.createPrivateKey(pem).export({ format: "jwk" })
      plant(`${label} (private exponent d)`, String(jwk.d), { core: String(jwk.d) })
    }
    const [age, rsa] = await Promise.all([initInto("keys-age", "x25519"), initInto("keys-rsa", "rsa")])
    plantAgeKey("age identity from init", age.keyText)
    plantRsaKey("RSA private key from init", rsa.keyText)
    const ageKeys = { encryption_recipients: age.config.encryption_recipients }
    const rsaKeys = { encryption_publickey: rsa.config.encryption_publickey }

    // ------------------------------------------------------------ the secret environment of every run
    const envConfig = {
      ...ageKeys,
      storage: { local: { path: path.join(dir, "env-backups") } },
      static_targets: [quietTarget],
      alerts: { webhooks: [webhookAt(recorder.url, "env-wh")] }
    }
    const awsKeyCore = hex(8).toUpperCase()
    secretEnv = {
      AWS_ACCESS_KEY_ID: plant("env AWS_ACCESS_KEY_ID", `AKIA${awsKeyCore}`, { core: awsKeyCore }),
      AWS_SECRET_ACCESS_KEY: token("env AWS_SECRET_ACCESS_KEY"),
      AWS_SESSION_TOKEN: plant("env AWS_SESSION_TOKEN", `IQoJb3JpZ2luX2Vj${crypto.randomBytes(96).toString("base64")}`),
      UBACKUP_CONF: plant("env UBACKUP_CONF (base64 of a config)", Buffer.from(JSON.stringify(envConfig)).toString("base64"))
    }

    const metricsFile = (name: string) => path.join(dir, `${name}.prom`)
    /** Every sink at the recording server (200): alerts really sent, bodies captured. */
    const recordedSinks = (tag: string) => ({
      alertmanager: lambdaAt(recorder.url, `${tag}-lam`),
      alerts: {
        prometheus_alertmanager: prometheusAt(recorder.url, `${tag}-pam`),
        healthchecks: healthchecksAt(recorder.url, `${tag}-hc`),
        ntfy: ntfyAt(recorder.url, `${tag}-ntfy`),
        uptime_kuma: kumaAt(recorder.url, `${tag}-kuma`),
        webhooks: [webhookAt(recorder.url, `${tag}-wh`)]
      }
    })
    const apiGatewayId = plant("fail-b: lambda-alertmanager API Gateway ID (host)", `a${hex(6)}`)

    const configs = {
      main: writeJson("main.json", {
        ...ageKeys,
        storage: { local: { path: path.join(dir, "main-backups") } },
        static_targets: [quietTarget, envTarget, failingTarget, missingTarget],
        metrics_textfile: metricsFile("main"),
        ...recordedSinks("main")
      }),
      okOnly: writeJson("ok-only.json", {
        ...rsaKeys,
        storage: { local: { path: path.join(dir, "ok-backups") } },
        static_targets: [quietTarget, envTarget],
        metrics_textfile: metricsFile("ok-only"),
        ...recordedSinks("okonly")
      }),
      // sinks that fail in every way: a 500 that echoes the request back, a redirect, a closed port, a host that does not resolve
      failA: writeJson("fail-a.json", {
        ...ageKeys,
        storage: { local: { path: path.join(dir, "fail-backups") } },
        static_targets: [quietTarget, failingTarget],
        metrics_textfile: metricsFile("fail-a"),
        alertmanager: lambdaAt(echo500.url, "fa-lam"),
        alerts: {
          prometheus_alertmanager: prometheusAt(echo500.url, "fa-pam"),
          healthchecks: healthchecksAt(echo500.url, "fa-hc"),
          ntfy: ntfyAt(echo500.url, "fa-ntfy"),
          uptime_kuma: kumaAt(closedUrl, "fa-kuma"),
          webhooks: [
            webhookAt(echo500.url, "fa-wh500"),
            webhookAt(echo500.url, "fa-wh500u", true),
            webhookAt(redirect302.url, "fa-wh302"),
            webhookAt(closedUrl, "fa-whclosed", true)
          ]
        }
      }),
      failB: writeJson("fail-b.json", {
        ...ageKeys,
        storage: { local: { path: path.join(dir, "fail-backups") } },
        static_targets: [failingTarget],
        alertmanager: { baseurl: `http://${apiGatewayId}.execute-api.invalid/prod/${token("fail-b: lambda-alertmanager baseurl path")}` },
        alerts: {
          prometheus_alertmanager: prometheusAt(echoCut.url, "fb-pam"),
          healthchecks: healthchecksAt(redirect302.url, "fb-hc"),
          ntfy: ntfyAt(echoCut.url, "fb-ntfy"),
          uptime_kuma: kumaAt(redirect302.url, "fb-kuma"),
          webhooks: [webhookAt(echoCut.url, "fb-whcut"), webhookAt(closedUrl, "fb-whclosed")]
        }
      }),
      // every backup stored, but the dead man's switch check-in fails: the run fails
      checkIn: writeJson("check-in.json", {
        ...ageKeys,
        storage: { local: { path: path.join(dir, "fail-backups") } },
        static_targets: [quietTarget],
        alertmanager: lambdaAt(echo500.url, "ci-lam")
      }),
      // valid, but its secrets would cross the network in the clear: config validate warns
      plainHttp: writeJson("plain-http.json", {
        ...ageKeys,
        storage: { local: { path: path.join(dir, "unused") } },
        alertmanager: { baseurl: `http://alerts.example.invalid/${token("plain-http: lambda-alertmanager baseurl path")}` },
        alerts: {
          prometheus_alertmanager: { url: `http://pam${hex(2)}:${token("plain-http: Prometheus Alertmanager URL password")}@pam.example.invalid` },
          healthchecks: { url: `http://hc.example.invalid/ping/${token("plain-http: Healthchecks check UUID")}` },
          ntfy: { url: "http://ntfy.example.invalid/topic", token: token("plain-http: ntfy access token") },
          uptime_kuma: { push_url: `http://kuma.example.invalid/api/push/${token("plain-http: Uptime Kuma push token")}` },
          webhooks: [{
            url: `http://hooks.example.invalid/${token("plain-http: webhook URL path token")}`,
            headers: { Authorization: `Bearer ${token("plain-http: webhook Authorization header")}` }
          }]
        }
      })
    }
    const invalid = {
      // V8 quotes the text around a JSON syntax error: that quote must not get through
      unquoted: `{"storage": {"s3": {"bucket": "b", "access_key_id": "AKIA", "access_key_secret": ${token("invalid JSON: unquoted secret")}}}}`,
      unterminated: `{"storage": {"s3": {"bucket": "b", "access_key_secret": "${token("invalid JSON: unterminated secret")}`,
      controlCharacter: `{"alerts": {"ntfy": {"url": "https://ntfy.invalid/t", "token": "${token("invalid JSON: secret with a raw tab")}\t"}}}`,
      misspelt: JSON.stringify({
        ...ageKeys,
        storage: { s3: { bucket: "b", access_key_id: "AKIAEXAMPLE", acess_key_secret: token("misspelt key: access_key_secret value") } }
      }),
      wrongTypes: JSON.stringify({
        ...ageKeys,
        storage: { s3: { bucket: "b", access_key_id: "AKIAEXAMPLE", access_key_secret: [token("wrong type: access_key_secret in an array")] } },
        alertmanager: { baseurl: `ftp://${token("wrong scheme: lambda-alertmanager baseurl")}` },
        alerts: {
          healthchecks: { url: `hxxp://hc.invalid/${token("wrong scheme: Healthchecks URL")}` },
          webhooks: [{ url: "https://hooks.invalid/x", headers: { Authorization: { token: token("wrong type: webhook header in an object") } } }]
        }
      }),
      // private keys pasted where the public key belongs
      ageAsRecipient: JSON.stringify({ encryption_recipients: [age.keyText], storage: { local: { path: "b" } } }),
      rsaAsPublicKey: JSON.stringify({ encryption_publickey: rsa.keyText, storage: { local: { path: "b" } } })
    }
    const invalidFiles = Object.fromEntries(Object.entries(invalid).map(([name, text]) => {
      const file = path.join(dir, `invalid-${name}.json`)
      fs.writeFileSync(file, text)
      return [name, file]
    })) as Record<keyof typeof invalid, string>

    // ------------------------------------------------------------ help, version, and the verbs that need no config
    const everyVerb = [[], ...verbs]
    const standalone = async () => {
      await Promise.all(everyVerb.map((verb) => cli(`${["ubackup", ...verb].join(" ")} --help`, [...verb, "--help"], { code: 0 })))
      await Promise.all([
        cli("--version", ["--version"], { code: 0 }),
        cli("--completions bash", ["--completions", "bash"], { code: 0 }),
        // wrong invocations: help and the error on stderr
        cli("storage get (no ID)", ["storage", "get"], { code: 1 }),
        cli("now --bogus", ["now", "--bogus", "--config", configs.main], { code: 1 }),
        cli("frobnicate", ["frobnicate"], { code: 1 }),
        cli("init into an existing folder", ["init", "--dir", path.dirname(age.keyFile), "--type", "x25519"], { code: 1 }),
        cli("print-default-config", ["print-default-config"], { code: 0 }),
        cli("print-default-config --kitchensink", ["print-default-config", "--kitchensink"], { code: 0 }),
        cli("print-default-config --pubkey-file (age)", ["print-default-config", "--pubkey-file", `${path.dirname(age.keyFile)}/backups.pub`], { code: 0 }),
        cli("print-default-config --pubkey-file (RSA)", ["print-default-config", "--pubkey-file", `${path.dirname(rsa.keyFile)}/backups.pub`], { code: 0 }),
        cli("print-default-config --pubkey-file <the private key>", ["print-default-config", "--pubkey-file", rsa.keyFile], { code: 1 }),
        cli("print-default-config --pubkey-file <the age identity>", ["print-default-config", "--pubkey-file", age.keyFile], { code: 1 }),
        cli("decryption-key-to-encryption-key (age)", ["decryption-key-to-encryption-key"], { input: age.keyText, code: 0 }),
        cli("decryption-key-to-encryption-key (RSA)", ["decryption-key-to-encryption-key"], { input: rsa.keyText, code: 0 }),
        cli("decryption-key-to-encryption-key (a damaged key)", ["decryption-key-to-encryption-key"], {
          input: age.keyText.replace("AGE-SECRET-KEY-1", "AGE-SECRET-KEY-1Q"),
          code: 1
        }),
        ...(["x25519", "rsa"] as const).map(async (type) => {
          const label = `decryption-key-generate --type ${type}`
          const run = await ubackup(["decryption-key-generate", "--type", type], { env: secretEnv })
          expect(run.code, describeRun(label, run)).toBe(0)
          const key = run.stdout.toString()
          // its stdout is the key: scanned for every other secret
          if (type === "x25519") plantAgeKey(`age identity from ${label}`, key)
          else plantRsaKey(`RSA private key from ${label}`, key)
          const own = [...secrets.keys()].filter((name) => name.includes(label))
          capture(`${label}: stdout`, run.stdout, own)
          capture(`${label}: stderr`, run.stderr)
          await cli(`decryption-key-to-encryption-key (from ${label})`, ["decryption-key-to-encryption-key"], { input: key, code: 0 })
        })
      ])
    }

    // ------------------------------------------------------------ config validate
    const validate = () =>
      Promise.all([
        ...Object.entries(configs).filter(([name]) => name !== "checkIn").map(([name, file]) => cli(`config validate ${name}`, ["config", "validate", file], { code: 0 })),
        cli("config validate (stdin)", ["config", "validate"], { input: fs.readFileSync(configs.failA), code: 0 }),
        ...Object.entries(invalidFiles).map(([name, file]) => cli(`config validate invalid ${name}`, ["config", "validate", file], { code: 1 })),
        cli("config validate (stdin, invalid JSON)", ["config", "validate"], { input: invalid.unquoted, code: 1 }),
        // UBACKUP_CONF that is not base64, and base64 of broken JSON, and of a config with a misspelt secret key
        cli("now --dry-run (UBACKUP_CONF not base64)", ["now", "--dry-run"], {
          env: { UBACKUP_CONF: `{"access_key_secret": "${token("UBACKUP_CONF not base64: secret")}"}` },
          code: 1
        }),
        ...(["unquoted", "misspelt"] as const).map((name) =>
          cli(`now --dry-run (UBACKUP_CONF: invalid ${name})`, ["now", "--dry-run"], {
            env: { UBACKUP_CONF: Buffer.from(invalid[name]).toString("base64") },
            code: 1
          })
        ),
        cli("now --dry-run (age identity as recipient)", ["now", "--config", invalidFiles.ageAsRecipient], { code: 1 }),
        cli("manual-backup (RSA private key as public key)", ["manual-backup", "svc", "t", "--config", invalidFiles.rsaAsPublicKey], {
          input: "data",
          code: 1
        })
      ])

    // ------------------------------------------------------------ now, and what it stored, on local storage
    const restore = async (name: string, config: string, keyFile: string, service: string) => {
      const ls = await cli(`${name}: storage ls ${service}`, ["storage", "ls", service, "--config", config], { code: 0 })
      const id = ls.stdout.toString().trim().split("\n").at(-1)!
      expect(id, describeRun(`${name}: storage ls`, ls)).toContain(`${service}/`)
      const get = await cli(`${name}: storage get`, ["storage", "get", id, "--config", config], { code: 0 })
      const plain = await cli(`${name}: decrypt`, ["decrypt", keyFile], { input: get.stdout, code: 0 })
      return plain.stdout.toString()
    }
    const local = async () => {
      // the runs that wait on retries (500s, a closed port) start first
      const slow = Promise.all([
        cli("now fail-a", ["--log-level", "all", "now", "--config", configs.failA], { code: 1 }).then((run) => {
          // the 500's echo went through the error path (scrubbed), the redirect was refused
          expect(run.stderr, describeRun("now fail-a", run)).toContain("Cannot POST")
          expect(run.stderr, describeRun("now fail-a", run)).toContain("redirect")
        }),
        cli("now fail-b", ["--log-level", "all", "now", "--config", configs.failB], { code: 1 }),
        cli("now check-in fails", ["now", "--config", configs.checkIn], { code: 1 }).then((run) => {
          expect(run.stderr, describeRun("now check-in fails", run)).toContain("check-in failed")
        })
      ])
      await Promise.all([
        cli("now --dry-run main", ["now", "--dry-run", "--config", configs.main], { code: 0 }),
        cli("now --dry-run (UBACKUP_CONF)", ["now", "--dry-run"], { code: 0 }),
        cli("now --dry-run fail-a", ["--log-level", "all", "now", "--dry-run", "--config", configs.failA], { code: 0 })
      ])
      const [main] = await Promise.all([
        cli("now main", ["--log-level", "all", "now", "--config", configs.main], { code: 1 }),
        cli("now ok-only", ["--log-level", "all", "now", "--config", configs.okOnly], { code: 0 }),
        cli("now (UBACKUP_CONF)", ["now"], { code: 0 }),
        cli("manual-backup main", ["manual-backup", "manual", "t1", "--file-extension", ".txt", "--config", configs.main], {
          input: "manual data\n",
          code: 0
        })
      ])
      expect(main.stdout.toString()).toMatch(/bad\s+static.*FAILED/)
      for (const name of ["main", "ok-only"]) captureFile(`metrics textfile of now ${name}`, metricsFile(name))
      const dumped = await restore("main", configs.main, age.keyFile, "envdump")
      expect(dumped).toContain("PATH=")
      expect(await restore("ok-only", configs.okOnly, rsa.keyFile, "envdump")).toContain("PATH=")
      expect(await restore("manual", configs.main, age.keyFile, "manual")).toBe("manual data\n")
      const id = (await ubackup(["storage", "ls", "ok", "--config", configs.main])).stdout.toString().trim()
      const sealed = (await ubackup(["storage", "get", id, "--config", configs.main])).stdout
      await Promise.all([
        cli("storage ls --long main", ["storage", "ls", "--long", "envdump", "--config", configs.main], { code: 0 }),
        cli("decrypt --raw", ["decrypt", "--raw", age.keyFile], { input: sealed, code: 0 }),
        cli("storage ls-services main", ["storage", "ls-services", "--config", configs.main], { code: 0 }),
        cli("storage ls-services (UBACKUP_CONF)", ["storage", "ls-services"], { code: 0 }),
        cli("storage ls (no such service)", ["storage", "ls", "nobody", "--config", configs.main], { code: 0 }),
        cli("storage get (no such backup)", ["storage", "get", "ok/nothing.age", "--config", configs.main], { code: 1 }),
        cli("storage cleanup main", ["storage", "cleanup", "--config", configs.main], { code: 0 }),
        cli("storage cleanup --all-hosts --older-than 1s", ["storage", "cleanup", "--all-hosts", "--older-than", "1s", "--config", configs.main], {
          code: 0
        }),
        cli("storage cleanup --older-than <bad>", ["storage", "cleanup", "--older-than", "soon", "--config", configs.main], { code: 1 }),
        cli("decrypt with another key", ["decrypt", rsa.keyFile], { input: sealed, code: 1 }),
        cli("decrypt garbage", ["decrypt", age.keyFile], { input: "not a backup at all", code: 1 }),
        cli("decrypt a damaged backup", ["decrypt", age.keyFile], { input: Buffer.concat([sealed.subarray(0, -20), Buffer.alloc(20)]), code: 1 }),
        cli("decrypt with no key file", ["decrypt", path.join(dir, "no-such.key")], { input: sealed, code: 1 })
      ])
      await slow
      captureFile("metrics textfile of now fail-a", metricsFile("fail-a"))
    }

    // ------------------------------------------------------------ scheduler run: metrics over HTTP, warnings at start
    const scheduler = async () => {
      const listen = `127.0.0.1:${await freePort()}`
      const config = writeJson("scheduler.json", {
        ...ageKeys,
        storage: { local: { path: path.join(dir, "scheduler-backups") } },
        static_targets: [quietTarget, failingTarget],
        metrics_listen: listen,
        alerts: {
          webhooks: [webhookAt(recorder.url, "sched-wh")],
          // plain http:// to another host: warned about at start, and it does not resolve
          uptime_kuma: { push_url: `http://kuma.example.invalid/api/push/${token("scheduler: Uptime Kuma push token")}` }
        }
      })
      const child = spawn(binary, ["--log-level", "all", "scheduler", "run", "--run-now", "--config", config], {
        env: { ...process.env, ...secretEnv },
        stdio: ["ignore", "pipe", "pipe"]
      })
      let stdout = ""
      let stderr = ""
      child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()))
      child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()))
      const exited = new Promise<number | null>((resolve) => child.on("close", (code) => resolve(code)))
      try {
        await waitFor("the scheduler's run_finished webhook", () =>
          recorder.requests.some((r) => ownerOf(r) === "sched-wh" && r.body.toString().includes("run_finished")) || undefined, 60_000)
        await waitFor("the scheduler's Uptime Kuma push to fail", () => stderr.includes("uptime-kuma") || undefined, 60_000)
        const metrics = await fetch(`http://${listen}/metrics`)
        expect(metrics.status).toBe(200)
        const text = await metrics.text()
        expect(text).toContain('ubackup_last_run_success{service="bad"} 0')
        capture("scheduler run: GET /metrics", text)
      } finally {
        child.kill("SIGTERM")
      }
      expect(await exited, stderr).toBe(0)
      expect(stderr).toContain("plain http://")
      capture("scheduler run: stdout", stdout)
      capture("scheduler run: stderr", stderr)
    }

    // ------------------------------------------------------------ the systemd unit
    const systemd = async () => {
      for (const [name, args] of [["--config", ["--config", configs.failA]], ["UBACKUP_CONF", []]] as const) {
        const unitDir = fs.mkdtempSync(path.join(dir, "unit-"))
        await cli(`install-systemd-service-file (${name})`, ["scheduler", "install-systemd-service-file", "--unit-dir", unitDir, ...args], { code: 0 })
        captureFile(`systemd unit (${name})`, path.join(unitDir, "ubackup.service"))
      }
    }

    // ------------------------------------------------------------ S3: the real radosgw, right and wrong credentials
    const s3Part = async () => {
      if (!s3Ready || s3 === null) return
      plant("radosgw access key ID", s3.accessKeyId)
      plant("radosgw secret access key", s3.secretAccessKey)
      const bucket = `ubackup-secrets-${hex(4)}`
      await testS3Client(s3).send(new CreateBucketCommand({ Bucket: bucket }))
      const storage = (credentials: { access_key_id?: string; access_key_secret?: string }, endpoint = s3.endpoint) => ({
        s3: { bucket, bucket_region: s3.region, endpoint, force_path_style: true, ...credentials }
      })
      const real = { access_key_id: s3.accessKeyId, access_key_secret: s3.secretAccessKey }
      const s3Configs = {
        good: writeJson("s3-good.json", {
          ...ageKeys,
          storage: storage(real),
          static_targets: [quietTarget, envTarget],
          alerts: { healthchecks: healthchecksAt(recorder.url, "s3-hc"), webhooks: [webhookAt(recorder.url, "s3-wh")] }
        }),
        // the real key ID with a wrong secret: the store says the signature does not match
        wrongSecret: writeJson("s3-wrong-secret.json", {
          ...ageKeys,
          storage: storage({ access_key_id: s3.accessKeyId, access_key_secret: token("S3 access_key_secret (wrong)") }),
          static_targets: [quietTarget],
          alerts: { ntfy: ntfyAt(recorder.url, "s3w-ntfy"), webhooks: [webhookAt(recorder.url, "s3w-wh")] }
        }),
        unknownKey: writeJson("s3-unknown-key.json", {
          ...ageKeys,
          storage: storage({
            access_key_id: plant("S3 access_key_id (unknown)", `AKIA${hex(8).toUpperCase()}`),
            access_key_secret: token("S3 access_key_secret (of the unknown key)")
          }),
          static_targets: [quietTarget]
        }),
        unreachable: writeJson("s3-unreachable.json", {
          ...ageKeys,
          storage: storage({ access_key_id: s3.accessKeyId, access_key_secret: token("S3 access_key_secret (unreachable store)") }, closedUrl),
          static_targets: [quietTarget]
        }),
        // no keys in the config: the AWS credential chain (the environment)
        fromEnv: writeJson("s3-env.json", {
          ...ageKeys,
          storage: storage({}),
          static_targets: [envTarget, failingTarget],
          alerts: { webhooks: [webhookAt(recorder.url, "s3e-wh")] }
        })
      }
      const realEnv = { AWS_ACCESS_KEY_ID: s3.accessKeyId, AWS_SECRET_ACCESS_KEY: s3.secretAccessKey, AWS_SESSION_TOKEN: undefined }
      const wrongEnv = {
        AWS_ACCESS_KEY_ID: s3.accessKeyId,
        AWS_SECRET_ACCESS_KEY: token("env AWS_SECRET_ACCESS_KEY (wrong, for radosgw)"),
        AWS_SESSION_TOKEN: token("env AWS_SESSION_TOKEN (for radosgw)")
      }
      await Promise.all([
        ...(["good", "wrongSecret", "fromEnv"] as const).map((name) => cli(`config validate s3 ${name}`, ["config", "validate", s3Configs[name]], { code: 0 })),
        cli("now --dry-run s3 good", ["now", "--dry-run", "--config", s3Configs.good], { code: 0 })
      ])
      await Promise.all([
        cli("now s3 good", ["--log-level", "all", "now", "--config", s3Configs.good], { code: 0 }),
        cli("manual-backup s3 good", ["manual-backup", "manual", "t1", "--config", s3Configs.good], { input: "s3 manual data\n", code: 0 }),
        cli("now s3 wrong secret", ["--log-level", "all", "now", "--config", s3Configs.wrongSecret], { code: 1 }).then((run) => {
          expect(run.stdout.toString(), describeRun("now s3 wrong secret", run)).toContain("secret key is wrong")
        }),
        cli("manual-backup s3 wrong secret", ["manual-backup", "manual", "t1", "--config", s3Configs.wrongSecret], { input: "data", code: 1 }),
        cli("storage cleanup s3 wrong secret", ["storage", "cleanup", "--config", s3Configs.wrongSecret], { code: 1 }),
        cli("storage ls-services s3 unknown key", ["--log-level", "all", "storage", "ls-services", "--config", s3Configs.unknownKey], { code: 1 }),
        cli("storage ls-services s3 unreachable", ["storage", "ls-services", "--config", s3Configs.unreachable], { code: 1 }),
        cli("now s3 credentials from the environment", ["--log-level", "all", "now", "--config", s3Configs.fromEnv], { env: realEnv, code: 1 }),
        cli("storage ls-services s3 wrong credentials in the environment", ["storage", "ls-services", "--config", s3Configs.fromEnv], {
          env: wrongEnv,
          code: 1
        }),
        cli("now s3 wrong credentials in the environment", ["now", "--config", s3Configs.fromEnv], { env: wrongEnv, code: 1 })
      ])
      expect(await restore("s3 good", s3Configs.good, age.keyFile, "envdump")).toContain("PATH=")
      // the environment's real credentials were not handed to the command whose output is the backup
      const restoreEnv = async (name: string) => {
        const ls = await cli(`s3 env: storage ls ${name}`, ["storage", "ls", name, "--config", s3Configs.fromEnv], { env: realEnv, code: 0 })
        const id = ls.stdout.toString().trim().split("\n").at(-1)!
        const get = await cli("s3 env: storage get", ["storage", "get", id, "--config", s3Configs.fromEnv], { env: realEnv, code: 0 })
        return (await cli("s3 env: decrypt", ["decrypt", age.keyFile], { input: get.stdout, code: 0 })).stdout.toString()
      }
      expect(await restoreEnv("envdump")).toContain("PATH=")
      await Promise.all([
        cli("storage ls-services s3 good", ["storage", "ls-services", "--config", s3Configs.good], { code: 0 }),
        cli("storage cleanup s3 good", ["storage", "cleanup", "--all-hosts", "--older-than", "1s", "--config", s3Configs.good], { code: 0 }),
        cli("storage get s3 (no such backup)", ["storage", "get", "ok/2001-01-01 0000Z_h_static.zst.age", "--config", s3Configs.good], { code: 1 })
      ])
    }

    const started = Date.now()
    await Promise.all([standalone(), validate(), local(), scheduler(), systemd(), s3Part()])
    const ms = Date.now() - started

    // ------------------------------------------------------------ what the sinks were sent
    expect(recorder.requests.length).toBeGreaterThan(20)
    expect(echo500.requests.length).toBeGreaterThan(10)
    expect(echoCut.requests.length).toBeGreaterThan(3)
    expect(redirect302.requests.length).toBeGreaterThan(0)
    for (const owner of ["main-lam", "main-pam", "main-hc", "main-ntfy", "main-kuma", "main-wh", "env-wh", "sched-wh"]) {
      expect(recorder.requests.some((r) => ownerOf(r) === owner), `a request to ${owner}`).toBe(true)
    }
    captureRequests("recording server", recorder.requests)
    captureRequests("500 echo server", echo500.requests)
    captureRequests("500 echo-across-the-cut server", echoCut.requests)
    captureRequests("302 server", redirect302.requests)

    // ------------------------------------------------------------ the scan
    const forms = [...secrets.values()].map((secret) => ({ secret, forms: formsOf(secret) }))
    const hits: Array<string> = []
    for (const output of outputs) {
      for (const { secret, forms: encoded } of forms) {
        if (output.allowed.has(secret.label)) continue
        const found = encoded.find((form) => output.bytes.includes(form.bytes))
        if (found !== undefined) hits.push(`${output.name}: ${secret.label} (${found.kind})`)
      }
    }
    const bytes = outputs.reduce((sum, output) => sum + output.bytes.length, 0)
    console.log(`secrets scan: ${outputs.length} outputs, ${bytes} bytes, ${secrets.size} secrets, ${hits.length} hits`)
    if (!s3Ready) console.warn(`secrets scan: the S3 part did not run (no radosgw); ${ms} ms`)
    expect(hits, `secrets found:\n${hits.join("\n")}`).toEqual([])
  }, 120_000)
})
