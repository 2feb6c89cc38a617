// Bucket records (docs/format/objects.md 2): JSON after the version byte.
import { decodeJsonRecord, encodeJsonRecord } from '../meta/index.ts'
import type { StoredTag } from './object-version.ts'
import { ShapeReader, corruptRecord } from './shape.ts'

export const versioningStates = ['Unversioned', 'Enabled', 'Suspended'] as const
export type BucketVersioning = (typeof versioningStates)[number]

export interface BucketRecord {
  readonly id: number
  readonly name: string
  readonly owner: string
  readonly createdMs: number
  readonly region: string
  readonly versioning: BucketVersioning
  readonly tags: readonly StoredTag[]
}

const bucketRecordVersion = 1

export function encodeBucket(record: BucketRecord): Buffer {
  return encodeJsonRecord(bucketRecordVersion, {
    id: record.id,
    name: record.name,
    owner: record.owner,
    createdMs: record.createdMs,
    region: record.region,
    versioning: record.versioning,
    tags: record.tags.map((tag) => [tag.key, tag.value]),
  })
}

export function decodeBucket(bytes: Uint8Array, what: string): BucketRecord {
  const { version, value } = decodeJsonRecord(bytes, what)
  if (version !== bucketRecordVersion) throw corruptRecord(what, `unknown version ${version}`)
  const reader = new ShapeReader(value, what)
  return {
    id: reader.count('id'),
    name: reader.string('name'),
    owner: reader.string('owner'),
    createdMs: reader.count('createdMs'),
    region: reader.string('region'),
    versioning: reader.oneOf('versioning', versioningStates),
    tags: reader.pairs('tags').map(([key, value]) => ({ key, value })),
  }
}

/** The u64 counter record of ('sys','seq',name): version byte 1, u64 LE (pack.md 2.2). */
export function decodeSequence(bytes: Uint8Array | undefined, what: string): number {
  if (bytes === undefined) return 0
  if (bytes.length !== 9 || bytes[0] !== 1) throw corruptRecord(what, 'a sequence record is version 1 + u64')
  const value = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).readBigUInt64LE(1)
  if (value > BigInt(Number.MAX_SAFE_INTEGER)) throw corruptRecord(what, 'sequence is not a u53')
  return Number(value)
}

export function encodeSequence(value: number): Buffer {
  const out = Buffer.allocUnsafe(9)
  out[0] = 1
  out.writeBigUInt64LE(BigInt(value), 1)
  return out
}
