/**
 * SyncBehind (src/stream/syncBehind.ts): one datasync at a time, every
 * `every` bytes, and a failed background datasync fails the write and the
 * commit instead of being lost. The real file path: a local backup of more
 * than 32 MiB in test/storage/local.test.ts, a restore to a file in
 * test/cli/restore.test.ts.
 */
import { describe, expect, it } from "vitest"
import * as fs from "node:fs/promises"
import * as os from "node:os"
import * as path from "node:path"
import { SyncBehind } from "../../src/stream/syncBehind.ts"

/** A handle whose datasyncs resolve or reject when the test says. */
const fakeHandle = () => {
  const calls: Array<{ readonly resolve: () => void; readonly reject: (cause: unknown) => void }> = []
  return {
    calls,
    handle: {
      datasync: () => new Promise<void>((resolve, reject) => calls.push({ resolve, reject }))
    }
  }
}

const flush = () => new Promise((resolve) => setImmediate(resolve))

describe("SyncBehind", () => {
  it("starts a datasync every `every` bytes, never two at once", async () => {
    const { calls, handle } = fakeHandle()
    const sync = new SyncBehind(handle, 100)
    sync.written(60)
    expect(calls).toHaveLength(0)
    sync.written(60)
    expect(calls).toHaveLength(1)
    // while one runs, more bytes start none
    sync.written(500)
    expect(calls).toHaveLength(1)
    calls[0]!.resolve()
    await flush()
    sync.written(100)
    expect(calls).toHaveLength(2)
    calls[1]!.resolve()
    await sync.settle()
  })

  it("settle waits for the running datasync", async () => {
    const { calls, handle } = fakeHandle()
    const sync = new SyncBehind(handle, 10)
    sync.written(10)
    let settled = false
    const settling = sync.settle().then(() => {
      settled = true
    })
    await flush()
    expect(settled).toBe(false)
    calls[0]!.resolve()
    await settling
    expect(settled).toBe(true)
  })

  it("a failed background datasync fails the next write and the commit", async () => {
    const { calls, handle } = fakeHandle()
    const sync = new SyncBehind(handle, 10)
    sync.written(10)
    const eio = Object.assign(new Error("EIO: i/o error, fdatasync"), { code: "EIO" })
    calls[0]!.reject(eio)
    await flush()
    expect(() => sync.written(1)).toThrow(eio)
    await expect(sync.settle()).rejects.toBe(eio)
  })

  it("flushes a real file while it is written", async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), "ubackup-syncbehind-"))
    const handle = await fs.open(path.join(dir, "f"), "wx")
    try {
      let datasyncs = 0
      const counted = { datasync: () => (datasyncs++, handle.datasync()) }
      const sync = new SyncBehind(counted, 1024 * 1024)
      const chunk = Buffer.alloc(256 * 1024, 7)
      for (let i = 0; i < 16; i++) {
        await handle.write(chunk)
        sync.written(chunk.length)
        await flush()
      }
      await sync.settle()
      await handle.sync()
      expect(datasyncs).toBeGreaterThanOrEqual(1)
      expect((await handle.stat()).size).toBe(16 * chunk.length)
    } finally {
      await handle.close()
      await fs.rm(dir, { recursive: true, force: true })
    }
  })
})
