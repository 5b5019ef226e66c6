/**
 * The discovery rules on inspected-container JSON (what `docker inspect`
 * returns). The same rules run against a real engine in test/pipeline/.
 */
import { describe, expect, it } from "vitest"
import { type InspectedContainer, serviceName, targetOf } from "../../src/discovery/containers.ts"

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

describe("discovery rules", () => {
  it("takes the label, then µbackup's BACKUP_COMMAND env; the label wins", () => {
    expect(targetOf(container({ labels: { "ubackup.command": "cat /x" } }), undefined)).toMatchObject({
      _tag: "Docker",
      command: { _tag: "Exec", argv: ["cat", "/x"] },
      taskId: "3f2a9c1b7d4e"
    })
    expect(targetOf(container({ env: ["BACKUP_COMMAND=pg_dump -U postgres app"] }), undefined)).toMatchObject({
      command: { argv: ["pg_dump", "-U", "postgres", "app"] }
    })
    expect(targetOf(container({ labels: { "ubackup.command": "cat /a" }, env: ["BACKUP_COMMAND=cat /b"] }), undefined))
      .toMatchObject({ command: { argv: ["cat", "/a"] } })
  })

  it("skips a container without a command", () => {
    expect(targetOf(container({}), undefined)).toBeUndefined()
    expect(targetOf(container({ env: ["BACKUP_COMMAND="] }), undefined)).toBeUndefined()
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
      5000
    )
    expect(target).toMatchObject({ fileExtension: ".sql", timeoutMs: 90_000, stopDuringBackup: true })
    expect(targetOf(container({ labels: { "ubackup.command": "cat /x" } }), 5000)).toMatchObject({ timeoutMs: 5000, stopDuringBackup: false, schedule: undefined })
    expect(targetOf(container({ labels: { "ubackup.command": "cat /x", "ubackup.schedule": " */15 * * * * " } }), undefined))
      .toMatchObject({ schedule: "*/15 * * * *" })
  })

  it("dockervolume:// takes the container's one volume", () => {
    const volume = { Type: "volume", Name: "pgdata", Destination: "/var/lib/postgresql/data" }
    expect(targetOf(container({ labels: { "ubackup.command": "dockervolume://" }, mounts: [volume, { Type: "bind", Destination: "/etc/x" }] }), undefined))
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
      const target = targetOf(container({ labels, mounts }), undefined)
      expect(target?._tag, JSON.stringify(labels)).toBe("Invalid")
      expect(target?._tag === "Invalid" ? target.reason : "").toMatch(reason)
    }
  })
})
