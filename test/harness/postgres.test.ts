/**
 * The PostgreSQL harness: an image built from the host's PostgreSQL without
 * a registry, a server that answers over `docker exec psql`, and a sample
 * database (NULLs, unicode, bytea, 10k rows per table) that reads back byte
 * for byte.
 */
import * as crypto from "node:crypto"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { docker } from "./docker.ts"
import { buildPostgresImage, loadSampleTables, type PostgresContainer, postgresMajor, requirePostgres, sampleTables, startPostgres } from "./postgres.ts"

const ready = requirePostgres("PostgreSQL harness")

describe.runIf(ready)("PostgreSQL harness", () => {
  const name = `ubackup-test-pgharness-${crypto.randomBytes(4).toString("hex")}`
  let pg: PostgresContainer

  beforeAll(async () => {
    pg = await startPostgres(name, { "ubackup.command": "pg_dump -U postgres -d app" })
  })

  afterAll(async () => {
    await docker("rm", "-fv", name).catch(() => undefined)
  })

  it("the image is tagged with the host's major version and reused", async () => {
    const image = await buildPostgresImage()
    expect(image).toBe(`ubackup-test/postgres:${postgresMajor()}`)
    expect(await docker("inspect", "-f", "{{.Config.User}}", image)).toBe("postgres")
    const version = await pg.sql("postgres", "SHOW server_version")
    expect(version.trim().split(".")[0]).toBe(postgresMajor())
  })

  it("runs with the labels given, on no network, as the postgres user (uid 999)", async () => {
    expect(await docker("inspect", "-f", '{{index .Config.Labels "ubackup.command"}}', name)).toBe("pg_dump -U postgres -d app")
    expect(await docker("inspect", "-f", "{{.HostConfig.NetworkMode}}", name)).toBe("none")
    expect((await pg.sql("postgres", "SELECT current_user")).trim()).toBe("postgres")
    const id = await docker("exec", name, "id", "-u")
    expect(id).toBe("999")
    // the server also listens on 127.0.0.1 inside the container
    const tcp = await docker("exec", name, "psql", "-X", "-h", "127.0.0.1", "-U", "postgres", "-At", "-c", "SELECT 2")
    expect(tcp).toBe("2")
  })

  it("a database with two 10k-row tables (NULLs, unicode, bytea) reads back byte for byte", async () => {
    const tables = sampleTables()
    await pg.sql("postgres", "CREATE DATABASE app")
    await loadSampleTables(pg.id, "app", tables)
    for (const table of tables) {
      expect(await pg.sql("app", `SELECT count(*) FROM ${table.name}`)).toBe("10000\n")
      const copy = await pg.copyOut("app", `SELECT * FROM ${table.name} ORDER BY id`)
      expect(copy.length).toBe(Buffer.byteLength(table.copy))
      expect(copy.equals(Buffer.from(table.copy)), `${table.name} differs`).toBe(true)
    }
    // spot checks through SQL rather than COPY
    expect(await pg.sql("app", "SELECT count(*) FROM people WHERE note IS NULL")).not.toBe("0\n")
    expect(await pg.sql("app", "SELECT count(*) FROM people WHERE name LIKE '%🦄%'")).not.toBe("0\n")
    expect(await pg.sql("app", "SELECT length(data), md5(data) FROM blobs WHERE id = 1")).toBe(
      `256|${crypto.createHash("md5").update(Buffer.from(Array.from({ length: 256 }, (_, i) => i))).digest("hex")}\n`
    )
    expect(await pg.sql("app", "SELECT length(data) FROM blobs WHERE id = 2")).toBe("0\n")
    expect(await pg.sql("app", "SELECT nextval('people_id_seq')")).toBe("10001\n")
  })

  it("pg_dump inside the container dumps the database", async () => {
    const dump = await docker("exec", name, "pg_dump", "-U", "postgres", "-d", "app")
    expect(dump).toContain("CREATE TABLE public.people")
    expect(dump).toContain("COPY public.blobs (id, data, label) FROM stdin;")
  })
})
