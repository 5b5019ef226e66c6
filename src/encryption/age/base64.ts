/**
 * The base64 of the age header: standard alphabet, no `=` padding, and only
 * canonical encodings accepted (age-encryption.org/v1, "Conventions").
 */

const alphabet = /^[A-Za-z0-9+/]*$/

export const encodeRaw = (bytes: Uint8Array): string => Buffer.from(bytes).toString("base64").replace(/=+$/, "")

/** Returns `undefined` for anything that is not canonical unpadded base64. */
export const decodeRaw = (text: string): Uint8Array | undefined => {
  if (!alphabet.test(text) || text.length % 4 === 1) return undefined
  const bytes = Buffer.from(text, "base64")
  // Node's decoder is lenient about the unused bits of the last character; a
  // round trip rejects every non-canonical spelling of the same bytes.
  return encodeRaw(bytes) === text ? new Uint8Array(bytes) : undefined
}
