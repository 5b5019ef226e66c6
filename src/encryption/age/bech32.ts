/**
 * Bech32 (BIP 173) without the 90-character limit, as age uses it for
 * `age1…` recipients and `AGE-SECRET-KEY-1…` identities.
 */

const charset = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"
const generator = [0x3b6a57b2, 0x26508e6d, 0x1ea119fa, 0x3d4233dd, 0x2a1462b3]

const polymod = (values: ReadonlyArray<number>): number => {
  let checksum = 1
  for (const value of values) {
    const top = checksum >>> 25
    checksum = ((checksum & 0x1ffffff) << 5) ^ value
    for (let i = 0; i < 5; i++) if ((top >>> i) & 1) checksum ^= generator[i]!
  }
  return checksum
}

const expandPrefix = (prefix: string): Array<number> => {
  const codes = [...prefix].map((c) => c.charCodeAt(0))
  return [...codes.map((c) => c >>> 5), 0, ...codes.map((c) => c & 31)]
}

/** Regroups bits; `pad` is for encoding, decoding requires the padding to be zero. */
const convertBits = (data: ArrayLike<number>, from: number, to: number, pad: boolean): Array<number> | undefined => {
  let accumulator = 0
  let bits = 0
  const out: Array<number> = []
  const mask = (1 << to) - 1
  for (let i = 0; i < data.length; i++) {
    accumulator = (accumulator << from) | data[i]!
    bits += from
    while (bits >= to) {
      bits -= to
      out.push((accumulator >>> bits) & mask)
    }
    accumulator &= (1 << bits) - 1
  }
  if (pad) {
    if (bits > 0) out.push((accumulator << (to - bits)) & mask)
  } else if (bits >= from || accumulator !== 0) {
    return undefined
  }
  return out
}

export const encode = (prefix: string, data: Uint8Array): string => {
  const lower = prefix.toLowerCase()
  const words = convertBits(data, 8, 5, true)!
  const checksum = polymod([...expandPrefix(lower), ...words, 0, 0, 0, 0, 0, 0]) ^ 1
  const checksumWords = Array.from({ length: 6 }, (_, i) => (checksum >>> (5 * (5 - i))) & 31)
  const text = `${lower}1${[...words, ...checksumWords].map((w) => charset[w]).join("")}`
  return prefix === lower ? text : text.toUpperCase()
}

/** Returns `undefined` unless `text` is valid Bech32 (one case only, good checksum). */
export const decode = (text: string): { readonly prefix: string; readonly data: Uint8Array } | undefined => {
  if (text !== text.toLowerCase() && text !== text.toUpperCase()) return undefined
  const lower = text.toLowerCase()
  const separator = lower.lastIndexOf("1")
  if (separator < 1 || separator + 7 > lower.length) return undefined
  const prefix = lower.slice(0, separator)
  if ([...prefix].some((c) => c.charCodeAt(0) < 33 || c.charCodeAt(0) > 126)) return undefined
  const words: Array<number> = []
  for (const c of lower.slice(separator + 1)) {
    const word = charset.indexOf(c)
    if (word === -1) return undefined
    words.push(word)
  }
  if (polymod([...expandPrefix(prefix), ...words]) !== 1) return undefined
  const data = convertBits(words.slice(0, -6), 5, 8, false)
  return data === undefined ? undefined : { prefix, data: Uint8Array.from(data) }
}
