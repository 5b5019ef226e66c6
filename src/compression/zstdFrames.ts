/**
 * Splits a zstd stream at frame boundaries without decompressing it, by
 * walking the frame and block headers (RFC 8878, section 3.1).
 *
 * Node's zstd decoder stops after the first frame and silently drops the
 * rest, so a multi-frame stream (ours: one frame per block; or concatenated
 * `zstd` outputs) has to be fed to it one frame at a time.
 */

export interface Segment {
  readonly bytes: Uint8Array
  /** True on the segment that ends a frame. */
  readonly endsFrame: boolean
}

export class ZstdFormatError extends Error {
  override readonly name = "ZstdFormatError"
}

const frameMagic = 0xfd2fb528
const isSkippableMagic = (magic: number) => (magic & 0xfffffff0) >>> 0 === 0x184d2a50

type State =
  | { readonly kind: "frameStart" }
  | { readonly kind: "frameHeader" }
  | { readonly kind: "blockHeader"; readonly checksum: boolean }
  | { readonly kind: "body"; remaining: number; readonly then: State; readonly emit: boolean; readonly endsFrame: boolean }

export class ZstdFrameSplitter {
  #state: State = { kind: "frameStart" }
  #header: Buffer = Buffer.alloc(0)
  #frames = 0

  push(input: Uint8Array): Array<Segment> {
    const out: Array<Segment> = []
    let offset = 0
    for (;;) {
      const state = this.#state
      if (state.kind === "body") {
        if (offset === input.length) break
        const n = Math.min(state.remaining, input.length - offset)
        if (state.emit) out.push({ bytes: input.subarray(offset, offset + n), endsFrame: state.endsFrame && n === state.remaining })
        state.remaining -= n
        offset += n
        if (state.remaining === 0) this.#state = state.then
        continue
      }
      // headers are small: gather them byte-exact; what is needed can grow
      // as the first bytes arrive (skippable magic, frame header descriptor)
      const needed = this.#headerBytesNeeded(state)
      if (this.#header.length < needed) {
        if (offset === input.length) break
        const take = Math.min(needed - this.#header.length, input.length - offset)
        this.#header = Buffer.concat([this.#header, input.subarray(offset, offset + take)])
        offset += take
        continue
      }
      this.#consumeHeader(state, out)
    }
    return out
  }

  /** Throws unless the input ended exactly at a frame boundary (and held at least one frame). */
  finish(): void {
    this.push(new Uint8Array(0))
    if (this.#state.kind !== "frameStart" || this.#header.length > 0) {
      throw new ZstdFormatError("the zstd stream is truncated: it ends inside a frame")
    }
    if (this.#frames === 0) throw new ZstdFormatError("the zstd stream is empty")
  }

  #headerBytesNeeded(state: State): number {
    switch (state.kind) {
      case "frameStart":
        if (this.#header.length < 4) return 4
        return isSkippableMagic(this.#header.readUInt32LE(0)) ? 8 : 4
      case "frameHeader": {
        if (this.#header.length < 5) return 5
        const descriptor = this.#header[4]!
        const singleSegment = (descriptor >> 5) & 1
        const contentSizeBytes = [singleSegment ? 1 : 0, 2, 4, 8][descriptor >> 6]!
        const dictionaryIdBytes = [0, 1, 2, 4][descriptor & 3]!
        return 5 + (singleSegment ? 0 : 1) + dictionaryIdBytes + contentSizeBytes
      }
      case "blockHeader":
        return 3
      case "body":
        return 0
    }
  }

  #consumeHeader(state: State, out: Array<Segment>): void {
    const header = this.#header
    this.#header = Buffer.alloc(0)
    switch (state.kind) {
      case "frameStart": {
        const magic = header.readUInt32LE(0)
        if (isSkippableMagic(magic)) {
          // skippable frames carry no content: drop them
          const size = header.readUInt32LE(4)
          const next: State = { kind: "frameStart" }
          this.#state = size === 0 ? next : { kind: "body", remaining: size, then: next, emit: false, endsFrame: false }
          return
        }
        if (magic !== frameMagic) throw new ZstdFormatError("not a zstd frame (bad magic number)")
        // keep the magic: the frame header is re-read with it
        this.#header = header
        this.#state = { kind: "frameHeader" }
        return
      }
      case "frameHeader": {
        if ((header[4]! & 0x08) !== 0) throw new ZstdFormatError("zstd frame header has the reserved bit set")
        this.#frames++
        out.push({ bytes: header, endsFrame: false })
        this.#state = { kind: "blockHeader", checksum: (header[4]! & 0x04) !== 0 }
        return
      }
      case "blockHeader": {
        const value = header[0]! | (header[1]! << 8) | (header[2]! << 16)
        const last = (value & 1) === 1
        const type = (value >> 1) & 3
        if (type === 3) throw new ZstdFormatError("zstd block of the reserved type")
        const contentSize = type === 1 ? 1 : value >>> 3 // an RLE block stores one byte
        const frameEnd: State = { kind: "frameStart" }
        const afterBlock: State = !last
          ? { kind: "blockHeader", checksum: state.checksum }
          : state.checksum
          ? { kind: "body", remaining: 4, then: frameEnd, emit: true, endsFrame: true }
          : frameEnd
        // the frame ends with this block when it is the last and no checksum follows
        const endsWithBlock = last && !state.checksum
        out.push({ bytes: header, endsFrame: endsWithBlock && contentSize === 0 })
        this.#state = contentSize === 0
          ? afterBlock
          : { kind: "body", remaining: contentSize, then: afterBlock, emit: true, endsFrame: endsWithBlock }
        return
      }
      case "body":
        return
    }
  }
}
