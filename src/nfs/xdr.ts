// XDR (RFC 4506): the byte encoding under ONC RPC and NFSv4.
//
// XdrReader decodes untrusted bytes. Every read is bounded: a length is checked against the bytes
// that remain AND against a caller-given maximum before anything is allocated or sliced, so a
// forged length can neither read past the record nor make us allocate. Any violation throws
// XdrDecodeError (a StoreError INVALID_ARGUMENT), which the RPC layer answers with GARBAGE_ARGS
// and COMPOUND with NFS4ERR_BADXDR. The reader never throws anything else for bad input.
// Opaque data is returned as a view into the record (no copy): callers that keep it past the
// request copy it (Buffer.from).
//
// XdrWriter encodes replies into a list of buffers: small fields go to a reused scratch area,
// large opaque payloads (READ data) are referenced, not copied, and written with writev.
import { assert, StoreError } from '../lib/index.ts'

export class XdrDecodeError extends StoreError {
  constructor(message: string) {
    super('INVALID_ARGUMENT', `XDR decode: ${message}`)
    this.name = 'XdrDecodeError'
  }
}

export function isXdrDecodeError(error: unknown): error is XdrDecodeError {
  return error instanceof XdrDecodeError
}

const paddingOf = (length: number): number => (4 - (length & 3)) & 3

export class XdrReader {
  readonly #buffer: Buffer
  #offset: number
  readonly #end: number

  constructor(buffer: Buffer, offset = 0, end = buffer.length) {
    assert(offset >= 0 && offset <= end && end <= buffer.length, 'xdr reader bounds')
    this.#buffer = buffer
    this.#offset = offset
    this.#end = end
  }

  get offset(): number {
    return this.#offset
  }

  get remainingBytes(): number {
    return this.#end - this.#offset
  }

  #need(bytes: number, what: string): void {
    if (bytes > this.#end - this.#offset) {
      throw new XdrDecodeError(`${what} needs ${bytes} bytes, ${this.#end - this.#offset} remain`)
    }
  }

  u32(what = 'uint32'): number {
    this.#need(4, what)
    const value = this.#buffer.readUInt32BE(this.#offset)
    this.#offset += 4
    return value
  }

  i32(what = 'int32'): number {
    this.#need(4, what)
    const value = this.#buffer.readInt32BE(this.#offset)
    this.#offset += 4
    return value
  }

  u64(what = 'uint64'): bigint {
    this.#need(8, what)
    const value = this.#buffer.readBigUInt64BE(this.#offset)
    this.#offset += 8
    return value
  }

  i64(what = 'int64'): bigint {
    this.#need(8, what)
    const value = this.#buffer.readBigInt64BE(this.#offset)
    this.#offset += 8
    return value
  }

  /** A uint64 that must fit a JS safe integer (offsets, sizes); larger values are garbage here. */
  u64Number(what = 'uint64'): number {
    const value = this.u64(what)
    if (value > BigInt(Number.MAX_SAFE_INTEGER)) throw new XdrDecodeError(`${what} ${value} exceeds 2^53-1`)
    return Number(value)
  }

  bool(what = 'bool'): boolean {
    const value = this.u32(what)
    if (value > 1) throw new XdrDecodeError(`${what} is ${value}, not a boolean`)
    return value === 1
  }

  /** An enum value that must be one of `allowed`. */
  enumValue<T extends number>(allowed: ReadonlySet<number>, what: string): T {
    const value = this.i32(what)
    if (!allowed.has(value)) throw new XdrDecodeError(`${what} ${value} is not a known value`)
    return value as T
  }

  opaqueFixed(length: number, what = 'opaque'): Buffer {
    assert(Number.isSafeInteger(length) && length >= 0, 'fixed opaque length')
    const padded = length + paddingOf(length)
    this.#need(padded, what)
    const view = this.#buffer.subarray(this.#offset, this.#offset + length)
    this.#offset += padded
    return view
  }

  /** Variable-length opaque of at most maxBytes. */
  opaque(maxBytes: number, what = 'opaque'): Buffer {
    const length = this.u32(`${what} length`)
    if (length > maxBytes) throw new XdrDecodeError(`${what} length ${length} exceeds ${maxBytes}`)
    return this.opaqueFixed(length, what)
  }

  /** A string of at most maxBytes, decoded as UTF-8 (invalid sequences become U+FFFD). */
  string(maxBytes: number, what = 'string'): string {
    return this.opaque(maxBytes, what).toString('utf8')
  }

  /** A counted array of at most maxItems; each item must hold at least minItemBytes on the wire. */
  array<T>(maxItems: number, read: (reader: XdrReader) => T, what = 'array', minItemBytes = 4): T[] {
    const count = this.u32(`${what} count`)
    if (count > maxItems) throw new XdrDecodeError(`${what} count ${count} exceeds ${maxItems}`)
    // A count larger than the bytes left could hold is garbage: refuse before looping.
    this.#need(count * minItemBytes, what)
    const items: T[] = []
    for (let index = 0; index < count; index += 1) items.push(read(this))
    return items
  }

  /** XDR optional-data (`type *name`): a boolean, then the value when true. */
  optional<T>(read: (reader: XdrReader) => T, what = 'optional'): T | undefined {
    return this.bool(what) ? read(this) : undefined
  }

  /** The bytes that remain, as a view; the reader is then at its end. */
  rest(): Buffer {
    const view = this.#buffer.subarray(this.#offset, this.#end)
    this.#offset = this.#end
    return view
  }

  /** A sub-reader over the next `length` bytes (consumed here). */
  sub(length: number, what = 'sub-record'): XdrReader {
    this.#need(length, what)
    const reader = new XdrReader(this.#buffer, this.#offset, this.#offset + length)
    this.#offset += length
    return reader
  }

  /** Garbage after the last field is garbage too. */
  expectEnd(what = 'record'): void {
    if (this.#offset !== this.#end) throw new XdrDecodeError(`${this.#end - this.#offset} trailing bytes after ${what}`)
  }
}

/** Payloads at least this large are referenced in the output list rather than copied. */
const referenceMinBytes = 1024
/** Writers start small (most replies are a few hundred bytes) and double up to the maximum. */
const scratchInitialBytes = 512
const scratchMaxBytes = 64 * 1024
const zeroPadding = Buffer.alloc(4)
const twoTo32 = 2 ** 32

export interface XdrMark {
  readonly buffer: Buffer
  readonly offset: number
}

export class XdrWriter {
  readonly #parts: Buffer[] = []
  #scratch: Buffer = Buffer.allocUnsafe(scratchInitialBytes)
  #start = 0 // start of the not-yet-flushed scratch region
  #offset = 0
  #length = 0

  /** Total encoded bytes so far. */
  get length(): number {
    return this.#length
  }

  #room(bytes: number): void {
    if (this.#offset + bytes <= this.#scratch.length) return
    this.#flushScratch()
    this.#scratch = Buffer.allocUnsafe(Math.max(Math.min(this.#scratch.length * 2, scratchMaxBytes), bytes))
    this.#start = 0
    this.#offset = 0
  }

  #flushScratch(): void {
    if (this.#offset > this.#start) this.#parts.push(this.#scratch.subarray(this.#start, this.#offset))
    this.#start = this.#offset
  }

  u32(value: number): this {
    assert(Number.isInteger(value) && value >= 0 && value <= 0xffff_ffff, `xdr u32 out of range: ${value}`)
    this.#room(4)
    this.#scratch.writeUInt32BE(value, this.#offset)
    this.#offset += 4
    this.#length += 4
    return this
  }

  i32(value: number): this {
    assert(Number.isInteger(value) && value >= -0x8000_0000 && value <= 0x7fff_ffff, `xdr i32 out of range: ${value}`)
    this.#room(4)
    this.#scratch.writeInt32BE(value, this.#offset)
    this.#offset += 4
    this.#length += 4
    return this
  }

  u64(value: bigint | number): this {
    if (typeof value === 'number' && Number.isSafeInteger(value) && value >= 0) {
      // Most u64s are numbers (sizes, file ids, times): two u32 writes, no BigInt.
      this.#room(8)
      this.#scratch.writeUInt32BE(Math.floor(value / twoTo32), this.#offset)
      this.#scratch.writeUInt32BE(value >>> 0, this.#offset + 4)
      this.#offset += 8
      this.#length += 8
      return this
    }
    const big = BigInt(value)
    assert(big >= 0n && big <= 0xffff_ffff_ffff_ffffn, `xdr u64 out of range: ${big}`)
    this.#room(8)
    this.#scratch.writeBigUInt64BE(big, this.#offset)
    this.#offset += 8
    this.#length += 8
    return this
  }

  i64(value: bigint | number): this {
    if (typeof value === 'number' && Number.isSafeInteger(value)) {
      const high = Math.floor(value / twoTo32) // within int32 for a safe integer
      this.#room(8)
      this.#scratch.writeInt32BE(high, this.#offset)
      this.#scratch.writeUInt32BE(value - high * twoTo32, this.#offset + 4)
      this.#offset += 8
      this.#length += 8
      return this
    }
    this.#room(8)
    this.#scratch.writeBigInt64BE(BigInt(value), this.#offset)
    this.#offset += 8
    this.#length += 8
    return this
  }

  bool(value: boolean): this {
    return this.u32(value ? 1 : 0)
  }

  /** Reserve a u32 to fill in later (counts known only at the end). */
  reserveU32(): XdrMark {
    this.#room(4)
    const mark = { buffer: this.#scratch, offset: this.#offset }
    this.#scratch.writeUInt32BE(0, this.#offset)
    this.#offset += 4
    this.#length += 4
    return mark
  }

  patchU32(mark: XdrMark, value: number): void {
    assert(Number.isInteger(value) && value >= 0 && value <= 0xffff_ffff, 'xdr patched u32 out of range')
    mark.buffer.writeUInt32BE(value, mark.offset)
  }

  opaqueFixed(bytes: Uint8Array): this {
    const padding = paddingOf(bytes.length)
    if (bytes.length >= referenceMinBytes) {
      this.#flushScratch()
      this.#parts.push(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength))
      if (padding > 0) this.#parts.push(zeroPadding.subarray(0, padding))
    } else {
      this.#room(bytes.length + padding)
      this.#scratch.set(bytes, this.#offset)
      this.#scratch.fill(0, this.#offset + bytes.length, this.#offset + bytes.length + padding)
      this.#offset += bytes.length + padding
    }
    this.#length += bytes.length + padding
    return this
  }

  opaque(bytes: Uint8Array): this {
    this.u32(bytes.length)
    return this.opaqueFixed(bytes)
  }

  string(text: string): this {
    return this.opaque(Buffer.from(text, 'utf8'))
  }

  array<T>(items: readonly T[], write: (writer: XdrWriter, item: T) => void): this {
    this.u32(items.length)
    for (const item of items) write(this, item)
    return this
  }

  /** Append everything another writer encoded (by reference). */
  append(other: XdrWriter): this {
    this.#flushScratch()
    for (const part of other.buffers()) this.#parts.push(part)
    this.#length += other.length
    return this
  }

  /**
   * Copy what another writer encoded into this one (one contiguous run, where append would add
   * each of its parts to the list), so the other can be reset and reused.
   */
  appendCopy(other: XdrWriter): this {
    for (const part of other.buffers()) {
      this.#room(part.length)
      this.#scratch.set(part, this.#offset)
      this.#offset += part.length
      this.#length += part.length
    }
    return this
  }

  /**
   * Forget everything encoded, keeping the scratch buffer for reuse. Only for a writer whose
   * bytes nobody holds any more (buffers() and append() share them; appendCopy() does not).
   */
  reset(): this {
    this.#parts.length = 0
    this.#start = 0
    this.#offset = 0
    this.#length = 0
    return this
  }

  /** The encoded bytes as a list (for writev); the writer may keep being used afterwards. */
  buffers(): Buffer[] {
    this.#flushScratch()
    return this.#parts.slice()
  }

  /** One contiguous copy (tests, small replies kept in a cache). */
  toBuffer(): Buffer {
    return Buffer.concat(this.buffers(), this.#length)
  }
}
