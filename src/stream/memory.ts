/**
 * Keeps a long backup's memory flat.
 *
 * The compressor and the cipher hand out a fresh buffer for every piece of
 * output, and V8 frees those only when it collects the small JS objects that
 * own them. A backup allocates almost no other JS objects, so the young
 * generation rarely fills and V8 leaves the dead buffers to full collections,
 * which promote whatever is in flight and cost ~10 ms each. A minor GC every
 * 8 MiB of input frees the dead buffers while they are young: measured
 * together with bin/ubackup's V8 flags, peak RSS went from ~128 to ~120 MiB
 * and a 1 GiB backup got ~5 % faster; every 8 MiB rather than 16 kept a
 * 4 GiB backup at 122–124 MiB instead of 129–132, at the same speed
 * (docs/PERFORMANCE.md). The collector can only be called when Node runs
 * with `--expose-gc` or after `exposeCollector` (the CLI calls it); elsewhere
 * this does nothing.
 */
import * as v8 from "node:v8"
import * as vm from "node:vm"

type MinorGc = (options: { readonly type: "minor" }) => void

let collect: MinorGc | undefined = typeof (globalThis as { gc?: unknown }).gc === "function"
  ? (globalThis as unknown as { gc: MinorGc }).gc
  : undefined

/**
 * Makes the collector callable in a process started without `--expose-gc`:
 * that flag made every start of the CLI ~45 ms slower (0.14 → 0.19 s for
 * `ubackup --help`), this costs ~1 ms. It sets a V8 flag for the whole
 * process, which is the CLI's to decide; a library leaves it alone.
 */
export const exposeCollector = (): void => {
  if (collect !== undefined) return
  v8.setFlagsFromString("--expose-gc")
  collect = vm.runInNewContext("gc") as MinorGc
}

export const reclaimInterval = 8 * 1024 * 1024

/** A byte counter that runs a minor GC every `interval` bytes; pass it to `countBytes`. */
export const reclaimEvery = (interval: number = reclaimInterval): (bytes: number) => void => {
  const gc = collect
  if (gc === undefined) return () => undefined
  let since = 0
  return (bytes) => {
    since += bytes
    if (since >= interval) {
      since = 0
      gc({ type: "minor" })
    }
  }
}
