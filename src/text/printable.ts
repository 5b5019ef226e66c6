/**
 * Text from outside (container names, labels, commands, a command's stderr)
 * made safe to print. A container may set any label and write anything to
 * stderr; printed raw, an escape sequence can rewrite the operator's
 * terminal, and a bidi override (U+202E) or an invisible character can make
 * a log line or an alert say something it does not. Everything such is shown
 * escaped instead: `\x1b`, `\r`, `\u{202e}`.
 *
 * Escaping leaves backslashes as they are, so it is idempotent: text may be
 * escaped where it enters and again where it is printed.
 */

/**
 * C0 controls and DEL, C1 controls, format characters (bidi controls,
 * zero-width characters, the BOM), line and paragraph separators, and lone
 * surrogates. Tab and newline are not in it; see `printable`.
 */
const unsafe = /[\u0000-\u001f\u007f-\u009f\p{Cf}\u2028\u2029\p{Cs}]/gu

const named: Record<string, string> = { "\t": "\\t", "\n": "\\n", "\r": "\\r" }

const escape = (c: string): string => {
  const known = named[c]
  if (known !== undefined) return known
  const code = c.codePointAt(0)!
  return code < 0x100 ? `\\x${code.toString(16).padStart(2, "0")}` : `\\u{${code.toString(16)}}`
}

/** True when `text` holds a character `printable` would escape (tab and newline included). */
export const hasUnsafeCharacters = (text: string): boolean => /[\t\n]/.test(text) || new RegExp(unsafe.source, "u").test(text)

/** `text` with every unsafe character escaped; tabs and newlines kept (stderr tails are several lines). */
export const printable = (text: string): string =>
  text.replace(unsafe, (c) => (c === "\t" || c === "\n" ? c : escape(c)))

/** `text` on one line: `printable`, with tabs and newlines escaped too (names, commands, table cells). */
export const printableLine = (text: string): string => text.replace(unsafe, escape)
