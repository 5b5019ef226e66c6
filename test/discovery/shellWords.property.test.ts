/**
 * Property: `splitShellWords` undoes quoting. For any array of strings
 * (spaces, tabs, newlines, quotes, backslashes, `$`, backquotes, NUL,
 * any Unicode), quoting each word with `shellQuote` (src/domain/Target.ts,
 * how targets are shown in logs) and joining them with blanks splits back
 * to the same array; so does quoting each word in pieces, each piece
 * single-quoted, double-quoted or backslash-escaped as a person would.
 *
 * And the splitter agrees with a real POSIX shell (`sh`, dash here): on
 * those quoted commands, and on random strings of words, blanks, quotes and
 * backslashes, the words `sh` gets from `eval "set -- $command"` are the
 * splitter's, and what `sh` refuses the splitter refuses. The one allowed
 * difference is deliberate: a trailing unquoted backslash, which `sh` keeps
 * as a literal and the splitter refuses.
 */
import { execFileSync } from "node:child_process"
import fc from "fast-check"
import { afterAll, describe, expect, it } from "vitest"
import { shellQuote } from "../../src/domain/Target.ts"
import { ShellWordsError, splitShellWords } from "../../src/discovery/shellWords.ts"

/** Characters that mean something to a shell or to the splitter: drawn more often than chance would. */
const special = [" ", "\t", "\n", "'", '"', "\\", "$", "`", "#", "~", "*", "?", "[", "]", "{", "}", ";", "&", "|", "<", ">", "(", ")", "!", "=", "%", "é", "😀", "\u0000", "\r", "\u00a0", "\u2028"]

const wordArb = (withNul: boolean) =>
  fc.string({
    unit: fc.oneof(
      { arbitrary: fc.constantFrom(...special.filter((c) => withNul || c !== "\u0000")), weight: 3 },
      { arbitrary: fc.string({ unit: "binary", minLength: 1, maxLength: 1 }).filter((c) => withNul || !c.includes("\u0000")), weight: 2 },
      { arbitrary: fc.constantFrom("a", "b", "-", "/", ".", "_", "0"), weight: 2 }
    ),
    maxLength: 12
  })

const wordsArb = (withNul: boolean) => fc.array(wordArb(withNul), { maxLength: 8 })

/** Blanks between words: any run of space, tab (and, for the splitter alone, newline). */
const separatorArb = (withNewline: boolean) =>
  fc.array(fc.constantFrom(" ", "\t", ...(withNewline ? ["\n"] : [])), { minLength: 1, maxLength: 3 }).map((s) => s.join(""))

type Style = "single" | "double" | "backslash" | "bare"

/**
 * One piece of a word in one quoting style. `bare` only for pieces of
 * characters no shell treats specially; `backslash` cannot escape a newline
 * (backslash-newline is a line continuation), so it single-quotes those.
 */
const quotePiece = (piece: string, style: Style): string => {
  switch (style) {
    case "single":
      return `'${piece.replaceAll("'", `'\\''`)}'`
    case "double":
      return `"${piece.replace(/[\\"$`]/g, "\\$&")}"`
    case "backslash":
      return piece === "" ? "''" : [...piece].map((c) => (c === "\n" ? "'\n'" : `\\${c}`)).join("")
    case "bare":
      return /^[A-Za-z0-9_@%+=:,./-]+$/.test(piece) ? piece : quotePiece(piece, "single")
  }
}

/** A word quoted as a person might: cut into pieces (at `cuts`), each in its own style. */
const quoteMixed = (word: string, cuts: ReadonlyArray<number>, styles: ReadonlyArray<Style>): string => {
  const chars = [...word]
  const at = [...new Set(cuts.map((c) => c % (chars.length + 1)))].sort((a, b) => a - b)
  const pieces: Array<string> = []
  let start = 0
  for (const cut of [...at, chars.length]) {
    if (cut > start || pieces.length === 0) pieces.push(chars.slice(start, cut).join(""))
    start = cut
  }
  // an empty word still needs its quotes, or it vanishes
  return pieces.map((piece, i) => quotePiece(piece, piece === "" ? "single" : styles[i % styles.length]!)).join("")
}

const styleArb = fc.constantFrom<Style>("single", "double", "backslash", "bare")
const mixedWordArb = (withNul: boolean) =>
  fc.record({ word: wordArb(withNul), cuts: fc.array(fc.nat(), { maxLength: 4 }), styles: fc.array(styleArb, { minLength: 1, maxLength: 5 }) })

/** Joins quoted words with the drawn separators (cycled), optionally with blanks around the whole. */
const join = (quoted: ReadonlyArray<string>, separators: ReadonlyArray<string>, pad: boolean): string => {
  const body = quoted.map((q, i) => (i === 0 ? q : `${separators[i % separators.length]}${q}`)).join("")
  return pad ? ` ${body}\t` : body
}

type ShOutcome = { readonly ok: true; readonly words: Array<string> } | { readonly ok: false; readonly stderr: string }

/** The words a real shell makes of `command`: `eval "set -- $command"`, then each argument NUL-terminated after the count. */
const shWords = (command: string): ShOutcome => {
  try {
    const out = execFileSync("sh", ["-c", 'eval "set -- $1" && printf "%s\\0" "$#" "$@"', "sh", command], { stdio: ["ignore", "pipe", "pipe"] })
    const fields = out.toString("utf8").split("\0").slice(0, -1)
    const count = Number(fields[0])
    const words = fields.slice(1)
    if (words.length !== count) throw new Error(`sh printed ${words.length} words for $# = ${count}`)
    return { ok: true, words }
  } catch (error) {
    const failed = error as { status?: number; stderr?: Buffer }
    if (typeof failed.status !== "number") throw error
    return { ok: false, stderr: failed.stderr?.toString() ?? "" }
  }
}

const trySplit = (command: string): { readonly ok: true; readonly words: Array<string> } | { readonly ok: false; readonly error: ShellWordsError } => {
  try {
    return { ok: true, words: splitShellWords(command) }
  } catch (error) {
    if (!(error instanceof ShellWordsError)) throw error
    return { ok: false, error }
  }
}

const stats = { roundTrips: 0, sh: 0 }

describe("splitShellWords, property-based", () => {
  afterAll(() => {
    console.log(`shellWords: ${stats.roundTrips} round trips, ${stats.sh} cases compared with sh`)
  })

  it("undoes shellQuote for any array of strings, whatever blanks join them", () => {
    fc.assert(
      fc.property(wordsArb(true), fc.array(separatorArb(true), { minLength: 1, maxLength: 3 }), fc.boolean(), (words, separators, pad) => {
        const command = join(words.map(shellQuote), separators, pad)
        stats.roundTrips++
        expect(splitShellWords(command)).toEqual(words)
      }),
      { numRuns: 600 }
    )
  })

  it("undoes quoting in mixed styles: single, double, backslash, bare, within one word", () => {
    fc.assert(
      fc.property(fc.array(mixedWordArb(true), { maxLength: 6 }), fc.array(separatorArb(true), { minLength: 1, maxLength: 3 }), (drawn, separators) => {
        const words = drawn.map((d) => d.word)
        const command = join(drawn.map((d) => quoteMixed(d.word, d.cuts, d.styles)), separators, false)
        stats.roundTrips++
        expect(splitShellWords(command), JSON.stringify(command)).toEqual(words)
      }),
      { numRuns: 600 }
    )
  })

  it("agrees with sh on quoted words (no NUL: an argument cannot hold one)", () => {
    fc.assert(
      fc.property(fc.array(mixedWordArb(false), { maxLength: 5 }), fc.array(separatorArb(false), { minLength: 1, maxLength: 2 }), (drawn, separators) => {
        const words = drawn.map((d) => d.word)
        const command = join(drawn.map((d) => quoteMixed(d.word, d.cuts, d.styles)), separators, false)
        stats.sh++
        const sh = shWords(command)
        expect(sh, JSON.stringify(command)).toEqual({ ok: true, words })
        expect(splitShellWords(command)).toEqual(words)
      }),
      { numRuns: 60 }
    )
  })

  it("agrees with sh on random strings of words, blanks, quotes and backslashes", () => {
    // `$` and backquotes are left out: sh expands them, the splitter keeps them (see its doc comment).
    // A newline comes only after a backslash, which continues the line (or, single-quoted, is kept):
    // a bare newline would end the command in sh, where the splitter reads a blank
    const token = fc.constantFrom("a", "b", "é", " ", "\t", "'", '"', "\\", "\\\n", "\\'", '\\"', "\\\\", "''", '""')
    // …unless that backslash is itself escaped by one before it: then the newline is bare
    const command = fc.array(token, { maxLength: 14 }).map((t) => t.join("")).filter((c) => !c.includes("\\\\\n"))
    fc.assert(
      fc.property(command, (text) => {
        stats.sh++
        const sh = shWords(text)
        const split = trySplit(text)
        if (sh.ok && split.ok) expect(split.words, JSON.stringify(text)).toEqual(sh.words)
        else if (!sh.ok) expect(split.ok, `${JSON.stringify(text)}: sh refused it (${sh.stderr.trim()}), the splitter did not`).toBe(false)
        else if (!split.ok) {
          // sh keeps a trailing unquoted backslash; the splitter refuses it rather than guess
          expect(split.error.message, JSON.stringify(text)).toMatch(/^trailing backslash/)
        }
      }),
      { numRuns: 120 }
    )
  })
})
