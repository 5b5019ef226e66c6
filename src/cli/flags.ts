/** Flags several verbs share (only effect/cli: see ./commands.ts). */
import { Flag } from "effect/cli"

export const configFlag = Flag.String("config").pipe(
  Flag.withAlias("c"),
  Flag.withDescription("Config file (default: $UBACKUP_CONF, base64 of the JSON, else ./config.json)"),
  Flag.optional
)

export const keyFlag = Flag.String("key").pipe(Flag.withDescription("Decryption key: PEM RSA private key or age identity file"))

export const quietFlag = Flag.Boolean("quiet").pipe(
  Flag.withAlias("q"),
  Flag.withDescription("No progress line on stderr (there is none unless stderr is a terminal)"),
  Flag.withDefault(false)
)

export const fromFlag = Flag.String("from").pipe(
  Flag.withDescription("The destination to use, by name, when the config's storage is a list (default: the first)"),
  Flag.optional
)

export const limitUploadFlag = Flag.String("limit-upload").pipe(
  Flag.withDescription("Upload at most this fast, e.g. 20MiB/s (a bare number is KiB/s, as restic's); overrides bandwidth_limit"),
  Flag.optional
)
