/**
 * restoreIntoContainer (src/api/restoreTo.ts) over the fake engine: the
 * plaintext reaches the command's stdin whole, the exec is made with stdin
 * attached, and a non-zero exit, a missing container and a failed backup
 * are each the error. The real engine: test/e2e/restoreInto.test.ts.
 */
import { Effect, Stream } from "effect"
import { describe, expect, it } from "vitest"
import { restoreIntoContainer, RestoreCommandFailed } from "../../src/api/restoreTo.ts"
import { makeFakeEngine } from "../../src/docker/fake.ts"

const encoder = new TextEncoder()

describe("restoreIntoContainer", () => {
  const engineWith = (exitCode: number, received: Array<string>) =>
    makeFakeEngine([{
      id: "c0ffee",
      name: "db",
      exec: () => ({ exitCode, stderr: exitCode === 0 ? undefined : "psql: error: boom\n", stdin: (input) => void received.push(new TextDecoder().decode(input)) })
    }])

  it("the plaintext on the command's stdin, in a container found by name", async () => {
    const received: Array<string> = []
    const fake = engineWith(0, received)
    await Effect.runPromise(
      restoreIntoContainer("db", ["psql", "app"], Stream.make(encoder.encode("CREATE TABLE t;\n"), encoder.encode("INSERT 1;\n"))).pipe(
        Effect.provide(fake.layer)
      )
    )
    expect(received).toEqual(["CREATE TABLE t;\nINSERT 1;\n"])
    expect(fake.calls).toEqual(["inspectContainer db", "createExec db psql app", "attachExec exec-1", "inspectExec exec-1"])
  })

  it("a non-zero exit, a missing container: RestoreCommandFailed with the status and the end of stderr", async () => {
    const failed = await Effect.runPromise(
      Effect.flip(restoreIntoContainer("db", ["psql", "app"], Stream.make(encoder.encode("x"))).pipe(Effect.provide(engineWith(3, []).layer)))
    )
    expect(failed).toBeInstanceOf(RestoreCommandFailed)
    expect(failed.message).toMatch(/"psql app" in container db exited with status 3; its stderr ended with: psql: error: boom/)
    const missing = await Effect.runPromise(
      Effect.flip(restoreIntoContainer("gone", ["cat"], Stream.make(encoder.encode("x"))).pipe(Effect.provide(engineWith(0, []).layer)))
    )
    expect(missing.message).toMatch(/in container gone could not start: HTTP 404/)
  })

  it("a backup that fails part-way: its error, and the command's stdin never ends", async () => {
    const received: Array<string> = []
    const damaged = Stream.concat(Stream.make(encoder.encode("part")), Stream.fail("chunk 2 failed authentication" as const))
    const error = await Effect.runPromise(
      Effect.flip(restoreIntoContainer("db", ["psql", "app"], damaged).pipe(Effect.provide(engineWith(0, received).layer)))
    )
    expect(error).toBe("chunk 2 failed authentication")
    expect(received).toEqual([])
  })
})
