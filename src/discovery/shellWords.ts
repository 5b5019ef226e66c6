/**
 * Splits a backup command into argv the way a POSIX shell splits words:
 * blanks separate words; 'single quotes' keep everything literally; "double
 * quotes" keep everything except \" \\ \$ \` and a backslash-newline; a
 * backslash outside quotes keeps the next character. There is no expansion
 * ($VAR, globs, ~): for that, write `sh -c '…'` (µbackup split on spaces and
 * broke on exactly that).
 */
export class ShellWordsError extends Error {
  override readonly name = "ShellWordsError"
}

export const splitShellWords = (command: string): Array<string> => {
  const words: Array<string> = []
  let word = ""
  let inWord = false
  let i = 0
  const fail = (what: string) => {
    throw new ShellWordsError(`${what} in ${JSON.stringify(command)}`)
  }
  while (i < command.length) {
    const c = command[i]!
    if (c === " " || c === "\t" || c === "\n") {
      if (inWord) words.push(word)
      word = ""
      inWord = false
      i++
    } else if (c === "'") {
      const end = command.indexOf("'", i + 1)
      if (end === -1) fail("unbalanced single quote")
      word += command.slice(i + 1, end)
      inWord = true
      i = end + 1
    } else if (c === '"') {
      inWord = true
      i++
      for (;;) {
        if (i >= command.length) fail("unbalanced double quote")
        const d = command[i]!
        if (d === '"') {
          i++
          break
        }
        if (d === "\\" && i + 1 < command.length && '"\\$`\n'.includes(command[i + 1]!)) {
          if (command[i + 1] !== "\n") word += command[i + 1]
          i += 2
        } else {
          word += d
          i++
        }
      }
    } else if (c === "\\") {
      if (i + 1 >= command.length) fail("trailing backslash")
      if (command[i + 1] !== "\n") {
        word += command[i + 1]
        inWord = true
      }
      i += 2
    } else {
      word += c
      inWord = true
      i++
    }
  }
  if (inWord) words.push(word)
  return words
}
