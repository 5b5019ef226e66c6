import { describe, expect, it } from "vitest"
import { ubackup, verbs } from "../harness/cli.ts"

describe("ubackup --help", () => {
  it("describes every verb", async () => {
    const run = await ubackup(["--help"])
    expect(run.code).toBe(0)
    for (const verb of ["init", "manual-backup", "decrypt", "storage", "decryption-key-generate", "print-default-config", "config"]) {
      expect(run.stdout.toString()).toContain(verb)
    }
  })

  it.each(verbs.map((verb) => [verb.join(" ")]))("%s --help answers on stdout", async (verb) => {
    const run = await ubackup([...verb.split(" "), "--help"])
    expect(run.code).toBe(0)
    expect(run.stdout.toString()).toContain("USAGE")
    expect(run.stderr).toBe("")
  })

  it("a wrong invocation prints help and the error on stderr, exit 1", async () => {
    const run = await ubackup(["storage", "get"])
    expect(run.code).toBe(1)
    expect(run.stdout.length).toBe(0)
    expect(run.stderr).toContain("Missing required argument")
  })

  it("an unknown verb exits 1", async () => {
    const run = await ubackup(["frobnicate"])
    expect(run.code).toBe(1)
    expect(run.stderr).toContain("frobnicate")
  })
})
