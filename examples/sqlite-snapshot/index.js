// An app that backs up its own SQLite database in-process, as Varasto used µbackup:
// a consistent snapshot of the live database is streamed into ubackup (compressed,
// encrypted, stored), then listed, restored with the private key and checked.
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { backup, DatabaseSync } from "node:sqlite"
import { pipeline } from "node:stream/promises"
import { isDeepStrictEqual } from "node:util"
import { generateKeyPair, openUbackup } from "ubackup/promise"

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "sqlite-snapshot-"))
const readRows = (db) => db.prepare("SELECT id, title, body, done FROM todos ORDER BY id").all()

// the app's database, open (and in use) for the whole run
const db = new DatabaseSync(path.join(dir, "app.db"))
db.exec("PRAGMA journal_mode = WAL; CREATE TABLE todos (id INTEGER PRIMARY KEY, title TEXT NOT NULL, body BLOB, done INTEGER NOT NULL)")
const insert = db.prepare("INSERT INTO todos (title, body, done) VALUES (?, ?, ?)")
db.exec("BEGIN")
for (let i = 1; i <= 2000; i++) insert.run(`todo ${i}`, crypto.getRandomValues(new Uint8Array(64)), i % 3 === 0 ? 1 : 0)
db.exec("COMMIT")

// a consistent copy of the open database: SQLite's online backup, page by page
const snapshot = path.join(dir, "snapshot.db")
const expected = readRows(db)
await backup(db, snapshot)
insert.run("written after the snapshot", null, 0) // the app carries on; the backup is the snapshot

const { identity, recipient } = await generateKeyPair() // a real app keeps `identity` off this host
const ub = await openUbackup({ storage: { local: { path: path.join(dir, "backups") } }, encryption_recipients: [recipient] })
const problems = []
try {
  const stored = await ub.backup("todos", "db", fs.createReadStream(snapshot), { fileExtension: ".sqlite" })
  console.log(`source:   ${expected.length} rows in todos, snapshot of ${stored.bytesIn} bytes taken while the database was open`)
  console.log(`stored:   ${stored.id}, ${stored.size} bytes (zstd, age) in ${ub.location}`)

  const backups = await ub.list("todos") // oldest first
  const newest = backups.at(-1)
  console.log(`listed:   ${backups.length} backup(s) of todos, newest ${newest.id}`)

  const restoredFile = path.join(dir, "restored.db")
  await pipeline(ub.restore(newest.id, identity), fs.createWriteStream(restoredFile))
  const restored = new DatabaseSync(restoredFile, { readOnly: true })
  const integrity = restored.prepare("PRAGMA integrity_check").get().integrity_check
  const rows = readRows(restored)
  restored.close()
  console.log(`restored: ${fs.statSync(restoredFile).size} bytes, integrity ${integrity}, ${rows.length} rows`)

  if (newest.id !== stored.id) problems.push(`the newest backup is ${newest.id}, not ${stored.id}`)
  if (integrity !== "ok") problems.push(`integrity check: ${integrity}`)
  if (!isDeepStrictEqual(rows, expected)) problems.push("the restored rows differ from the snapshot's")
} finally {
  await ub.close()
  db.close()
  fs.rmSync(dir, { recursive: true, force: true })
}

if (problems.length > 0) {
  for (const problem of problems) console.error(`MISMATCH: ${problem}`)
  process.exitCode = 1
} else {
  console.log("OK: the restored database matches the source")
}
