/**
 * A real PostgreSQL server in a container, built without any registry: the
 * image's root filesystem is assembled from the host's PostgreSQL server
 * (/usr/lib/postgresql/<major>, /usr/share/postgresql/<major>), the shared
 * libraries `ldd` lists for its programs, the host's static busybox as
 * /bin/sh and the usual applets, and a `postgres` user (uid 999), then
 * `docker import`ed. The container runs as `postgres`, initdb's a cluster on
 * first start and listens on /var/run/postgresql and 127.0.0.1 (trust auth),
 * so `docker exec <c> psql -U postgres` works on `--network none`.
 */
import { execFile, execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { promisify } from "node:util"
import { type ContainerOptions, docker, type DockerRun, dockerWithInput, requireDocker, runContainer, testLabel } from "./docker.ts"
import { inCI, sleep } from "./tools.ts"

const run = promisify(execFile)

/** The host's newest PostgreSQL major version with a server binary, or undefined. */
export const postgresMajor = (): string | undefined => {
  let versions: Array<string>
  try {
    versions = fs.readdirSync("/usr/lib/postgresql")
  } catch {
    return undefined
  }
  return versions
    .filter((v) => /^\d+$/.test(v) && fs.existsSync(`/usr/lib/postgresql/${v}/bin/postgres`))
    .sort((a, b) => Number(b) - Number(a))[0]
}

export const postgresImage = (major: string) => `ubackup-test/postgres:${major}`

/** True when Docker answers and the host has a PostgreSQL server to copy; in CI their absence fails the run. */
export const requirePostgres = (suite: string): boolean => {
  if (!requireDocker(suite)) return false
  if (postgresMajor() !== undefined && fs.existsSync("/usr/share/postgresql")) return true
  const reason = `${suite}: needs the PostgreSQL server (/usr/lib/postgresql/<major>/bin/postgres; apt-get install postgresql)`
  if (inCI) throw new Error(`CI=true but ${reason}`)
  console.warn(`skipping ${reason}`)
  return false
}

const pgPaths = (major: string) => ({
  lib: `/usr/lib/postgresql/${major}`,
  share: `/usr/share/postgresql/${major}`,
  bin: `/usr/lib/postgresql/${major}/bin`
})

const isElf = (file: string): boolean => {
  try {
    const fd = fs.openSync(file, "r")
    try {
      const magic = Buffer.alloc(4)
      fs.readSync(fd, magic, 0, 4, 0)
      return magic.equals(Buffer.from([0x7f, 0x45, 0x4c, 0x46]))
    } finally {
      fs.closeSync(fd)
    }
  } catch {
    return false
  }
}

/** The absolute paths of the shared libraries (and the loader) `ldd` lists for `files`. */
const sharedLibraries = (files: ReadonlyArray<string>): Set<string> => {
  const libraries = new Set<string>()
  for (const file of files) {
    let output: string
    try {
      output = execFileSync("ldd", [file], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] })
    } catch {
      continue // "not a dynamic executable"
    }
    for (const line of output.split("\n")) {
      const arrow = /=>\s+(\/\S+)\s+\(/.exec(line)
      const direct = /^\s*(\/\S+)\s+\(/.exec(line)
      const found = arrow?.[1] ?? direct?.[1]
      if (found !== undefined) libraries.add(found)
      if (/=>\s+not found/.test(line)) throw new Error(`ldd ${file}: ${line.trim()}`)
    }
  }
  return libraries
}

const entrypoint = (major: string) => `#!/bin/sh
# Creates a cluster on first start, then runs the server in the foreground.
set -e
PGDATA="\${PGDATA:-/var/lib/postgresql/data}"
if [ ! -s "$PGDATA/PG_VERSION" ]; then
  if ! initdb -D "$PGDATA" -U postgres --auth=trust --encoding=UTF8 --locale=C --no-sync >/tmp/initdb.log 2>&1; then
    cat /tmp/initdb.log >&2
    exit 1
  fi
fi
exec /usr/lib/postgresql/${major}/bin/postgres -D "$PGDATA" \\
  -c listen_addresses=127.0.0.1 -c unix_socket_directories=/var/run/postgresql \\
  -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c jit=off \\
  -c shared_buffers=32MB -c max_connections=30 "$@"
`

/** Assembles the root filesystem for the image into `root`. */
const assembleRootfs = (root: string, major: string) => {
  const { lib, share, bin } = pgPaths(major)
  const into = (p: string) => path.join(root, p)
  const mkdir = (p: string, mode = 0o755) => {
    fs.mkdirSync(into(p), { recursive: true })
    fs.chmodSync(into(p), mode)
  }
  for (const dir of ["bin", "etc", "root", "usr/local/bin", "usr/share", "var/lib", "var/run", "dev", "proc", "sys"]) mkdir(dir)
  mkdir("tmp", 0o1777)

  // the server; JIT (llvmjit.so and its bitcode) would pull in libLLVM, and is turned off
  const skip = (src: string) => /\/lib\/(bitcode|llvmjit[^/]*)$/.test(src)
  fs.cpSync(lib, into(lib), { recursive: true, verbatimSymlinks: true, filter: (src) => !skip(src) })
  fs.cpSync(share, into(share), { recursive: true, verbatimSymlinks: true })
  // the server's time zone data (Debian builds with the system tzdata)
  if (fs.existsSync("/usr/share/zoneinfo")) fs.cpSync("/usr/share/zoneinfo", into("/usr/share/zoneinfo"), { recursive: true, dereference: true })

  // shared libraries of every program and loadable module, symlinks resolved, at the paths ldd named
  const elves = [
    ...fs.readdirSync(bin).map((f) => path.join(bin, f)),
    ...fs.readdirSync(path.join(lib, "lib")).filter((f) => f.endsWith(".so") && !f.startsWith("llvmjit")).map((f) => path.join(lib, "lib", f))
  ].filter((f) => fs.statSync(f).isFile() && isElf(f))
  for (const library of sharedLibraries(elves)) {
    fs.mkdirSync(path.dirname(into(library)), { recursive: true })
    fs.copyFileSync(fs.realpathSync(library), into(library))
    fs.chmodSync(into(library), 0o755)
  }

  // busybox as /bin/sh and its applets
  const busybox = execFileSync("sh", ["-c", "command -v busybox"], { encoding: "utf8" }).trim()
  fs.copyFileSync(fs.realpathSync(busybox), into("bin/busybox"))
  fs.chmodSync(into("bin/busybox"), 0o755)
  const applets = execFileSync(busybox, ["--list"], { encoding: "utf8" }).split("\n").filter((a) => /^[\w.[-]+$/.test(a) && a !== "busybox")
  for (const applet of applets) {
    if (!fs.existsSync(into(`bin/${applet}`))) fs.symlinkSync("busybox", into(`bin/${applet}`))
  }

  fs.writeFileSync(
    into("etc/passwd"),
    "root:x:0:0:root:/root:/bin/sh\npostgres:x:999:999:PostgreSQL:/var/lib/postgresql:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n"
  )
  fs.writeFileSync(into("etc/group"), "root:x:0:\npostgres:x:999:\nnogroup:x:65534:\n")
  fs.writeFileSync(into("etc/nsswitch.conf"), "passwd: files\ngroup: files\nhosts: files\n")
  fs.writeFileSync(into("etc/hosts"), "127.0.0.1 localhost\n")

  // writable by postgres: owned by uid 999 when we can chown, else world-writable (sticky)
  const asRoot = process.getuid?.() === 0
  for (const dir of ["var/lib/postgresql", "var/run/postgresql"]) {
    mkdir(dir, asRoot ? 0o775 : 0o1777)
    if (asRoot) fs.chownSync(into(dir), 999, 999)
  }
  fs.writeFileSync(into("usr/local/bin/docker-entrypoint.sh"), entrypoint(major), { mode: 0o755 })
}

/**
 * Builds (once per engine: reused when the tag exists) `ubackup-test/postgres:<major>`
 * from the host's PostgreSQL and busybox, with `docker import`.
 */
export const buildPostgresImage = async (): Promise<string> => {
  const major = postgresMajor()
  if (major === undefined) throw new Error("no PostgreSQL server on this host (/usr/lib/postgresql/<major>/bin/postgres)")
  const image = postgresImage(major)
  if ((await docker("images", "-q", image)) !== "") return image
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "ubackup-pgimage-"))
  try {
    const root = path.join(dir, "rootfs")
    fs.mkdirSync(root)
    assembleRootfs(root, major)
    const tarball = path.join(dir, "rootfs.tar")
    await run("tar", ["-C", root, "--numeric-owner", "-cf", tarball, "."], { maxBuffer: 16 * 1024 * 1024 })
    const changes = [
      `ENV PATH=${pgPaths(major).bin}:/usr/local/bin:/bin`,
      "ENV TZ=UTC",
      "ENV PGDATA=/var/lib/postgresql/data",
      "USER postgres",
      "WORKDIR /var/lib/postgresql",
      `LABEL ${testLabel}`,
      'CMD ["/usr/local/bin/docker-entrypoint.sh"]'
    ]
    await run("docker", ["import", ...changes.flatMap((c) => ["--change", c]), tarball, image], { maxBuffer: 16 * 1024 * 1024 })
    return image
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
  }
}

export type Exec = DockerRun

/** `docker exec [-i] <container> argv…`, with `input` on stdin when given. */
export const dockerExec = (
  container: string,
  argv: ReadonlyArray<string>,
  options: { readonly input?: string | Uint8Array; readonly user?: string } = {}
): Promise<Exec> =>
  dockerWithInput(
    ["exec", ...(options.input !== undefined ? ["-i"] : []), ...(options.user !== undefined ? ["-u", options.user] : []), container, ...argv],
    options.input ?? ""
  )

const psqlArgs = (db: string) => ["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-U", "postgres", "-d", db]

const checked = (what: string, result: Exec): Buffer => {
  if (result.code !== 0) throw new Error(`${what} exited ${result.code}: ${result.stderr}`)
  return result.stdout
}

/** Runs SQL with `psql -c` (unaligned, tuples only) and returns its stdout. Throws on any error. */
export const sql = async (container: string, db: string, statement: string): Promise<string> =>
  checked(`psql -d ${db} -c`, await dockerExec(container, [...psqlArgs(db), "-A", "-t", "-c", statement])).toString()

/** Runs a SQL script (`psql -f -`, from stdin): dumps, COPY … FROM stdin. Throws on any error. */
export const sqlFile = async (container: string, db: string, script: string | Uint8Array): Promise<string> =>
  checked(`psql -d ${db} -f -`, await dockerExec(container, [...psqlArgs(db), "-f", "-"], { input: script })).toString()

/** `COPY (<query>) TO STDOUT`: the rows, byte for byte, in COPY's text format. */
export const copyOut = async (container: string, db: string, query: string): Promise<Buffer> =>
  checked(`COPY (${query}) TO STDOUT`, await dockerExec(container, [...psqlArgs(db), "-c", `COPY (${query}) TO STDOUT`]))

export const createDatabase = async (container: string, db: string): Promise<void> => {
  await sql(container, "postgres", `CREATE DATABASE "${db}"`)
}

/** Polls until the server in `container` answers a query; fails with its logs if it exits or takes too long. */
export const waitForPostgres = async (container: string, timeoutMs = 60_000): Promise<void> => {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const state = await docker("inspect", "-f", "{{.State.Running}}", container)
    if (state !== "true") {
      const logs = await run("docker", ["logs", container]).then((r) => r.stdout + r.stderr, () => "")
      throw new Error(`postgres container ${container} exited:\n${logs}`)
    }
    const ready = await dockerExec(container, ["psql", "-X", "-U", "postgres", "-d", "postgres", "-At", "-c", "SELECT 1"])
    if (ready.code === 0 && ready.stdout.toString().trim() === "1") return
    if (Date.now() > deadline) {
      const logs = await run("docker", ["logs", container]).then((r) => r.stdout + r.stderr, () => "")
      throw new Error(`postgres in ${container} did not answer within ${timeoutMs} ms: ${ready.stderr}\n${logs}`)
    }
    await sleep(200)
  }
}

export interface PostgresContainer {
  readonly id: string
  readonly name: string
  readonly sql: (db: string, statement: string) => Promise<string>
  readonly sqlFile: (db: string, script: string | Uint8Array) => Promise<string>
  readonly copyOut: (db: string, query: string) => Promise<Buffer>
}

/**
 * Starts the PostgreSQL image (built if needed) as `name`, with `labels`
 * (e.g. `ubackup.command`), on `--network none`, and waits until psql answers.
 */
export const startPostgres = async (
  name: string,
  labels: Record<string, string> = {},
  options: Pick<ContainerOptions, "env" | "volumes"> = {}
): Promise<PostgresContainer> => {
  const image = await buildPostgresImage()
  const id = await runContainer({ name, labels, image, command: ["/usr/local/bin/docker-entrypoint.sh"], ...options })
  await waitForPostgres(id)
  return {
    id,
    name,
    sql: (db, statement) => sql(id, db, statement),
    sqlFile: (db, script) => sqlFile(id, db, script),
    copyOut: (db, query) => copyOut(id, db, query)
  }
}

// ---------------------------------------------------------------------------
// A sample database: two tables whose COPY text is known exactly

/** COPY text-format escaping of one text value. */
const copyText = (value: string) => value.replace(/\\/g, "\\\\").replace(/\t/g, "\\t").replace(/\n/g, "\\n").replace(/\r/g, "\\r")

/** A deterministic pseudo-random generator (xorshift32). */
const prng = (seed: number) => {
  let state = seed >>> 0 || 1
  return () => {
    state ^= state << 13
    state ^= state >>> 17
    state ^= state << 5
    state >>>= 0
    return state
  }
}

const words = ["alpha", "Zoë", "naïve café", "日本語テキスト", "emoji 🦄🎉", "Ελληνικά", "кириллица", "tab\there", "line\nbreak", "back\\slash", "quote'\"", "😀"]

export interface SampleTable {
  readonly name: string
  /** `CREATE TABLE …` */
  readonly ddl: string
  /** What `COPY (SELECT * FROM <name> ORDER BY id) TO STDOUT` prints. */
  readonly copy: string
}

/**
 * Two tables of `rows` rows each: `people` (text with unicode, tabs, newlines,
 * backslashes; NULLs; numeric; timestamptz; boolean) and `blobs` (bytea with
 * every byte value, an empty bytea, NULLs).
 */
export const sampleTables = (rows = 10_000): ReadonlyArray<SampleTable> => {
  const next = prng(20_240_101)
  const people: Array<string> = []
  for (let id = 1; id <= rows; id++) {
    const name = `${words[next() % words.length]} ${id}`
    const note = next() % 5 === 0 ? "\\N" : copyText(`${words[next() % words.length]}/${next() % 1000}`)
    const score = next() % 7 === 0 ? "\\N" : `${next() % 100000}.${String(next() % 100).padStart(2, "0")}`
    const seconds = 1_700_000_000 + (next() % 10_000_000)
    const created = new Date(seconds * 1000).toISOString().replace("T", " ").replace(".000Z", "+00")
    const active = next() % 3 === 0 ? "\\N" : next() % 2 === 0 ? "t" : "f"
    people.push([id, copyText(name), note, score, created, active].join("\t"))
  }
  const blobs: Array<string> = []
  for (let id = 1; id <= rows; id++) {
    let data: string
    if (id === 1) data = "\\\\x" + Buffer.from(Array.from({ length: 256 }, (_, i) => i)).toString("hex")
    else if (id === 2) data = "\\\\x"
    else if (next() % 9 === 0) data = "\\N"
    else {
      const bytes = Buffer.alloc(next() % 64)
      for (let i = 0; i < bytes.length; i++) bytes[i] = next() & 0xff
      data = "\\\\x" + bytes.toString("hex")
    }
    const label = next() % 11 === 0 ? "\\N" : copyText(words[next() % words.length] as string)
    blobs.push([id, data, label].join("\t"))
  }
  return [
    {
      name: "people",
      ddl: "CREATE TABLE people (id serial PRIMARY KEY, name text NOT NULL, note text, score numeric(12,2), created timestamptz NOT NULL, active boolean)",
      copy: people.join("\n") + "\n"
    },
    {
      name: "blobs",
      ddl: "CREATE TABLE blobs (id integer PRIMARY KEY, data bytea, label text)",
      copy: blobs.join("\n") + "\n"
    }
  ]
}

/** Creates the sample tables in `db` (which must exist) and loads their rows with COPY … FROM stdin. */
export const loadSampleTables = async (container: string, db: string, tables = sampleTables()): Promise<void> => {
  const script = [
    "SET client_encoding = 'UTF8';",
    "SET TIME ZONE 'UTC';",
    ...tables.flatMap((t) => [`${t.ddl};`, `COPY ${t.name} FROM stdin;`, `${t.copy}\\.`]),
    // serial columns continue after the loaded ids
    ...tables.filter((t) => t.ddl.includes("serial")).map((t) => `SELECT setval('${t.name}_id_seq', (SELECT max(id) FROM ${t.name}));`)
  ].join("\n") + "\n"
  await sqlFile(container, db, script)
}
