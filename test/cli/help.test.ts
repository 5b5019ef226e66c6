import { describe, expect, it } from "vitest"
import { ubackup } from "../harness/cli.ts"

const verbs = [
  ["init"],
  ["manual-backup"],
  ["decrypt"],
  ["storage"],
  ["storage", "ls"],
  ["storage", "ls-services"],
  ["storage", "get"],
  ["decryption-key-generate"],
  ["decryption-key-to-encryption-key"],
  ["print-default-config"],
  ["config"],
  ["config", "validate"]
]

describe("ubackup --help", () => {
  it("describes every verb", async () => {
    const run = await ubackup(["--help"])
    expect(run.code).toBe(0)
    for (const verb of ["init", "manual-backup", "decrypt", "storage", "decryption-key-generate", "print-default-config", "config"]) {
      expect(run.stdout.toString()).toContain(verb)
    }
  })

  it.each(verbs)("%s %s --help answers on stdout", async (...verb) => {
    const run = await ubackup([...verb.filter(Boolean), "--help"])
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
