// Codecs of the files layer's records (docs/format/files.md): one encode/decode pair per record,
// each with its version byte. Decoders treat bytes that do not follow the spec as corrupt
// metadata (StoreError IO_ERROR), never as caller input; encoders assert their invariants.
import { assert, chunkIdBytes, chunkIdFrom, chunkIdHex, StoreError, type ChunkId } from '../lib/index.ts'
import { decodeJsonRecord, encodeJsonRecord, encodeRecord, recordBody } from '../meta/index.ts'
import type { ExportPolicy, FileSystemId, FileType, Timestamp } from './api.ts'
import type { LifecyclePolicy, StorageClass } from './types.ts'

const version = 1

function corrupt(what: string, reason: string): StoreError {
  return new StoreError('IO_ERROR', `metadata record ${what} is corrupt: ${reason}`)
}

// ---- u64 counters: ('fs','boot') and ('fs','f',fsId,'n') ----

export function encodeCounter(value: number): Buffer {
  assert(Number.isSafeInteger(value) && value >= 0, 'counters are non-negative safe integers')
  const body = Buffer.alloc(8)
  body.writeBigUInt64LE(BigInt(value))
  return encodeRecord(version, body)
}

export function decodeCounter(bytes: Uint8Array, what: string): number {
  const { body } = recordBody(bytes, [version], what)
  if (body.length !== 8) throw corrupt(what, `counter of ${body.length} bytes`)
  const value = body.readBigUInt64LE(0)
  if (value > BigInt(Number.MAX_SAFE_INTEGER)) throw corrupt(what, 'counter out of range')
  return Number(value)
}

// ---- file system records ----

export interface FileSystemRecord {
  readonly id: FileSystemId
  readonly name: string
  readonly number: number
  readonly createdMs: number
  readonly state: 'available' | 'deleting'
  readonly exportPolicy: ExportPolicy
  readonly lifecycle: LifecyclePolicy
}

export function encodeFileSystem(record: FileSystemRecord): Buffer {
  return encodeJsonRecord(version, record)
}

export function decodeFileSystem(bytes: Uint8Array, what: string): FileSystemRecord {
  const { version: found, value } = decodeJsonRecord(bytes, what)
  if (found !== version) throw corrupt(what, `version ${found}`)
  const record = value as Partial<FileSystemRecord> | null
  const policy = record?.exportPolicy
  const lifecycle = record?.lifecycle
  const ok = record !== null && typeof record === 'object' && typeof record.id === 'string' && typeof record.name === 'string'
    && Number.isSafeInteger(record.number) && Number.isSafeInteger(record.createdMs)
    && (record.state === 'available' || record.state === 'deleting')
    && typeof policy === 'object' && policy !== null && typeof policy.readOnly === 'boolean' && typeof policy.rootSquash === 'boolean'
    && Number.isSafeInteger(policy.anonymousUid) && Number.isSafeInteger(policy.anonymousGid) && Array.isArray(policy.allowedClients)
    && typeof lifecycle === 'object' && lifecycle !== null && typeof lifecycle.transitionToStandardOnAccess === 'boolean'
    && (lifecycle.transitionToIaAfterDays === null || Number.isSafeInteger(lifecycle.transitionToIaAfterDays))
  if (!ok) throw corrupt(what, 'unexpected shape')
  return { ...(record as FileSystemRecord), exportPolicy: { ...policy, allowedClients: Object.freeze([...policy.allowedClients]) } as ExportPolicy }
}

export function encodeName(fsId: string): Buffer {
  return encodeRecord(version, Buffer.from(fsId, 'utf8'))
}

export function decodeName(bytes: Uint8Array, what: string): FileSystemId {
  return recordBody(bytes, [version], what).body.toString('utf8') as FileSystemId
}

// ---- inodes ----

export interface InodeRecord {
  type: FileType
  storageClass: StorageClass
  mode: number
  nlink: number
  uid: number
  gid: number
  sizeBytes: number
  allocatedBytes: number
  change: bigint
  accessTime: Timestamp
  modifyTime: Timestamp
  changeTime: Timestamp
  createTime: Timestamp
  parent: number
  nextCookie: number
  entryCount: number
  exclusiveVerifier: Buffer | undefined
  target: string
}

const typeCodes: Record<FileType, number> = { regular: 1, directory: 2, symlink: 3 }
const typesByCode: readonly (FileType | undefined)[] = [undefined, 'regular', 'directory', 'symlink']
const classCodes: Record<StorageClass, number> = { standard: 0, 'infrequent-access': 1 }
const classesByCode: readonly StorageClass[] = ['standard', 'infrequent-access']
const inodeFixedBytes = 116
const verifierBytes = 8

function writeTime(out: Buffer, at: number, time: Timestamp): void {
  out.writeBigInt64LE(BigInt(time.seconds), at)
  out.writeUInt32LE(time.nanoseconds, at + 8)
}

function readTime(body: Buffer, at: number, what: string): Timestamp {
  const seconds = body.readBigInt64LE(at)
  const nanoseconds = body.readUInt32LE(at + 8)
  if (nanoseconds > 999_999_999 || seconds > BigInt(Number.MAX_SAFE_INTEGER) || seconds < -BigInt(Number.MAX_SAFE_INTEGER)) throw corrupt(what, 'bad time')
  return { seconds: Number(seconds), nanoseconds }
}

function safe(value: bigint, what: string): number {
  if (value > BigInt(Number.MAX_SAFE_INTEGER)) throw corrupt(what, 'integer out of range')
  return Number(value)
}

export function encodeInode(inode: InodeRecord): Buffer {
  assert(inode.mode >= 0 && inode.mode <= 0o7777, 'mode within 0o7777')
  assert(inode.nlink >= 0 && inode.sizeBytes >= 0 && inode.allocatedBytes >= 0 && inode.entryCount >= 0, 'inode counts are non-negative')
  assert(inode.type === 'regular' || inode.allocatedBytes === 0, 'only regular files hold extents')
  const target = Buffer.from(inode.target, 'utf8')
  const verifier = inode.exclusiveVerifier
  assert(verifier === undefined || verifier.length === verifierBytes, 'exclusive verifiers are 8 bytes')
  const out = Buffer.alloc(inodeFixedBytes + (verifier === undefined ? 0 : verifierBytes) + target.length)
  out[0] = typeCodes[inode.type]
  out[1] = classCodes[inode.storageClass]
  out[2] = verifier === undefined ? 0 : 1
  out.writeUInt32LE(inode.mode, 4)
  out.writeUInt32LE(inode.nlink, 8)
  out.writeUInt32LE(inode.uid, 12)
  out.writeUInt32LE(inode.gid, 16)
  out.writeBigUInt64LE(BigInt(inode.sizeBytes), 20)
  out.writeBigUInt64LE(BigInt(inode.allocatedBytes), 28)
  out.writeBigUInt64LE(inode.change, 36)
  writeTime(out, 44, inode.accessTime)
  writeTime(out, 56, inode.modifyTime)
  writeTime(out, 68, inode.changeTime)
  writeTime(out, 80, inode.createTime)
  out.writeBigUInt64LE(BigInt(inode.parent), 92)
  out.writeBigUInt64LE(BigInt(inode.nextCookie), 100)
  out.writeBigUInt64LE(BigInt(inode.entryCount), 108)
  let at = inodeFixedBytes
  if (verifier !== undefined) {
    verifier.copy(out, at)
    at += verifierBytes
  }
  target.copy(out, at)
  return encodeRecord(version, out)
}

export function decodeInode(bytes: Uint8Array, what: string): InodeRecord {
  const { body } = recordBody(bytes, [version], what)
  if (body.length < inodeFixedBytes) throw corrupt(what, `inode of ${body.length} bytes`)
  const type = typesByCode[body[0] as number]
  const storageClass = classesByCode[body[1] as number]
  const flags = body[2] as number
  if (type === undefined || storageClass === undefined || (flags & ~1) !== 0) throw corrupt(what, 'bad type, class or flags')
  const hasVerifier = (flags & 1) !== 0
  if (hasVerifier && body.length < inodeFixedBytes + verifierBytes) throw corrupt(what, 'verifier missing')
  const at = inodeFixedBytes + (hasVerifier ? verifierBytes : 0)
  const mode = body.readUInt32LE(4)
  if (mode > 0o7777) throw corrupt(what, 'mode out of range')
  return {
    type, storageClass, mode,
    nlink: body.readUInt32LE(8),
    uid: body.readUInt32LE(12),
    gid: body.readUInt32LE(16),
    sizeBytes: safe(body.readBigUInt64LE(20), what),
    allocatedBytes: safe(body.readBigUInt64LE(28), what),
    change: body.readBigUInt64LE(36),
    accessTime: readTime(body, 44, what),
    modifyTime: readTime(body, 56, what),
    changeTime: readTime(body, 68, what),
    createTime: readTime(body, 80, what),
    parent: safe(body.readBigUInt64LE(92), what),
    nextCookie: safe(body.readBigUInt64LE(100), what),
    entryCount: safe(body.readBigUInt64LE(108), what),
    exclusiveVerifier: hasVerifier ? Buffer.from(body.subarray(inodeFixedBytes, inodeFixedBytes + verifierBytes)) : undefined,
    target: body.subarray(at).toString('utf8'),
  }
}

// ---- directory entries ----

export interface EntryValue {
  readonly inode: number
  readonly cookie: number
  readonly type: FileType
}

export function encodeEntry(entry: EntryValue): Buffer {
  const out = Buffer.alloc(17)
  out.writeBigUInt64LE(BigInt(entry.inode), 0)
  out.writeBigUInt64LE(BigInt(entry.cookie), 8)
  out[16] = typeCodes[entry.type]
  return encodeRecord(version, out)
}

export function decodeEntry(bytes: Uint8Array, what: string): EntryValue {
  const { body } = recordBody(bytes, [version], what)
  const type = body.length === 17 ? typesByCode[body[16] as number] : undefined
  if (type === undefined) throw corrupt(what, 'bad entry')
  return { inode: safe(body.readBigUInt64LE(0), what), cookie: safe(body.readBigUInt64LE(8), what), type }
}

export interface CookieValue {
  readonly inode: number
  readonly type: FileType
  readonly name: string
}

export function encodeCookie(value: CookieValue): Buffer {
  const name = Buffer.from(value.name, 'utf8')
  const out = Buffer.alloc(9 + name.length)
  out.writeBigUInt64LE(BigInt(value.inode), 0)
  out[8] = typeCodes[value.type]
  name.copy(out, 9)
  return encodeRecord(version, out)
}

export function decodeCookie(bytes: Uint8Array, what: string): CookieValue {
  const { body } = recordBody(bytes, [version], what)
  const type = body.length > 9 ? typesByCode[body[8] as number] : undefined
  if (type === undefined) throw corrupt(what, 'bad cookie entry')
  return { inode: safe(body.readBigUInt64LE(0), what), type, name: body.subarray(9).toString('utf8') }
}

// ---- extents ----

export interface Extent {
  /** File offset. */
  readonly offset: number
  readonly lengthBytes: number
  readonly chunkId: ChunkId
  readonly offsetInChunk: number
}

export function encodeExtent(extent: Extent): Buffer {
  assert(extent.lengthBytes >= 1 && extent.offsetInChunk >= 0 && extent.offsetInChunk + extent.lengthBytes <= 2 ** 32, 'extent fits its chunk')
  const out = Buffer.alloc(8 + chunkIdBytes)
  out.writeUInt32LE(extent.lengthBytes, 0)
  out.writeUInt32LE(extent.offsetInChunk, 4)
  extent.chunkId.copy(out, 8)
  return encodeRecord(version, out)
}

export function decodeExtent(offset: number, bytes: Uint8Array, what: string): Extent {
  const { body } = recordBody(bytes, [version], what)
  if (body.length !== 8 + chunkIdBytes) throw corrupt(what, `extent of ${body.length} bytes`)
  const lengthBytes = body.readUInt32LE(0)
  if (lengthBytes === 0) throw corrupt(what, 'empty extent')
  // Copy the id: callers keep it past the record buffer's life.
  return { offset, lengthBytes, offsetInChunk: body.readUInt32LE(4), chunkId: chunkIdFrom(Buffer.from(body.subarray(8))) }
}

// ---- per-file-system chunk references ----

export interface ChunkRefValue {
  readonly count: number
  readonly storedBytes: number
  readonly plainBytes: number
}

export function encodeChunkRef(value: ChunkRefValue): Buffer {
  assert(value.count > 0, 'chunk reference records exist only while counted')
  const out = Buffer.alloc(12)
  out.writeUInt32LE(value.count, 0)
  out.writeUInt32LE(value.storedBytes, 4)
  out.writeUInt32LE(value.plainBytes, 8)
  return encodeRecord(version, out)
}

export function decodeChunkRef(bytes: Uint8Array, id: ChunkId): ChunkRefValue {
  const what = `chunk reference ${chunkIdHex(id)}`
  const { body } = recordBody(bytes, [version], what)
  if (body.length !== 12 || body.readUInt32LE(0) === 0) throw corrupt(what, 'bad chunk reference')
  return { count: body.readUInt32LE(0), storedBytes: body.readUInt32LE(4), plainBytes: body.readUInt32LE(8) }
}

// ---- usage counters ----

export const usageCounterNames = [
  'files', 'directories', 'symlinks', 'logicalStandard', 'logicalInfrequentAccess',
  'allocatedStandard', 'allocatedInfrequentAccess', 'storedBytes', 'reserved8', 'reserved9',
] as const
export type UsageCounter = (typeof usageCounterNames)[number]
export type UsageCounters = Record<UsageCounter, number>

export function emptyUsage(): UsageCounters {
  return Object.fromEntries(usageCounterNames.map((name) => [name, 0])) as UsageCounters
}

export function encodeUsage(usage: UsageCounters): Buffer {
  const out = Buffer.alloc(8 * usageCounterNames.length)
  usageCounterNames.forEach((name, index) => {
    assert(Number.isSafeInteger(usage[name]) && usage[name] >= 0, `usage counter ${name} is non-negative`)
    out.writeBigUInt64LE(BigInt(usage[name]), index * 8)
  })
  return encodeRecord(version, out)
}

export function decodeUsage(bytes: Uint8Array, what: string): UsageCounters {
  const { body } = recordBody(bytes, [version], what)
  if (body.length !== 8 * usageCounterNames.length) throw corrupt(what, `usage of ${body.length} bytes`)
  const usage = emptyUsage()
  usageCounterNames.forEach((name, index) => {
    usage[name] = safe(body.readBigUInt64LE(index * 8), what)
  })
  return usage
}
