/**
 * A lock across test files (they run in parallel processes) for the shared
 * Docker engine. A ubackup deployed as a service backs up every labelled
 * container on the engine, as it should: other files' containers too. Tests
 * whose containers must not be touched by anyone else meanwhile (a dry run
 * that checks its command never ran, a `stop_during_backup` container, a
 * command killed on purpose) hold the lock, and so does the test that runs
 * such a service.
 */
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { processAlive, sleep } from "./tools.ts"

const lockDir = path.join(os.tmpdir(), "ubackup-test-engine.lock")
const ownerFile = path.join(lockDir, "owner")

/** Removes a lock whose owner died without releasing it (a killed test run). */
const clearStale = () => {
  let owner: number
  try {
    owner = Number(fs.readFileSync(ownerFile, "utf8"))
  } catch {
    // being created or released right now: wait, unless its creator died before it wrote its PID
    try {
      if (Date.now() - fs.statSync(lockDir).mtimeMs > 10_000) fs.rmSync(lockDir, { recursive: true, force: true })
    } catch {
      // released meanwhile
    }
    return
  }
  if (!processAlive(owner)) fs.rmSync(lockDir, { recursive: true, force: true })
}

/** Waits for the lock (up to `timeoutMs`) and returns its release. */
export const acquireEngineLock = async (timeoutMs = 10 * 60_000): Promise<() => void> => {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    try {
      fs.mkdirSync(lockDir)
      fs.writeFileSync(ownerFile, String(process.pid))
      let released = false
      return () => {
        if (released) return
        released = true
        fs.rmSync(lockDir, { recursive: true, force: true })
      }
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error
    }
    clearStale()
    if (Date.now() > deadline) throw new Error(`the Docker engine lock ${lockDir} was not released in ${timeoutMs / 1000} s`)
    await sleep(200)
  }
}

/** Runs `f` holding the lock. */
export const withEngineLock = async <A>(f: () => Promise<A>): Promise<A> => {
  const release = await acquireEngineLock()
  try {
    return await f()
  } finally {
    release()
  }
}
