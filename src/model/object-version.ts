// Object version records (docs/format/objects.md 3.2): version byte, u32 header length, JSON
// header, then a payload (inline bytes or a chunk table). The same bytes are stored under the
// version's key and, for the latest non-delete-marker version, under the key's current entry.
// Invariants: sizeBytes equals the payload's size (inline), the table's sum (chunks) or the
// segments' sum (segments); delete markers have data 'none', size 0 and no etag.
// Never: hold chunk references for the 'cur' copy (only the version key's record counts).
import { assert } from '../lib/index.ts'
import { checksumAlgorithms, type ChecksumAlgorithm } from '../lib/checksum/index.ts'
import { recordBody } from '../meta/index.ts'
import { decodeEncryption, decodeRestore, decodeTiering, encodeEncryption, encodeRestore, encodeTiering, type StoredEncryption, type StoredRestore, type StoredTiering } from './lifecycle-version.ts'
import { chunkTableSizeBytes, decodeChunkTable, encodeChunkTable, type ChunkReference } from './manifest.ts'
import { ShapeReader, corruptRecord } from './shape.ts'

export const storageClasses = ['STANDARD', 'STANDARD_IA', 'ONEZONE_IA', 'INTELLIGENT_TIERING', 'GLACIER_IR', 'GLACIER', 'DEEP_ARCHIVE'] as const
export type StorageClass = (typeof storageClasses)[number]
export const checksumTypes = ['COMPOSITE', 'FULL_OBJECT'] as const
export type ChecksumType = (typeof checksumTypes)[number]
export { checksumAlgorithms, type ChecksumAlgorithm }

export interface StoredChecksum {
  readonly algorithm: ChecksumAlgorithm
  readonly type: ChecksumType
  readonly value: string
}

export const contentHeaderNames = ['contentType', 'contentEncoding', 'contentLanguage', 'contentDisposition', 'cacheControl', 'expires'] as const
export type ContentHeaderName = (typeof contentHeaderNames)[number]
export type StoredContentHeaders = { [name in ContentHeaderName]?: string }

export interface StoredTag {
  readonly key: string
  readonly value: string
}

export interface SegmentInfo {
  /** Segment record index: the part number for multipart objects, 0.. for large single PUTs. */
  readonly index: number
  readonly sizeBytes: number
  readonly chunkCount: number
  /** The part's checksum (base64, the object's algorithm) when the upload had one. */
  readonly checksum?: string
}

export type VersionData =
  | { readonly kind: 'none' }
  | { readonly kind: 'inline'; readonly bytes: Buffer }
  | { readonly kind: 'chunks'; readonly chunks: readonly ChunkReference[] }
  | { readonly kind: 'segments'; readonly manifestId: string; readonly multipart: boolean; readonly segments: readonly SegmentInfo[] }

export interface VersionRecord {
  readonly order: number
  readonly versionId: string
  readonly deleteMarker: boolean
  readonly sizeBytes: number
  /** Without quotes; '' for delete markers. */
  readonly etag: string
  readonly checksum?: StoredChecksum
  readonly contentHeaders: StoredContentHeaders
  readonly userMetadata: Readonly<Record<string, string>>
  readonly tags: readonly StoredTag[]
  readonly storageClass: StorageClass
  readonly owner: string
  readonly lastModifiedMs: number
  readonly data: VersionData
  /** Archived versions only: the restore requested or done (lifecycle-version.ts). */
  readonly restore?: StoredRestore
  /** INTELLIGENT_TIERING versions only: access tier and last access (lifecycle-version.ts). */
  readonly tiering?: StoredTiering
  /** Server-side encryption of the data (lifecycle-version.ts); absent: none requested. */
  readonly encryption?: StoredEncryption
}

const versionRecordVersion = 1

function dataSizeBytes(data: VersionData): number {
  switch (data.kind) {
    case 'none':
      return 0
    case 'inline':
      return data.bytes.length
    case 'chunks':
      return chunkTableSizeBytes(data.chunks)
    case 'segments':
      return data.segments.reduce((sum, segment) => sum + segment.sizeBytes, 0)
  }
}

function dataHeader(data: VersionData): Record<string, unknown> {
  switch (data.kind) {
    case 'none':
    case 'inline':
      return { kind: data.kind }
    case 'chunks':
      return { kind: 'chunks', chunkCount: data.chunks.length }
    case 'segments':
      return {
        kind: 'segments',
        manifestId: data.manifestId,
        multipart: data.multipart,
        segments: data.segments.map((segment) => ({ ...segment })),
      }
  }
}

export function encodeVersion(record: VersionRecord): Buffer {
  assert(dataSizeBytes(record.data) === record.sizeBytes, 'a version size is the size of its data')
  assert(record.deleteMarker === (record.data.kind === 'none'), 'exactly delete markers have no data')
  const header = Buffer.from(JSON.stringify({
    order: record.order,
    versionId: record.versionId,
    deleteMarker: record.deleteMarker,
    sizeBytes: record.sizeBytes,
    etag: record.etag,
    ...(record.checksum === undefined ? {} : { checksum: { ...record.checksum } }),
    contentHeaders: record.contentHeaders,
    userMetadata: record.userMetadata,
    tags: record.tags.map((tag) => [tag.key, tag.value]),
    storageClass: record.storageClass,
    owner: record.owner,
    lastModifiedMs: record.lastModifiedMs,
    data: dataHeader(record.data),
    ...(record.restore === undefined ? {} : { restore: encodeRestore(record.restore) }),
    ...(record.tiering === undefined ? {} : { tiering: encodeTiering(record.tiering) }),
    ...(record.encryption === undefined ? {} : { encryption: encodeEncryption(record.encryption) }),
  }), 'utf8')
  const payload = record.data.kind === 'inline' ? record.data.bytes : record.data.kind === 'chunks' ? encodeChunkTable(record.data.chunks) : Buffer.alloc(0)
  const out = Buffer.allocUnsafe(5 + header.length + payload.length)
  out[0] = versionRecordVersion
  out.writeUInt32LE(header.length, 1)
  header.copy(out, 5)
  payload.copy(out, 5 + header.length)
  return out
}

export function decodeVersion(bytes: Uint8Array, what: string): VersionRecord {
  const { body } = recordBody(bytes, [versionRecordVersion], what)
  if (body.length < 4) throw corruptRecord(what, 'too short for a header length')
  const headerBytes = body.readUInt32LE(0)
  if (4 + headerBytes > body.length) throw corruptRecord(what, 'header length past the end')
  let json: unknown
  try {
    json = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(body.subarray(4, 4 + headerBytes)))
  } catch (error) {
    throw corruptRecord(what, 'header is not UTF-8 JSON', error)
  }
  const header = new ShapeReader(json, what)
  const payload = Buffer.from(body.subarray(4 + headerBytes))
  const record: VersionRecord = {
    order: header.count('order'),
    versionId: header.string('versionId'),
    deleteMarker: header.boolean('deleteMarker'),
    sizeBytes: header.count('sizeBytes'),
    etag: header.string('etag'),
    ...(header.has('checksum') ? { checksum: decodeChecksum(header.object('checksum')) } : {}),
    contentHeaders: decodeContentHeaders(header.object('contentHeaders')),
    userMetadata: header.stringMap('userMetadata'),
    tags: header.pairs('tags').map(([key, value]) => ({ key, value })),
    storageClass: header.oneOf('storageClass', storageClasses),
    owner: header.string('owner'),
    lastModifiedMs: header.count('lastModifiedMs'),
    data: decodeData(header.object('data'), payload, what),
    ...(header.has('restore') ? { restore: decodeRestore(header.object('restore')) } : {}),
    ...(header.has('tiering') ? { tiering: decodeTiering(header.object('tiering')) } : {}),
    ...(header.has('encryption') ? { encryption: decodeEncryption(header.object('encryption')) } : {}),
  }
  if (dataSizeBytes(record.data) !== record.sizeBytes) throw corruptRecord(what, 'size does not match its data')
  if (record.deleteMarker !== (record.data.kind === 'none')) throw corruptRecord(what, 'delete marker flag does not match its data')
  return record
}

export function decodeChecksum(reader: ShapeReader): StoredChecksum {
  return { algorithm: reader.oneOf('algorithm', checksumAlgorithms), type: reader.oneOf('type', checksumTypes), value: reader.string('value') }
}

export function decodeContentHeaders(reader: ShapeReader): StoredContentHeaders {
  const headers: StoredContentHeaders = {}
  for (const name of contentHeaderNames) {
    const value = reader.optionalString(name)
    if (value !== undefined) headers[name] = value
  }
  return headers
}

function decodeData(reader: ShapeReader, payload: Buffer, what: string): VersionData {
  const kind = reader.oneOf('kind', ['none', 'inline', 'chunks', 'segments'] as const)
  switch (kind) {
    case 'none':
      if (payload.length !== 0) throw corruptRecord(what, 'a delete marker has a payload')
      return { kind }
    case 'inline':
      return { kind, bytes: payload }
    case 'chunks': {
      const chunks = decodeChunkTable(payload, what)
      if (chunks.length !== reader.count('chunkCount')) throw corruptRecord(what, 'chunk count does not match the table')
      return { kind, chunks }
    }
    case 'segments': {
      if (payload.length !== 0) throw corruptRecord(what, 'a segmented version has a payload')
      const segments = reader.array('segments').map((entry, at) => {
        const segment = new ShapeReader(entry, `${what}.segments[${at}]`)
        const checksum = segment.optionalString('checksum')
        return { index: segment.count('index'), sizeBytes: segment.count('sizeBytes'), chunkCount: segment.count('chunkCount'), ...(checksum === undefined ? {} : { checksum }) }
      })
      return { kind, manifestId: reader.string('manifestId'), multipart: reader.boolean('multipart'), segments }
    }
  }
}

const nullPointerVersion = 1

/** The null-version pointer (objects.md 3.4): version byte, u64 LE order. */
export function encodeNullPointer(order: number): Buffer {
  assert(Number.isSafeInteger(order) && order >= 0, 'orders are u53')
  const out = Buffer.allocUnsafe(9)
  out[0] = nullPointerVersion
  out.writeBigUInt64LE(BigInt(order), 1)
  return out
}

export function decodeNullPointer(bytes: Uint8Array, what: string): number {
  const { body } = recordBody(bytes, [nullPointerVersion], what)
  if (body.length !== 8) throw corruptRecord(what, 'a null pointer is 8 bytes')
  const order = body.readBigUInt64LE(0)
  if (order > BigInt(Number.MAX_SAFE_INTEGER)) throw corruptRecord(what, 'order is not a u53')
  return Number(order)
}
