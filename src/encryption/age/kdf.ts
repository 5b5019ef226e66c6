import * as crypto from "node:crypto"

/** HKDF-SHA-256 with a 32-byte output, the only key derivation age uses. */
export const hkdfSha256 = (ikm: Uint8Array, salt: Uint8Array, info: string): Buffer =>
  Buffer.from(crypto.hkdfSync("sha256", ikm, salt, info, 32))
