/** Text from containers, escaped before it reaches a terminal, a log or an alert. */
import { describe, expect, it } from "vitest"
import { hasUnsafeCharacters, printable, printableLine } from "../../src/text/printable.ts"

describe("printable", () => {
  it("escapes terminal escapes, carriage returns, C1 controls and bidi overrides; keeps newlines and tabs", () => {
    expect(printable("ok\n\tindented")).toBe("ok\n\tindented")
    expect(printable("\u001b[2J\u001b]0;pwned\u0007")).toBe("\\x1b[2J\\x1b]0;pwned\\x07")
    expect(printable("progress\rdone")).toBe("progress\\rdone")
    expect(printable("csi\u009b31m")).toBe("csi\\x9b31m")
    expect(printable("invoice\u202egpj.exe")).toBe("invoice\\u{202e}gpj.exe")
    expect(printable("a\u200bb\ufeff\u2028")).toBe("a\\u{200b}b\\u{feff}\\u{2028}")
    expect(printable("lone \ud800 surrogate")).toBe("lone \\u{d800} surrogate")
    expect(printable("Ünïcödé 日本語 emoji 🙂")).toBe("Ünïcödé 日本語 emoji 🙂")
  })

  it("is idempotent, so text can be escaped where it enters and again where it is printed", () => {
    const text = "x\u001by\u202ez\r\n"
    expect(printable(printable(text))).toBe(printable(text))
    expect(printableLine(printableLine(text))).toBe(printableLine(text))
  })

  it("printableLine keeps one line", () => {
    expect(printableLine("a\nb\tc")).toBe("a\\nb\\tc")
    expect(hasUnsafeCharacters("plain")).toBe(false)
    expect(hasUnsafeCharacters("a\nb")).toBe(true)
  })
})
