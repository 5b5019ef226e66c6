/**
 * The discovery rules on inspected-container JSON (what `docker inspect`
 * returns). The same rules run against a real engine in test/e2e/.
 */
import { describe, expect, it } from "vitest"
import { resolveClaims } from "../../src/discovery/claims.ts"
import { type InspectedContainer, matchesFilter, serviceName, targetOf } from "../../src/discovery/containers.ts"

const container = (overrides: {
  readonly labels?: Record<string, string>
  readonly env?: ReadonlyArray<string>
  readonly mounts?: InspectedContainer["Mounts"]
  readonly name?: string
}): InspectedContainer => ({
  Id: "3f2a9c1b7d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8",
  Name: `/${overrides.name ?? "db1"}`,
  Config: { Labels: overrides.labels ?? {}, Env: overrides.env ?? ["PATH=/bin"] },
  State: { Running: true },
  Mounts: overrides.mounts ?? []
})

/** No operator limits. */
const none = { defaultTimeoutMs: undefined, maxBytes: undefined }

describe("discovery rules", () => {
  it("takes the label, then µbackup's BACKUP_COMMAND env; the label wins", () => {
    expect(targetOf(container({ labels: { "ubackup.command": "cat /x" } }), none)).toMatchObject({
      _tag: "Docker",
      command: { _tag: "Exec", argv: ["cat", "/x"] },
      taskId: "3f2a9c1b7d4e"
    })
    expect(targetOf(container({ env: ["BACKUP_COMMAND=pg_dump -U postgres app"] }), none)).toMatchObject({
      command: { argv: ["pg_dump", "-U", "postgres", "app"] }
    })
    expect(targetOf(container({ labels: { "ubackup.command": "cat /a" }, env: ["BACKUP_COMMAND=cat /b"] }), none))
      .toMatchObject({ command: { argv: ["cat", "/a"] } })
  })

  it("skips a container without a command", () => {
    expect(targetOf(container({}), none)).toBeUndefined()
    expect(targetOf(container({ env: ["BACKUP_COMMAND="] }), none)).toBeUndefined()
  })

  it("names the service: ubackup.service, Swarm, Compose, container name", () => {
    const swarm = { "com.docker.swarm.service.name": "stack_db" }
    const compose = { "com.docker.compose.project": "shop", "com.docker.compose.service": "postgres" }
    expect(serviceName(container({ labels: { "ubackup.service": "mine", ...swarm, ...compose } }))).toBe("mine")
    expect(serviceName(container({ labels: { ...swarm, ...compose } }))).toBe("stack_db")
    expect(serviceName(container({ labels: compose }))).toBe("shop-postgres")
    expect(serviceName(container({ name: "plain" }))).toBe("plain")
  })

  it("reads the file extension, timeout, stop_during_backup and schedule labels", () => {
    const target = targetOf(
      container({
        labels: {
          "ubackup.command": "sqlite3 /data/db .dump",
          "ubackup.file_extension": ".sql",
          "ubackup.timeout": "90s",
          "ubackup.stop_during_backup": "true"
        }
      }),
      { defaultTimeoutMs: 600_000, maxBytes: undefined }
    )
    expect(target).toMatchObject({ fileExtension: ".sql", timeoutMs: 90_000, stopDuringBackup: true })
    expect(targetOf(container({ labels: { "ubackup.command": "cat /x" } }), { defaultTimeoutMs: 5000, maxBytes: undefined })).toMatchObject({ timeoutMs: 5000, stopDuringBackup: false, schedule: undefined })
    expect(targetOf(container({ labels: { "ubackup.command": "cat /x", "ubackup.schedule": " */15 * * * * " } }), none))
      .toMatchObject({ schedule: "*/15 * * * *" })
  })

  it("dockervolume:// takes the container's one volume", () => {
    const volume = { Type: "volume", Name: "pgdata", Destination: "/var/lib/postgresql/data" }
    expect(targetOf(container({ labels: { "ubackup.command": "dockervolume://" }, mounts: [volume, { Type: "bind", Destination: "/etc/x" }] }), none))
      .toMatchObject({ command: { _tag: "Volume", mountPoint: "/var/lib/postgresql/data", volumeName: "pgdata" } })
  })

  it("reports a declared command it cannot use as an invalid target, with the reason", () => {
    const cases: Array<[Record<string, string>, InspectedContainer["Mounts"], RegExp]> = [
      [{ "ubackup.command": "sh -c 'unbalanced" }, [], /unbalanced single quote/],
      [{ "ubackup.command": "dockervolume://" }, [], /exactly one volume/],
      [{ "ubackup.command": "cat /x", "ubackup.file_extension": "sql" }, [], /not an extension/],
      [{ "ubackup.command": "cat /x", "ubackup.timeout": "soon" }, [], /not a duration/],
      [{ "ubackup.command": "cat /x", "ubackup.schedule": "daily" }, [], /ubackup.schedule="daily" is not a 5-field cron expression/],
      [{ "ubackup.command": "cat /x", "ubackup.schedule": "0 0 3 * * *" }, [], /not a 5-field cron expression/],
      [{ "ubackup.command": "cat /x", "ubackup.service": "../etc" }, [], /not usable as a folder name/]
    ]
    for (const [labels, mounts, reason] of cases) {
      const target = targetOf(container({ labels, mounts }), none)
      expect(target?._tag, JSON.stringify(labels)).toBe("Invalid")
      expect(target?._tag === "Invalid" ? target.reason : "").toMatch(reason)
    }
  })
})

describe("limits, filter and claims", () => {
  const labelled = (labels: Record<string, string>, name = "db1", id = "3f2a9c1b7d4e0000") =>
    ({ ...container({ labels: { "ubackup.command": "cat /x", ...labels }, name }), Id: id })

  it("a label may lower target_timeout and max_backup_bytes, never raise them", () => {
    const limits = { defaultTimeoutMs: 60_000, maxBytes: 1_000_000 }
    expect(targetOf(labelled({ "ubackup.timeout": "2h", "ubackup.max_backup_bytes": "1GiB" }), limits)).toMatchObject({ timeoutMs: 60_000, maxBytes: 1_000_000 })
    expect(targetOf(labelled({ "ubackup.timeout": "5s", "ubackup.max_backup_bytes": "10kB" }), limits)).toMatchObject({ timeoutMs: 5000, maxBytes: 10_000 })
    // without an operator limit, the label sets one
    expect(targetOf(labelled({ "ubackup.timeout": "5s", "ubackup.max_backup_bytes": "2M" }), none)).toMatchObject({ timeoutMs: 5000, maxBytes: 2 * 1024 * 1024 })
    expect(targetOf(labelled({ "ubackup.max_backup_bytes": "lots" }), none)).toMatchObject({ _tag: "Invalid", reason: expect.stringMatching(/not a size/) })
  })

  it("container_filter: every required label with its value, and a name matching one pattern", () => {
    const allowed = matchesFilter({ labels: { "backup.allowed": "yes" }, names: ["db-*", "app?"] })
    expect(allowed(labelled({ "backup.allowed": "yes" }, "db-main"))).toBe(true)
    expect(allowed(labelled({ "backup.allowed": "yes" }, "app1"))).toBe(true)
    expect(allowed(labelled({ "backup.allowed": "yes" }, "app12"))).toBe(false)
    expect(allowed(labelled({ "backup.allowed": "no" }, "db-main"))).toBe(false)
    expect(allowed(labelled({}, "db-main"))).toBe(false)
    expect(matchesFilter(undefined)(labelled({}))).toBe(true)
  })

  it("claims: replicas share a name; unrelated containers and static names do not", () => {
    const compose = { "com.docker.compose.project": "shop", "com.docker.compose.service": "db" }
    const a = targetOf(labelled({ "ubackup.service": "db", ...compose }, "shop-db-1", "a".repeat(16)), none)!
    const b = targetOf(labelled({ "ubackup.service": "db", ...compose }, "shop-db-2", "b".repeat(16)), none)!
    const stranger = targetOf(labelled({ "ubackup.service": "db" }, "evil", "c".repeat(16)), none)!
    const impostor = targetOf(labelled({ "ubackup.service": "etc" }, "evil2", "d".repeat(16)), none)!
    expect(resolveClaims([a, b], new Set()).targets).toHaveLength(2)
    const contested = resolveClaims([a, b, stranger], new Set())
    expect(contested.targets).toEqual([])
    expect(contested.invalid.map((target) => target.reason)).toEqual(Array(3).fill(
      `service name "db" is claimed by unrelated containers (compose service shop/db, container cccccccccccc); none is backed up until each has its own ubackup.service`
    ))
    const reserved = resolveClaims([impostor, a], new Set(["etc"]))
    expect(reserved.targets.map((target) => target.containerName)).toEqual(["shop-db-1"])
    expect(reserved.invalid[0]?.reason).toMatch(/belongs to a static target/)
  })
})
