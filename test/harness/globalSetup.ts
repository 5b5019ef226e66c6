/**
 * Once per test run: build the CLI bundle the tests execute, and start the
 * servers shared by several test files (radosgw). Each is skipped, with the
 * reason printed, when its programs are missing; in CI that is an error.
 */
import { execFileSync } from "node:child_process"
import * as path from "node:path"
import type { TestProject } from "vitest/node"
import { type S3Endpoint, rgwCommands, startRgw } from "./rgw.ts"
import { requireCommands } from "./tools.ts"

declare module "vitest" {
  export interface ProvidedContext {
    s3: S3Endpoint | null
  }
}

export default async function setup(project: TestProject) {
  const root = path.resolve(import.meta.dirname, "../..")
  execFileSync(process.execPath, [path.join(root, "scripts/build.mjs")], { cwd: root, stdio: "inherit" })

  let stop: (() => Promise<void>) | undefined
  if (requireCommands("S3 tests (radosgw)", ...rgwCommands)) {
    const rgw = await startRgw()
    stop = rgw.stop
    project.provide("s3", rgw.s3)
  } else {
    project.provide("s3", null)
  }
  return async () => {
    await stop?.()
  }
}
