import type { Stanza } from "./header.ts"

/** Wraps a file key into the stanzas one public key can later unwrap. */
export interface Recipient {
  /** For messages: the key type and a fingerprint, never key material. */
  readonly label: string
  readonly wrap: (fileKey: Uint8Array) => ReadonlyArray<Stanza>
}

/**
 * Unwraps the file key from the stanzas addressed to it. Returns `undefined`
 * when no stanza is addressed to this identity; throws a `DecryptError` when
 * one is, but does not open.
 */
export interface Identity {
  readonly label: string
  readonly unwrap: (stanzas: ReadonlyArray<Stanza>) => Uint8Array | undefined
}
