/**
 * Imported first by main.ts, so that it runs before the rest of the CLI
 * loads (ES modules evaluate in import order): the verbs that decode a zstd
 * stream start their decoder thread now, and its boot overlaps the ~0.2 s
 * of loading on another core (docs/PERFORMANCE.md). Only the verb's name is
 * looked at: flags before it or an unusual spelling just skip the head start.
 */
import * as os from "node:os"
import { prestartDecoder } from "../compression/zstdWorkers.ts"

const decodes = (argv: ReadonlyArray<string>): boolean => {
  const [verb, sub] = argv
  if (argv.includes("--raw") || argv.includes("--help") || argv.includes("-h")) return false
  return verb === "decrypt" || verb === "decrypt-and-decompress" || verb === "verify" || verb === "restore" ||
    verb === "drill" || (verb === "storage" && sub === "get" && argv.includes("--decrypt"))
}

if (os.availableParallelism() > 1 && decodes(process.argv.slice(2))) prestartDecoder()
