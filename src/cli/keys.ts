/** decryption-key-generate, decryption-key-to-encryption-key (their flags: ./commands.ts) */
import { Effect } from "effect"
import { generateDecryptionKey, parseDecryptionKeys } from "../encryption/keys.ts"
import type { Input, keyGenerateFlags } from "./commands.ts"
import { printLine, readStdinText } from "./io.ts"

export const generate = ({ type }: Input<typeof keyGenerateFlags>) =>
  generateDecryptionKey(type).pipe(Effect.flatMap((key) => Effect.sync(() => void process.stdout.write(key))))

export const toEncryptionKey = () =>
  readStdinText.pipe(
    Effect.flatMap((text) => parseDecryptionKeys(text, "standard input")),
    Effect.flatMap((keys) => printLine(keys.encryptionKeys.join("\n")))
  )
