// Volume and snapshot records in the MetaStore, key space 'vol' (docs/format/volumes.md).
//
//   ('vol', 'volume', volumeId)             volume record (JSON, version 1)
//   ('vol', 'extent', volumeId, page)       extent states of one page of extents (binary, manifest.ts neighbour)
//   ('vol', 'snapshot', snapshotId)         snapshot record (JSON, version 1)
//   ('vol', 'manifest', snapshotId, page)   one page of a snapshot's manifest (binary, manifest.ts)
//   ('vol', 'hold', snapshotId, volumeId)   marker: the volume's data is relative to this snapshot
//   ('vol', 'session', volumeId)            marker: the volume is open (left behind by a crash)
//   ('vol', 'pin', snapshotId, extent)      a pending snapshot's chunk, referenced until its page is written
//
// Invariants: a volume record's baseSnapshotId names a snapshot with a hold marker for that
// volume, and a snapshot with a hold is never purged (a user delete only marks it 'deleted').
// Only completed (or deleted-but-held) snapshots hold chunk references for all their pages;
// pending and error snapshots hold references only for the pages written so far.
// Decoding checks every field: malformed stored bytes are IO_ERROR (corrupt metadata).
import { keyDomainIdFrom, StoreError, type KeyDomainId } from '../lib/index.ts'
import { decodeJsonRecord, encodeJsonRecord, key, prefixRange } from '../meta/index.ts'
import { isSnapshotId, isVolumeId, type SnapshotId, type VolumeId } from './ids.ts'
import { volumeTypes, type VolumeType } from './volume-types.ts'

export const volumeRecordVersion = 1
export const snapshotRecordVersion = 1

export const volumeKey = (id: VolumeId): Buffer => key('vol', 'volume', id)
export const volumeRange = prefixRange('vol', 'volume')
export const extentPageKey = (id: VolumeId, page: number): Buffer => key('vol', 'extent', id, page)
export const extentPageRange = (id: VolumeId): { gt: Buffer; lt: Buffer } => prefixRange('vol', 'extent', id)
export const snapshotKey = (id: SnapshotId): Buffer => key('vol', 'snapshot', id)
export const snapshotRange = prefixRange('vol', 'snapshot')
export const manifestPageKey = (id: SnapshotId, page: number): Buffer => key('vol', 'manifest', id, page)
export const manifestPageRange = (id: SnapshotId): { gt: Buffer; lt: Buffer } => prefixRange('vol', 'manifest', id)
export const holdKey = (snapshot: SnapshotId, volume: VolumeId): Buffer => key('vol', 'hold', snapshot, volume)
export const holdRange = (snapshot: SnapshotId): { gt: Buffer; lt: Buffer } => prefixRange('vol', 'hold', snapshot)
export const sessionKey = (volume: VolumeId): Buffer => key('vol', 'session', volume)
export const pinKey = (snapshot: SnapshotId, extent: number): Buffer => key('vol', 'pin', snapshot, extent)
export const pinRange = (snapshot: SnapshotId): { gt: Buffer; lt: Buffer } => prefixRange('vol', 'pin', snapshot)
export const pinRecordVersion = 1

export type VolumeState = 'available' | 'deleting'

export interface VolumeRecord {
  id: VolumeId
  sizeBytes: number
  type: VolumeType
  /** Provisioned IOPS (gp3, io1, io2); null where the size decides. */
  iops: number | null
  /** Provisioned throughput in MiB/s (gp3); null where the type decides. */
  throughputMiBps: number | null
  multiAttach: boolean
  encrypted: boolean
  /** Key domain of the head and of every snapshot chunk; 0 (plain) unless encrypted. */
  keyDomain: number
  state: VolumeState
  createdMs: number
  /** The snapshot this volume was created from (informational). */
  sourceSnapshotId: SnapshotId | null
  /** Extents in state BASE read from this snapshot's manifest; the next snapshot inherits from it. */
  baseSnapshotId: SnapshotId | null
  /** The base is in another key domain: every BASE extent with data is re-hashed by the next snapshot. */
  rehashBase: boolean
  /** Fetch every BASE extent into the head in the background (fast snapshot restore). */
  eagerHydration: boolean
  description: string
}

export type SnapshotState = 'pending' | 'completed' | 'error' | 'deleted'

export interface SnapshotRecord {
  id: SnapshotId
  volumeId: VolumeId
  sizeBytes: number
  keyDomain: number
  encrypted: boolean
  state: SnapshotState
  createdMs: number
  completedMs: number | null
  /** The volume's base when this snapshot was taken: unchanged extents were inherited from it. */
  parentSnapshotId: SnapshotId | null
  description: string
  /** Extents hashed for this snapshot (changed since the parent). */
  changedExtents: number
  /** Manifest entries with data (non-zero extents). */
  dataExtents: number
  /** Bytes the chunk store newly stored for this snapshot (after dedup and compression). */
  storedBytes: number
  /** Why the snapshot failed (state 'error'). */
  error: string | null
}

function corrupt(what: string, detail: string): StoreError {
  return new StoreError('IO_ERROR', `metadata record ${what} is corrupt: ${detail}`)
}

type Fields = Record<string, unknown>

function fieldsOf(bytes: Uint8Array, versions: readonly number[], what: string): Fields {
  const { version, value } = decodeJsonRecord(bytes, what)
  if (!versions.includes(version)) throw corrupt(what, `version ${version} is not one of ${versions.join(', ')}`)
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw corrupt(what, 'not a JSON object')
  return value as Fields
}

function integer(fields: Fields, name: string, what: string): number {
  const value = fields[name]
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) throw corrupt(what, `${name} is not a non-negative integer`)
  return value
}

function nullableInteger(fields: Fields, name: string, what: string): number | null {
  return fields[name] === null ? null : integer(fields, name, what)
}

function boolean(fields: Fields, name: string, what: string): boolean {
  const value = fields[name]
  if (typeof value !== 'boolean') throw corrupt(what, `${name} is not a boolean`)
  return value
}

function text(fields: Fields, name: string, what: string): string {
  const value = fields[name]
  if (typeof value !== 'string') throw corrupt(what, `${name} is not a string`)
  return value
}

function oneOf<T extends string>(fields: Fields, name: string, allowed: readonly T[], what: string): T {
  const value = fields[name]
  if (typeof value !== 'string' || !(allowed as readonly string[]).includes(value)) throw corrupt(what, `${name} is not one of ${allowed.join(', ')}`)
  return value as T
}

function snapshotIdOrNull(fields: Fields, name: string, what: string): SnapshotId | null {
  const value = fields[name]
  if (value === null) return null
  if (typeof value !== 'string' || !isSnapshotId(value)) throw corrupt(what, `${name} is not a snapshot id`)
  return value
}

function volumeIdOf(fields: Fields, name: string, what: string): VolumeId {
  const value = fields[name]
  if (typeof value !== 'string' || !isVolumeId(value)) throw corrupt(what, `${name} is not a volume id`)
  return value
}

export function encodeVolumeRecord(record: VolumeRecord): Buffer {
  return encodeJsonRecord(volumeRecordVersion, record)
}

export function decodeVolumeRecord(bytes: Uint8Array, id: VolumeId): VolumeRecord {
  const what = `('vol', 'volume', ${id})`
  const fields = fieldsOf(bytes, [volumeRecordVersion], what)
  const record: VolumeRecord = {
    id: volumeIdOf(fields, 'id', what),
    sizeBytes: integer(fields, 'sizeBytes', what),
    type: oneOf(fields, 'type', volumeTypes, what),
    iops: nullableInteger(fields, 'iops', what),
    throughputMiBps: nullableInteger(fields, 'throughputMiBps', what),
    multiAttach: boolean(fields, 'multiAttach', what),
    encrypted: boolean(fields, 'encrypted', what),
    keyDomain: integer(fields, 'keyDomain', what),
    state: oneOf(fields, 'state', ['available', 'deleting'] as const, what),
    createdMs: integer(fields, 'createdMs', what),
    sourceSnapshotId: snapshotIdOrNull(fields, 'sourceSnapshotId', what),
    baseSnapshotId: snapshotIdOrNull(fields, 'baseSnapshotId', what),
    rehashBase: boolean(fields, 'rehashBase', what),
    eagerHydration: boolean(fields, 'eagerHydration', what),
    description: text(fields, 'description', what),
  }
  if (record.id !== id) throw corrupt(what, `it names volume ${record.id}`)
  if (record.encrypted !== (record.keyDomain !== 0)) throw corrupt(what, 'encrypted and keyDomain disagree')
  return record
}

export function encodeSnapshotRecord(record: SnapshotRecord): Buffer {
  return encodeJsonRecord(snapshotRecordVersion, record)
}

export function decodeSnapshotRecord(bytes: Uint8Array, id: SnapshotId): SnapshotRecord {
  const what = `('vol', 'snapshot', ${id})`
  const fields = fieldsOf(bytes, [snapshotRecordVersion], what)
  const error = fields.error
  const record: SnapshotRecord = {
    id: snapshotIdOrNull(fields, 'id', what) ?? id,
    volumeId: volumeIdOf(fields, 'volumeId', what),
    sizeBytes: integer(fields, 'sizeBytes', what),
    keyDomain: integer(fields, 'keyDomain', what),
    encrypted: boolean(fields, 'encrypted', what),
    state: oneOf(fields, 'state', ['pending', 'completed', 'error', 'deleted'] as const, what),
    createdMs: integer(fields, 'createdMs', what),
    completedMs: nullableInteger(fields, 'completedMs', what),
    parentSnapshotId: snapshotIdOrNull(fields, 'parentSnapshotId', what),
    description: text(fields, 'description', what),
    changedExtents: integer(fields, 'changedExtents', what),
    dataExtents: integer(fields, 'dataExtents', what),
    storedBytes: integer(fields, 'storedBytes', what),
    error: error === null ? null : text(fields, 'error', what),
  }
  if (record.id !== id) throw corrupt(what, `it names snapshot ${record.id}`)
  return record
}

export function domainOf(record: { keyDomain: number }): KeyDomainId {
  return keyDomainIdFrom(record.keyDomain)
}
