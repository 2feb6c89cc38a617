// fattr4: attribute bitmaps, encoding the attributes a client asks for (GETATTR, READDIR) and
// decoding the ones it sets (SETATTR, CREATE, OPEN) or compares (VERIFY, NVERIFY).
//
// Only attributes in supportedAttributes are ever returned; asking for others is not an error
// (they are left out of the reply bitmap). Setting an unsupported one is NFS4ERR_ATTRNOTSUPP,
// setting a read-only one NFS4ERR_INVAL. Owners travel as numeric strings ("1000"), which is
// what Linux (AUTH_SYS, no idmapping) and libnfs send and expect.
import { nfsLimits } from '../../lib/index.ts'
import type { AttributeChanges, FileAttributes, FileSystemUsage, TimeChange, Timestamp } from '../../files/api.ts'
import { XdrReader, XdrWriter } from '../xdr.ts'
import { attr, fileType, status, timeHow } from './constants.ts'
import { nfsError } from './errors.ts'

export type Bitmap = readonly number[]

export function bitmapOf(bits: readonly number[]): number[] {
  const words: number[] = []
  for (const bit of bits) {
    const word = bit >>> 5
    while (words.length <= word) words.push(0)
    words[word] = ((words[word] as number) | (1 << (bit & 31))) >>> 0
  }
  return words
}

export function bitmapHas(bitmap: Bitmap, bit: number): boolean {
  return (((bitmap[bit >>> 5] ?? 0) >>> (bit & 31)) & 1) === 1
}

export function bitmapBits(bitmap: Bitmap): number[] {
  const bits: number[] = []
  bitmap.forEach((word, index) => {
    for (let bit = 0; bit < 32; bit += 1) if (((word >>> bit) & 1) === 1) bits.push(index * 32 + bit)
  })
  return bits
}

export function bitmapAnd(left: Bitmap, right: Bitmap): number[] {
  const words = left.map((word, index) => (word & (right[index] ?? 0)) >>> 0)
  while (words.length > 0 && words[words.length - 1] === 0) words.pop()
  return words
}

export function readBitmap(reader: XdrReader): number[] {
  return reader.array(nfsLimits.bitmapWordsMax, (item) => item.u32('bitmap word'), 'bitmap')
}

export function writeBitmap(writer: XdrWriter, bitmap: Bitmap): void {
  writer.array(bitmap, (item, word) => item.u32(word))
}

const commonAttributes = [
  attr.SUPPORTED_ATTRS, attr.TYPE, attr.FH_EXPIRE_TYPE, attr.CHANGE, attr.SIZE, attr.LINK_SUPPORT, attr.SYMLINK_SUPPORT,
  attr.NAMED_ATTR, attr.FSID, attr.UNIQUE_HANDLES, attr.LEASE_TIME, attr.RDATTR_ERROR, attr.ACLSUPPORT, attr.CANSETTIME,
  attr.CASE_INSENSITIVE, attr.CASE_PRESERVING, attr.CHOWN_RESTRICTED, attr.FILEHANDLE, attr.FILEID, attr.FILES_AVAIL,
  attr.FILES_FREE, attr.FILES_TOTAL, attr.HOMOGENEOUS, attr.MAXFILESIZE, attr.MAXLINK, attr.MAXNAME, attr.MAXREAD,
  attr.MAXWRITE, attr.MODE, attr.NO_TRUNC, attr.NUMLINKS, attr.OWNER, attr.OWNER_GROUP, attr.RAWDEV, attr.SPACE_AVAIL,
  attr.SPACE_FREE, attr.SPACE_TOTAL, attr.SPACE_USED, attr.TIME_ACCESS, attr.TIME_ACCESS_SET, attr.TIME_CREATE,
  attr.TIME_DELTA, attr.TIME_METADATA, attr.TIME_MODIFY, attr.TIME_MODIFY_SET, attr.MOUNTED_ON_FILEID,
]
/** What GETATTR can return and SETATTR/VERIFY may name, per minor version. */
export const supportedAttributes: readonly Bitmap[] = [bitmapOf(commonAttributes), bitmapOf([...commonAttributes, attr.SUPPATTR_EXCLCREAT])]
const writeOnly = new Set<number>([attr.TIME_ACCESS_SET, attr.TIME_MODIFY_SET])
const settable = new Set<number>([attr.SIZE, attr.MODE, attr.OWNER, attr.OWNER_GROUP, attr.TIME_ACCESS_SET, attr.TIME_MODIFY_SET])
/** Attributes EXCLUSIVE4_1 may set with the create (suppattr_exclcreat). */
export const exclusiveCreateAttributes = bitmapOf([attr.SIZE, attr.MODE, attr.OWNER, attr.OWNER_GROUP])
const usageAttributes = [attr.FILES_AVAIL, attr.FILES_FREE, attr.FILES_TOTAL, attr.SPACE_AVAIL, attr.SPACE_FREE, attr.SPACE_TOTAL]

export function needsUsage(requested: Bitmap): boolean {
  return usageAttributes.some((bit) => bitmapHas(requested, bit))
}

/** Everything about one object that its attributes are made of. */
export interface AttributeSubject {
  readonly attributes: FileAttributes
  /** The NFS (wire) handle. */
  readonly handle: Buffer
  readonly fsid: { readonly major: bigint; readonly minor: bigint }
  readonly mountedOnFileId: number
  /** Needed only when needsUsage(requested). */
  readonly usage?: FileSystemUsage
}

export interface ServerAttributeFacts {
  readonly minorVersion: number
  readonly leaseSeconds: number
  readonly maxFileSizeBytes: number
}

const typeCodes = { regular: fileType.REG, directory: fileType.DIR, symlink: fileType.LNK } as const

function writeTime(writer: XdrWriter, time: Timestamp): void {
  writer.i64(time.seconds).u32(time.nanoseconds)
}

/** Encode one attribute; false when it is not supported (left out). */
function encodeOne(writer: XdrWriter, bit: number, subject: AttributeSubject, facts: ServerAttributeFacts): boolean {
  const a = subject.attributes
  const usage = subject.usage
  switch (bit) {
    case attr.SUPPORTED_ATTRS: writeBitmap(writer, supportedAttributes[facts.minorVersion] ?? []); return true
    case attr.TYPE: writer.u32(typeCodes[a.type]); return true
    case attr.FH_EXPIRE_TYPE: writer.u32(0); return true // FH4_PERSISTENT
    case attr.CHANGE: writer.u64(a.change); return true
    case attr.SIZE: writer.u64(a.sizeBytes); return true
    case attr.LINK_SUPPORT:
    case attr.SYMLINK_SUPPORT:
    case attr.UNIQUE_HANDLES:
    case attr.CANSETTIME:
    case attr.CASE_PRESERVING:
    case attr.CHOWN_RESTRICTED:
    case attr.HOMOGENEOUS:
    case attr.NO_TRUNC: writer.bool(true); return true
    case attr.NAMED_ATTR:
    case attr.CASE_INSENSITIVE: writer.bool(false); return true
    case attr.FSID: writer.u64(subject.fsid.major).u64(subject.fsid.minor); return true
    case attr.LEASE_TIME: writer.u32(facts.leaseSeconds); return true
    case attr.RDATTR_ERROR: writer.u32(status.OK); return true
    case attr.ACLSUPPORT: writer.u32(0); return true
    case attr.FILEHANDLE: writer.opaque(subject.handle); return true
    case attr.FILEID: writer.u64(a.fileId); return true
    case attr.FILES_AVAIL: writer.u64(usage?.availableFiles ?? 0); return true
    case attr.FILES_FREE: writer.u64(usage?.freeFiles ?? 0); return true
    case attr.FILES_TOTAL: writer.u64(usage?.totalFiles ?? 0); return true
    case attr.MAXFILESIZE: writer.u64(facts.maxFileSizeBytes); return true
    case attr.MAXLINK: writer.u32(65_000); return true
    case attr.MAXNAME: writer.u32(nfsLimits.nameMaxBytes); return true
    case attr.MAXREAD:
    case attr.MAXWRITE: writer.u64(nfsLimits.ioMaxBytes); return true
    case attr.MODE: writer.u32(a.mode & 0o7777); return true
    case attr.NUMLINKS: writer.u32(a.nlink); return true
    case attr.OWNER: writer.string(String(a.uid)); return true
    case attr.OWNER_GROUP: writer.string(String(a.gid)); return true
    case attr.RAWDEV: writer.u32(0).u32(0); return true
    case attr.SPACE_AVAIL: writer.u64(usage?.availableBytes ?? 0); return true
    case attr.SPACE_FREE: writer.u64(usage?.freeBytes ?? 0); return true
    case attr.SPACE_TOTAL: writer.u64(usage?.totalBytes ?? 0); return true
    case attr.SPACE_USED: writer.u64(a.spaceUsedBytes); return true
    case attr.TIME_ACCESS: writeTime(writer, a.accessTime); return true
    case attr.TIME_CREATE: writeTime(writer, a.createTime); return true
    case attr.TIME_DELTA: writeTime(writer, { seconds: 0, nanoseconds: 1 }); return true
    case attr.TIME_METADATA: writeTime(writer, a.changeTime); return true
    case attr.TIME_MODIFY: writeTime(writer, a.modifyTime); return true
    case attr.MOUNTED_ON_FILEID: writer.u64(subject.mountedOnFileId); return true
    case attr.SUPPATTR_EXCLCREAT:
      if (facts.minorVersion < 1) return false
      writeBitmap(writer, exclusiveCreateAttributes)
      return true
    default: return false
  }
}

/** What encodeAttributes returns for a request: its bits, and the bitmap of those encodeOne supports. */
interface ReturnedAttributes {
  readonly bits: readonly number[]
  readonly bitmap: Bitmap
}

/** Per (minor version, requested bitmap): clients ask for a handful of sets over and over. */
const returnedCache = new Map<string, ReturnedAttributes>()
const returnedCacheMax = 256
/** The last answer, by the identity of the requested array (its words are never mutated). */
let lastReturned: { readonly requested: Bitmap; readonly minorVersion: number; readonly returned: ReturnedAttributes } | undefined

/**
 * Which requested attributes are encoded. encodeOne's answer depends on the bit and the minor
 * version only (never on the subject), so a dry run over a throwaway subject decides it once.
 */
function returnedFor(requested: Bitmap, subject: AttributeSubject, facts: ServerAttributeFacts): ReturnedAttributes {
  // A READDIR encodes every entry with the same requested array: skip even the key building.
  const last = lastReturned
  if (last !== undefined && last.requested === requested && last.minorVersion === facts.minorVersion) return last.returned
  const cacheKey = `${facts.minorVersion}:${requested.join(',')}`
  const cached = returnedCache.get(cacheKey)
  if (cached !== undefined) {
    lastReturned = { requested, minorVersion: facts.minorVersion, returned: cached }
    return cached
  }
  const bits: number[] = []
  const scratch = new XdrWriter()
  for (const bit of bitmapBits(requested)) {
    if (writeOnly.has(bit)) continue
    if (encodeOne(scratch, bit, subject, facts)) bits.push(bit)
  }
  const returned = { bits, bitmap: bitmapOf(bits) }
  if (returnedCache.size >= returnedCacheMax) returnedCache.clear()
  returnedCache.set(cacheKey, returned)
  lastReturned = { requested, minorVersion: facts.minorVersion, returned }
  return returned
}

/** Encode fattr4 (bitmap + values) for the requested attributes. */
export function encodeAttributes(writer: XdrWriter, requested: Bitmap, subject: AttributeSubject, facts: ServerAttributeFacts): void {
  const returned = returnedFor(requested, subject, facts)
  writeBitmap(writer, returned.bitmap)
  // The values go straight into the writer behind a length patched afterwards (every value is
  // whole XDR units, so the opaque needs no padding).
  const lengthMark = writer.reserveU32()
  const start = writer.length
  for (const bit of returned.bits) encodeOne(writer, bit, subject, facts)
  writer.patchU32(lengthMark, writer.length - start)
}

/** Only an rdattr_error (READDIR entries whose attributes could not be read). */
export function encodeAttributeError(writer: XdrWriter, requested: Bitmap, error: number): boolean {
  if (!bitmapHas(requested, attr.RDATTR_ERROR)) return false
  writeBitmap(writer, bitmapOf([attr.RDATTR_ERROR]))
  writer.opaque(new XdrWriter().u32(error).toBuffer())
  return true
}

export interface DecodedFattr {
  readonly bitmap: number[]
  readonly values: Buffer
}

export function readFattr(reader: XdrReader): DecodedFattr {
  const bitmap = readBitmap(reader)
  const values = reader.opaque(nfsLimits.attributeValuesMaxBytes, 'attr_vals')
  return { bitmap, values }
}

/** Owner strings: "1000", "1000@domain", "root", "nobody"; others -> NFS4ERR_BADOWNER. */
export function parseOwner(text: string): number {
  const name = text.includes('@') ? text.slice(0, text.indexOf('@')) : text
  if (/^\d{1,10}$/.test(name) && Number(name) <= 0xffff_ffff) return Number(name)
  if (name === 'root') return 0
  if (name === 'nobody') return 65534
  return nfsError(status.BADOWNER, `owner ${JSON.stringify(text)} is not numeric`)
}

function readTimeChange(reader: XdrReader): TimeChange {
  const how = reader.u32('time_how4')
  if (how === timeHow.SERVER) return 'now'
  if (how !== timeHow.CLIENT) return nfsError(status.BADXDR, 'bad time_how4')
  const seconds = reader.i64('seconds')
  const nanoseconds = reader.u32('nseconds')
  if (nanoseconds > 999_999_999) nfsError(status.INVAL, 'nseconds out of range')
  if (seconds > BigInt(Number.MAX_SAFE_INTEGER) || seconds < -BigInt(Number.MAX_SAFE_INTEGER)) nfsError(status.INVAL, 'time out of range')
  return { seconds: Number(seconds), nanoseconds }
}

/** Decode a fattr4 a client wants to set; also returns the bitmap of what it names (attrset). */
export function decodeSettable(fattr: DecodedFattr, minorVersion: number): { changes: AttributeChanges; attrset: number[] } {
  const reader = new XdrReader(fattr.values)
  const changes: { -readonly [K in keyof AttributeChanges]: AttributeChanges[K] } = {}
  const bits = bitmapBits(fattr.bitmap)
  for (const bit of bits) {
    if (!bitmapHas(supportedAttributes[minorVersion] ?? [], bit)) nfsError(status.ATTRNOTSUPP, `attribute ${bit} is not supported`)
    if (!settable.has(bit)) nfsError(status.INVAL, `attribute ${bit} is read-only`)
    switch (bit) {
      case attr.SIZE: changes.sizeBytes = reader.u64Number('size'); break
      case attr.MODE: changes.mode = reader.u32('mode') & 0o7777; break
      case attr.OWNER: changes.uid = parseOwner(reader.string(nfsLimits.nfsOpaqueMaxBytes, 'owner')); break
      case attr.OWNER_GROUP: changes.gid = parseOwner(reader.string(nfsLimits.nfsOpaqueMaxBytes, 'owner_group')); break
      case attr.TIME_ACCESS_SET: changes.accessTime = readTimeChange(reader); break
      case attr.TIME_MODIFY_SET: changes.modifyTime = readTimeChange(reader); break
    }
  }
  reader.expectEnd('attr_vals')
  return { changes, attrset: bitmapOf(bits) }
}

/**
 * VERIFY/NVERIFY: do the client's values equal ours? Compared as encodings (XDR is canonical).
 * Unsupported attributes -> ATTRNOTSUPP; write-only ones and rdattr_error -> INVAL.
 */
export function attributesMatch(fattr: DecodedFattr, subject: AttributeSubject, facts: ServerAttributeFacts): boolean {
  for (const bit of bitmapBits(fattr.bitmap)) {
    if (!bitmapHas(supportedAttributes[facts.minorVersion] ?? [], bit)) nfsError(status.ATTRNOTSUPP, `attribute ${bit} is not supported`)
    if (writeOnly.has(bit) || bit === attr.RDATTR_ERROR) nfsError(status.INVAL, `attribute ${bit} cannot be verified`)
  }
  const ours = new XdrWriter()
  for (const bit of bitmapBits(fattr.bitmap)) encodeOne(ours, bit, subject, facts)
  return ours.toBuffer().equals(fattr.values)
}
