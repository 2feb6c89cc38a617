// ONC RPC record marking over TCP (RFC 5531 section 11): a record is one or more fragments, each
// behind a 4-byte header whose top bit marks the last fragment and whose low 31 bits give the
// fragment length.
//
// RecordReader turns a byte stream into whole records. It never holds more than maxRecordBytes
// of one record: a fragment that would pass the limit is an error (the connection is closed),
// found from its header before its bytes arrive. Records are contiguous Buffers (one copy per
// multi-chunk record), so XDR decoding works on one buffer.
import { assert } from '../lib/index.ts'

export const lastFragmentBit = 0x8000_0000

export class RecordTooLargeError extends Error {
  constructor(sizeBytes: number, maxBytes: number) {
    super(`RPC record of at least ${sizeBytes} bytes exceeds the limit of ${maxBytes}`)
    this.name = 'RecordTooLargeError'
  }
}

export class RecordReader {
  readonly #maxRecordBytes: number
  readonly #header = Buffer.alloc(4)
  #headerFilled = 0
  #fragmentRemaining = 0
  #inFragment = false
  #lastFragment = false
  #parts: Buffer[] = []
  #recordBytes = 0

  constructor(maxRecordBytes: number) {
    assert(maxRecordBytes > 0 && maxRecordBytes < lastFragmentBit, 'record limit fits a fragment header')
    this.#maxRecordBytes = maxRecordBytes
  }

  /** Bytes of a record received but not yet complete. */
  get pendingBytes(): number {
    return this.#recordBytes
  }

  /** Feed bytes; returns the records completed by them (maybe none). Throws RecordTooLargeError. */
  push(chunk: Buffer): Buffer[] {
    const records: Buffer[] = []
    let offset = 0
    while (offset < chunk.length) {
      if (!this.#inFragment) {
        const take = Math.min(4 - this.#headerFilled, chunk.length - offset)
        chunk.copy(this.#header, this.#headerFilled, offset, offset + take)
        this.#headerFilled += take
        offset += take
        if (this.#headerFilled < 4) break
        this.#startFragment()
        if (this.#fragmentRemaining === 0 && this.#lastFragment) records.push(this.#finishRecord())
        continue
      }
      const take = Math.min(this.#fragmentRemaining, chunk.length - offset)
      // A view is safe: net.Socket hands each chunk over for good.
      this.#parts.push(chunk.subarray(offset, offset + take))
      this.#fragmentRemaining -= take
      offset += take
      if (this.#fragmentRemaining === 0) {
        this.#inFragment = false
        if (this.#lastFragment) records.push(this.#finishRecord())
      }
    }
    return records
  }

  #startFragment(): void {
    const word = this.#header.readUInt32BE(0)
    this.#headerFilled = 0
    this.#lastFragment = (word & lastFragmentBit) !== 0
    this.#fragmentRemaining = word & ~lastFragmentBit
    this.#recordBytes += this.#fragmentRemaining
    if (this.#recordBytes > this.#maxRecordBytes) throw new RecordTooLargeError(this.#recordBytes, this.#maxRecordBytes)
    this.#inFragment = this.#fragmentRemaining > 0
  }

  #finishRecord(): Buffer {
    const record = this.#parts.length === 1 ? (this.#parts[0] as Buffer) : Buffer.concat(this.#parts, this.#recordBytes)
    this.#parts = []
    this.#recordBytes = 0
    this.#inFragment = false
    return record
  }
}

/** The header for a reply sent as one fragment. */
export function recordMark(lengthBytes: number): Buffer {
  assert(lengthBytes < lastFragmentBit, 'reply fits one fragment')
  const header = Buffer.allocUnsafe(4)
  header.writeUInt32BE((lastFragmentBit | lengthBytes) >>> 0, 0)
  return header
}
