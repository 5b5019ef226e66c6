/**
 * `ubackup now` backs up a real PostgreSQL server in a container
 * (`ubackup.command=pg_dump -U postgres -d app`), and the decrypted dump
 * restores into a fresh server with psql: every table's rows come back byte
 * for byte, with sequences, views and indexes.
 *
 * Other tests may run labelled containers on the engine at the same time:
 * assertions are only about this file's service.
 */
import * as crypto from "node:crypto"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { ubackup } from "../harness/cli.ts"
import { docker } from "../harness/docker.ts"
import { loadSampleTables, type PostgresContainer, requirePostgres, sampleTables, startPostgres } from "../harness/postgres.ts"
import { backupIdSource, describeRun, expectExitMatchesSummary, initNowConfig, lineOf, runNow } from "../harness/now.ts"

const ready = requirePostgres("ubackup now with PostgreSQL")
const suffix = crypto.randomBytes(3).toString("hex")

describe.runIf(ready)("ubackup now with PostgreSQL", () => {
  /** No ubackup.service label: the service is the container's name. */
  const source = `ubackup-test-pgnow-${suffix}`
  const fresh = `ubackup-test-pgnow-${suffix}-restore`
  const tables = sampleTables()
  let db: PostgresContainer
  let target: PostgresContainer
  let dir: string
  let keyFile: string
  let configFile: string
  let storage: string

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "ubackup-pgnow-"))
    ;({ keyFile, configFile, storage } = await initNowConfig(dir))

    ;[db, target] = await Promise.all([
      startPostgres(source, { "ubackup.command": "pg_dump -U postgres -d app", "ubackup.file_extension": ".sql" }),
      startPostgres(fresh)
    ])
    await db.sql("postgres", "CREATE DATABASE app")
    await loadSampleTables(db.id, "app", tables)
    await db.sqlFile("app", [
      "CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy');",
      "CREATE TABLE events (id bigserial PRIMARY KEY, person integer REFERENCES people(id), mood mood, payload jsonb, tags text[], at timestamptz DEFAULT now());",
      "INSERT INTO events (person, mood, payload, tags, at) SELECT (i % 100) + 1, (ARRAY['sad','ok','happy'])[i % 3 + 1]::mood,",
      "  jsonb_build_object('n', i, 'name', 'événement ' || i, 'nested', jsonb_build_object('ok', i % 2 = 0)), ARRAY['a' || i, NULL, 'ü'], '2024-01-01 00:00:00+00'::timestamptz + i * interval '1 minute'",
      "  FROM generate_series(1, 5000) AS i;",
      "CREATE INDEX events_mood ON events (mood);",
      "CREATE VIEW happy_people AS SELECT p.id, p.name FROM people p JOIN events e ON e.person = p.id WHERE e.mood = 'happy';",
      "CREATE TABLE empty_table (id integer PRIMARY KEY, note text);"
    ].join("\n"))
  })

  afterAll(async () => {
    await docker("rm", "-fv", source, fresh).catch(() => undefined)
    if (dir !== undefined) fs.rmSync(dir, { recursive: true, force: true })
  })

  it("backs up with pg_dump, and the dump restores into a fresh server with every row byte-equal", async () => {
    const run = await runNow(configFile)
    console.log(`now (PostgreSQL): ${run.ms} ms\n${run.text}`)
    expectExitMatchesSummary(run)

    const line = lineOf(run, source)
    expect(line, describeRun(run)).toMatch(/\sok\s/)
    expect(line.split(/\s+/)[1]).toBe(db.id.slice(0, 12))
    const idPattern = new RegExp(backupIdSource(source, db.id.slice(0, 12), ".sql.zst.age", os.hostname()))
    const id = idPattern.exec(line)?.[0]
    expect(id, `${line} should hold ${idPattern}`).toBeDefined()
    expect(fs.readdirSync(path.join(storage, source))).toEqual([path.basename(id as string)])

    const decrypted = await ubackup(["decrypt", keyFile], { input: fs.readFileSync(path.join(storage, id as string)) })
    expect(decrypted.code, decrypted.stderr).toBe(0)
    const dump = decrypted.stdout
    expect(dump.toString("utf8", 0, 200)).toContain("PostgreSQL database dump")
    expect(dump.toString()).toContain("PostgreSQL database dump complete")

    // restore into a new database of a fresh server
    await target.sql("postgres", "CREATE DATABASE app")
    await target.sqlFile("app", dump)

    const list = "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE' ORDER BY 1"
    const sourceTables = (await db.sql("app", list)).trim().split("\n")
    expect(sourceTables).toEqual(["blobs", "empty_table", "events", "people"])
    expect((await target.sql("app", list)).trim().split("\n")).toEqual(sourceTables)
    for (const table of sourceTables) {
      const query = `SELECT * FROM ${table} ORDER BY id`
      const [before, after] = await Promise.all([db.copyOut("app", query), target.copyOut("app", query)])
      expect(after.length, table).toBe(before.length)
      expect(after.equals(before), `${table} differs after restore`).toBe(true)
    }
    // the sample tables are exactly what was loaded
    for (const table of tables) {
      expect((await target.copyOut("app", `SELECT * FROM ${table.name} ORDER BY id`)).equals(Buffer.from(table.copy))).toBe(true)
    }
    // sequences, views, indexes and types came along
    for (const sequence of ["people_id_seq", "events_id_seq"]) {
      expect(await target.sql("app", `SELECT last_value, is_called FROM ${sequence}`)).toBe(await db.sql("app", `SELECT last_value, is_called FROM ${sequence}`))
    }
    const view = "SELECT count(*), md5(string_agg(id || name, ',' ORDER BY id, name)) FROM happy_people"
    expect(await target.sql("app", view)).toBe(await db.sql("app", view))
    expect(await target.sql("app", "SELECT indexname FROM pg_indexes WHERE tablename = 'events' ORDER BY 1")).toBe("events_mood\nevents_pkey\n")
    expect(await target.sql("app", "SELECT enum_range(NULL::mood)")).toBe("{sad,ok,happy}\n")
  })

  it("restore --latest --into the fresh server's container with psql: every row comes back; a failing psql exits non-zero", async () => {
    await target.sql("postgres", "CREATE DATABASE app_into")
    const restore = await ubackup([
      "restore", "--latest", source, "--key", keyFile, "--into", fresh, "--config", configFile, "--",
      "psql", "-U", "postgres", "-d", "app_into", "-v", "ON_ERROR_STOP=1", "--single-transaction", "-q"
    ])
    expect(restore.code, restore.stderr).toBe(0)
    for (const table of ["blobs", "empty_table", "events", "people"]) {
      const query = `SELECT * FROM ${table} ORDER BY id`
      const [before, after] = await Promise.all([db.copyOut("app", query), target.copyOut("app_into", query)])
      expect(after.equals(before), `${table} differs after restore --into`).toBe(true)
    }
    const failing = await ubackup([
      "restore", "--latest", source, "--key", keyFile, "--into", fresh, "--config", configFile, "--",
      "psql", "-U", "postgres", "-d", "no_such_database", "-v", "ON_ERROR_STOP=1"
    ])
    expect(failing.code).toBe(1)
    expect(failing.stderr).toMatch(/exited with status 2.*no_such_database/s)
  }, 120_000)

  it("drill: the newest dump checked by psql into a scratch database of the fresh server; a check that fails fails the drill", async () => {
    await target.sql("postgres", "CREATE DATABASE scratch")
    const check = `docker exec -i ${fresh} psql -U postgres -d scratch -v ON_ERROR_STOP=1 --single-transaction -q`
    const run = await ubackup(["drill", "--key", keyFile, "--config", configFile, "--service", source, "--check-command", check, "--json"])
    expect(run.code, run.stderr).toBe(0)
    const [result] = JSON.parse(run.stdout.toString()) as Array<Record<string, unknown>>
    expect(result).toMatchObject({ service: source, ok: true, stale: false, check: check.split(" ") })
    expect(await target.sql("scratch", "SELECT count(*) FROM events")).toBe(await db.sql("app", "SELECT count(*) FROM events"))
    // the same dump again into the same database: CREATE TABLE fails, psql exits 3, the drill fails
    const again = await ubackup(["drill", "--key", keyFile, "--config", configFile, "--service", source, "--check-command", check])
    expect(again.code).toBe(1)
    expect(again.stdout.toString()).toMatch(/FAILED\s.*exited with status 3; its stderr ended with: .*already exists/)
  }, 120_000)
})
