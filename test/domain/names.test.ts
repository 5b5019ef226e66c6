/** Backup IDs: the numbered variant a taken ID gets, parsing, ordering, and which names are refused. */
import { describe, expect, it } from "vitest"
import { backupId, compareBackupIds, isSafeName, minutePrefix, parseBackupId, withSequence } from "../../src/domain/names.ts"

const id = backupId({
  service: "db",
  taskId: "3f2a9c1b7d4e",
  hostname: "host1",
  time: new Date(Date.UTC(2026, 11, 4, 21, 8, 37)),
  fileExtension: ".sql",
  compressionExtension: ".zst",
  encryptionExtension: ".age"
})

describe("backup IDs", () => {
  it("are µbackup's form, to the minute", () => {
    expect(id).toBe("db/2026-12-04 2108Z_host1_3f2a9c1b7d4e.sql.zst.age")
  })

  it("a taken ID's n-th variant puts ~n right after the Z, where µbackup's parser stops", () => {
    expect(withSequence(id, 1)).toBe(id)
    expect(withSequence(id, 2)).toBe("db/2026-12-04 2108Z~2_host1_3f2a9c1b7d4e.sql.zst.age")
    expect(withSequence(withSequence(id, 2), 3)).toBe("db/2026-12-04 2108Z~3_host1_3f2a9c1b7d4e.sql.zst.age")
    // µbackup: regexp ^[^Z]+Z, then time.Parse("2006-01-02 1504Z", …)
    expect(/^[^Z]+Z/.exec(withSequence(id, 7).split("/")[1]!)?.[0]).toBe("2026-12-04 2108Z")
    expect(minutePrefix(withSequence(id, 7))).toBe("db/2026-12-04 2108Z")
  })

  it("parse back into service, minute, sequence, host and the rest", () => {
    expect(parseBackupId(withSequence(id, 12))).toEqual({
      service: "db",
      time: new Date(Date.UTC(2026, 11, 4, 21, 8)),
      sequence: 12,
      hostname: "host1",
      rest: "3f2a9c1b7d4e.sql.zst.age"
    })
    expect(parseBackupId("varasto/2019-07-25 0830Z_joonas_10028.gz.aes")?.hostname).toBe("joonas")
    expect(parseBackupId("db/notes.txt")).toBeUndefined()
    expect(parseBackupId("db/2026-13-45 9999Z_h_t.age")).toBeUndefined()
  })

  it("sort by minute, then by number (~10 after ~9), then by name; other names last", () => {
    const next = id.replace("2108Z", "2109Z")
    const ids = [next, withSequence(id, 10), "db/zzz", withSequence(id, 9), id, withSequence(id, 2)]
    expect([...ids].sort(compareBackupIds)).toEqual([id, withSequence(id, 2), withSequence(id, 9), withSequence(id, 10), next, "db/zzz"])
    // a plain listing agrees for the first nine: ~ sorts after _
    expect([id, withSequence(id, 2), withSequence(id, 9)].sort()).toEqual([id, withSequence(id, 2), withSequence(id, 9)])
  })
})

describe("safe names", () => {
  it("refuse C0, DEL, C1, bidi and other format characters and separators", () => {
    for (const bad of ["a\u001bb", "a\u007fb", "a\u0085b", "a\u009bb", "evil\u202egpj", "a\u2066b", "zero\u200bwidth", "bom\ufeff", "line\u2028sep", "tab\tname"]) {
      expect(isSafeName(bad), JSON.stringify(bad)).toBe(false)
    }
    for (const good of ["db", "shop-db", "Ünïcödé", "日本語", "a.b_c-d~e"]) expect(isSafeName(good), good).toBe(true)
  })
})
