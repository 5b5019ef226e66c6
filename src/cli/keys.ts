/** decryption-key-generate, decryption-key-to-encryption-key */
import { Effect } from "effect"
import { Command, Flag } from "effect/cli"
import { generateDecryptionKey, parseDecryptionKeys } from "../encryption/keys.ts"
import { printLine, readStdinText } from "./io.ts"

export const decryptionKeyGenerate = Command.make(
  "decryption-key-generate",
  {
    type: Flag.Literals("type", ["rsa", "x25519"]).pipe(
      Flag.withDescription("rsa: RSA-4096 PEM, as µbackup (default); x25519: an age identity (AGE-SECRET-KEY-1…)"),
      Flag.withDefault("rsa" as const)
    )
  },
  ({ type }) => generateDecryptionKey(type).pipe(Effect.flatMap((key) => Effect.sync(() => void process.stdout.write(key))))
).pipe(Command.withDescription("Print a new decryption (private) key. Keep it off the machines that take backups."))

export const decryptionKeyToEncryptionKey = Command.make(
  "decryption-key-to-encryption-key",
  {},
  () =>
    readStdinText.pipe(
      Effect.flatMap((text) => parseDecryptionKeys(text, "standard input")),
      Effect.flatMap((keys) => printLine(keys.encryptionKeys.join("\n")))
    )
).pipe(Command.withDescription(
  "Read a decryption key on stdin, print its encryption (public) key: PEM RSA PUBLIC KEY, or the age1… recipient"
))
