// Chunk-store metadata records (docs/format/pack.md section 2): keys and binary codecs for the
// store format record, the pack id counter, pack records, chunk locations and GC queue entries.
// Refcount records live in refs.ts.
//
// Contract: encoders take values the store produced (asserted); decoders read bytes from the
// MetaStore and throw StoreError IO_ERROR ("metadata record ... is corrupt") on anything that
// does not match the layout, because that is a damaged store, not a bug and not caller input.
// Never: change a layout without a new version byte and a reader for the old one.
import { assert, StoreError, type ChunkId, type KeyDomainId, type PackId } from '../lib/index.ts'
import { key, prefixRange, recordBody } from '../meta/index.ts'

export type Tier = 'hot' | 'cold'
export const tiers: readonly Tier[] = ['hot', 'cold']
const tierCodes = { hot: 1, cold: 2 } as const satisfies Record<Tier, number>

const recordVersion = 1
const supported = [recordVersion] as const

// ---- keys ----------------------------------------------------------------------------------

export const formatKey = key('sys', 'format')
export const packCounterKey = key('sys', 'seq', 'pack')
export const packKey = (packId: PackId): Buffer => key('pack', packId)
export const packRange = prefixRange('pack')
export const locationKey = (id: ChunkId): Buffer => key('chunk', 'loc', id)
export const locationRange = prefixRange('chunk', 'loc')
export const gcKey = (zeroSinceMs: number, id: ChunkId): Buffer => key('chunk', 'gc', zeroSinceMs, id)
export const gcRange = prefixRange('chunk', 'gc')
/** Every GC entry older than (strictly before) zeroSinceMs. */
export const gcDueRange = (beforeMs: number): { gt: Buffer; lt: Buffer } => ({ gt: gcRange.gt, lt: key('chunk', 'gc', beforeMs) })

function corrupt(what: string, reason: string): StoreError {
  return new StoreError('IO_ERROR', `metadata record ${what} is corrupt: ${reason}`)
}

function bodyOf(bytes: Uint8Array, what: string, lengthBytes: number): Buffer {
  const { body } = recordBody(bytes, supported, what)
  if (body.length !== lengthBytes) throw corrupt(what, `${body.length + 1} bytes, expected ${lengthBytes + 1}`)
  return body
}

function writeU64(buffer: Buffer, value: number, offset: number): void {
  assert(Number.isSafeInteger(value) && value >= 0, 'u64 record fields hold non-negative safe integers')
  buffer.writeBigUInt64LE(BigInt(value), offset)
}

function readU64(buffer: Buffer, offset: number, what: string): number {
  const value = buffer.readBigUInt64LE(offset)
  if (value > BigInt(Number.MAX_SAFE_INTEGER)) throw corrupt(what, `u64 field at ${offset + 1} is not a safe integer`)
  return Number(value)
}

// ---- store format --------------------------------------------------------------------------

export interface FormatRecord {
  hashAlgorithmCode: number
  createdMs: number
}

export function encodeFormat(record: FormatRecord): Buffer {
  const out = Buffer.alloc(10)
  out[0] = recordVersion
  out[1] = record.hashAlgorithmCode
  writeU64(out, record.createdMs, 2)
  return out
}

export function decodeFormat(bytes: Uint8Array): FormatRecord {
  const body = bodyOf(bytes, "('sys','format')", 9)
  return { hashAlgorithmCode: body[0] as number, createdMs: readU64(body, 1, "('sys','format')") }
}

// ---- pack id counter -----------------------------------------------------------------------

export function encodeCounter(last: number): Buffer {
  const out = Buffer.alloc(9)
  out[0] = recordVersion
  writeU64(out, last, 1)
  return out
}

export function decodeCounter(bytes: Uint8Array | undefined): number {
  if (bytes === undefined) return 0
  return readU64(bodyOf(bytes, "('sys','seq','pack')", 8), 0, "('sys','seq','pack')")
}

// ---- pack records --------------------------------------------------------------------------

export type PackState = 'open' | 'sealed'

export interface PackRecord {
  tier: Tier
  state: PackState
  createdMs: number
  /** Bytes of committed frames (header + payload). */
  frameBytes: number
  /** Frame bytes of the frames some location points at. */
  liveBytes: number
  /** Number of locations pointing into the pack. */
  liveChunks: number
}

const packBodyBytes = 35

export function encodePackRecord(record: PackRecord): Buffer {
  assert(record.liveBytes <= record.frameBytes, 'live bytes never exceed frame bytes')
  const out = Buffer.alloc(1 + packBodyBytes)
  out[0] = recordVersion
  out[1] = tierCodes[record.tier]
  out[2] = record.state === 'open' ? 1 : 2
  writeU64(out, record.createdMs, 4)
  writeU64(out, record.frameBytes, 12)
  writeU64(out, record.liveBytes, 20)
  writeU64(out, record.liveChunks, 28)
  return out
}

export function decodePackRecord(bytes: Uint8Array, packId: PackId): PackRecord {
  const what = `('pack',${packId})`
  const body = bodyOf(bytes, what, packBodyBytes)
  const tier = body[0] === tierCodes.hot ? 'hot' : body[0] === tierCodes.cold ? 'cold' : undefined
  const state = body[1] === 1 ? 'open' : body[1] === 2 ? 'sealed' : undefined
  if (tier === undefined || state === undefined || body[2] !== 0) throw corrupt(what, 'bad tier, state or reserved byte')
  return {
    tier,
    state,
    createdMs: readU64(body, 3, what),
    frameBytes: readU64(body, 11, what),
    liveBytes: readU64(body, 19, what),
    liveChunks: readU64(body, 27, what),
  }
}

// ---- locations -----------------------------------------------------------------------------

export interface Location {
  packId: PackId
  /** Offset of the frame header in the pack file. */
  offset: number
  storedBytes: number
  plainBytes: number
  codec: number
  domain: KeyDomainId
}

const locationBodyBytes = 29

export function encodeLocation(location: Location): Buffer {
  const out = Buffer.alloc(1 + locationBodyBytes)
  out[0] = recordVersion
  writeU64(out, location.packId, 1)
  writeU64(out, location.offset, 9)
  out.writeUInt32LE(location.storedBytes, 17)
  out.writeUInt32LE(location.plainBytes, 21)
  out[25] = location.codec
  out.writeUInt32LE(location.domain, 26)
  return out
}

export function decodeLocation(bytes: Uint8Array, id: ChunkId): Location {
  const what = `('chunk','loc',${id.toString('hex')})`
  const body = bodyOf(bytes, what, locationBodyBytes)
  const packId = readU64(body, 0, what)
  if (packId === 0) throw corrupt(what, 'pack id 0')
  return {
    packId: packId as PackId,
    offset: readU64(body, 8, what),
    storedBytes: body.readUInt32LE(16),
    plainBytes: body.readUInt32LE(20),
    codec: body[24] as number,
    domain: body.readUInt32LE(25) as KeyDomainId,
  }
}

export function sameLocation(a: Location, b: Location): boolean {
  return a.packId === b.packId && a.offset === b.offset
}
