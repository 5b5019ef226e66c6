import { describe, expect, it } from "vitest"
import { ShellWordsError, splitShellWords } from "../../src/discovery/shellWords.ts"

describe("splitShellWords", () => {
  it.each([
    ["pg_dump -U postgres app", ["pg_dump", "-U", "postgres", "app"]],
    ["  cat   /data/x.db  ", ["cat", "/data/x.db"]],
    ["sh -c 'pg_dump -U postgres app | gzip -1'", ["sh", "-c", "pg_dump -U postgres app | gzip -1"]],
    [`sh -c "echo \\"quoted\\" \\$HOME \\\\ end"`, ["sh", "-c", `echo "quoted" $HOME \\ end`]],
    [`sh -c "it's fine"`, ["sh", "-c", "it's fine"]],
    [`echo 'a'"b"c`, ["echo", "abc"]],
    [`echo a\\ b`, ["echo", "a b"]],
    [`echo '' ""`, ["echo", "", ""]],
    [`tar -cf - "/var/lib/my app"`, ["tar", "-cf", "-", "/var/lib/my app"]],
    ["echo \"a\\nb\"", ["echo", "a\\nb"]],
    ["", []]
  ])("%s", (command, argv) => {
    expect(splitShellWords(command)).toEqual(argv)
  })

  it.each(["sh -c 'unbalanced", `echo "open`, "echo trailing\\"])("rejects %s", (command) => {
    expect(() => splitShellWords(command)).toThrow(ShellWordsError)
  })
})
