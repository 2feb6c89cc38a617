// Keys of the objects layer's records (docs/format/objects.md section 1), version ids, upload
// ids and the string-prefix bounds listings seek with.
//
// Invariants: version order is a u53 and the key part is its inversion, so the newest version
// of a key sorts first; a version id names its own order (first 14 hex digits); an upload id
// starts with its initiation time, so ids of one key sort by age.
// Never: build an s3/admin key anywhere else (every layout is here, next to its spec).
import { assert, type Random } from '../lib/index.ts'
import { key, prefixEnd, prefixRange } from '../meta/index.ts'

/** The largest version order (2^53 - 1); inverted orders are maxOrder - order. */
export const maxOrder = Number.MAX_SAFE_INTEGER
/** Orders are milliseconds times this, so 1024 versions per ms stay time-ordered. */
export const orderPerMs = 1024
export const nullVersionId = 'null'

export const bucketSequenceName = 'bucket'
export const bucketSequenceKey = (): Buffer => key('sys', 'seq', bucketSequenceName)
export const bucketKey = (name: string): Buffer => key('s3', 'bucket', name)
export const bucketRange = () => prefixRange('s3', 'bucket')
export const ownerKey = (userId: string, name: string): Buffer => key('s3', 'owner', userId, name)
export const ownerRange = (userId: string) => prefixRange('s3', 'owner', userId)

export const versionKey = (bucketId: number, objectKey: string, order: number): Buffer =>
  key('s3', 'ver', bucketId, objectKey, invertOrder(order))
/** Every version of one key, newest first. */
export const keyVersionsRange = (bucketId: number, objectKey: string) => prefixRange('s3', 'ver', bucketId, objectKey)
export const versionSpace = (bucketId: number): Buffer => key('s3', 'ver', bucketId)
export const currentKey = (bucketId: number, objectKey: string): Buffer => key('s3', 'cur', bucketId, objectKey)
export const currentSpace = (bucketId: number): Buffer => key('s3', 'cur', bucketId)
export const nullPointerKey = (bucketId: number, objectKey: string): Buffer => key('s3', 'null', bucketId, objectKey)

export const segmentKey = (manifestId: string, index: number): Buffer => key('s3', 'seg', manifestId, index)
export const uploadKey = (bucketId: number, objectKey: string, uploadId: string): Buffer => key('s3', 'upload', bucketId, objectKey, uploadId)
export const uploadSpace = (bucketId: number): Buffer => key('s3', 'upload', bucketId)
/** Every upload of one key, oldest first. */
export const keyUploadsRange = (bucketId: number, objectKey: string) => prefixRange('s3', 'upload', bucketId, objectKey)
export const partKey = (uploadId: string, partNumber: number): Buffer => key('s3', 'part', uploadId, partNumber)
export const partRange = (uploadId: string) => prefixRange('s3', 'part', uploadId)

export const userKey = (name: string): Buffer => key('admin', 'user', name)
export const userRange = () => prefixRange('admin', 'user')
export const accessKeyKey = (accessKeyId: string): Buffer => key('admin', 'accessKey', accessKeyId)
export const accessKeyRange = () => prefixRange('admin', 'accessKey')
/** The key-ring domain that seals access key secrets (its number as a decimal string). */
export const userSecretsDomainKey = (): Buffer => key('admin', 'userSecretsDomain')

export function invertOrder(order: number): number {
  assert(Number.isSafeInteger(order) && order >= 0, 'version orders are u53')
  return maxOrder - order
}

/** The next order for a key whose newest version has `newestOrder` (undefined: no versions). */
export function nextOrder(nowMs: number, newestOrder: number | undefined): number {
  const timeOrder = Math.floor(nowMs) * orderPerMs
  const order = newestOrder === undefined ? timeOrder : Math.max(timeOrder, newestOrder + 1)
  assert(Number.isSafeInteger(order) && order < maxOrder, 'version order stays a u53')
  return order
}

const versionIdPattern = /^[0-9a-f]{30}$/
const uploadIdPattern = /^[0-9a-f]{32}$/

/** The random part of a version id: 8 bytes as 16 hex digits. */
export function newVersionIdSuffix(random: Random): string {
  return random.bytes(8).toString('hex')
}

export function versionIdFor(order: number, suffix: string): string {
  assert(/^[0-9a-f]{16}$/.test(suffix), 'version id suffixes are 16 hex digits')
  assert(Number.isSafeInteger(order) && order >= 0, 'orders are u53')
  return order.toString(16).padStart(14, '0') + suffix
}

export function newVersionId(order: number, random: Random): string {
  return versionIdFor(order, newVersionIdSuffix(random))
}

/** The order a version id names, or undefined when the text is not a version id ('null' is not). */
export function orderOfVersionId(versionId: string): number | undefined {
  if (!versionIdPattern.test(versionId)) return undefined
  const order = Number.parseInt(versionId.slice(0, 14), 16)
  return Number.isSafeInteger(order) && order < maxOrder ? order : undefined
}

/** Upload ids (also used as manifest ids): initiation ms as 12 hex digits + 10 random bytes. */
export function newUploadId(nowMs: number, random: Random): string {
  return Math.floor(nowMs).toString(16).padStart(12, '0').slice(-12) + random.bytes(10).toString('hex')
}

export function isUploadId(text: string): boolean {
  return uploadIdPattern.test(text)
}

/**
 * The bytes every key of `space` whose string part starts with `prefix` begins with: the space
 * tuple, the string type byte and the escaped UTF-8 of prefix without its terminator.
 * prefixEnd() of it is the first key past all of them (no escaped string byte is 0xff).
 */
export function stringPrefixBytes(space: Buffer, prefix: string): Buffer {
  const encoded = key(prefix) // 0x02, escaped body, 0x00 terminator
  return Buffer.concat([space, encoded.subarray(0, encoded.length - 1)])
}

/** The range of keys in `space` whose next (string) part starts with prefix. */
export function stringPrefixRange(space: Buffer, prefix: string): { gte: Buffer; lt: Buffer } {
  const start = stringPrefixBytes(space, prefix)
  return { gte: start, lt: prefixEnd(start) }
}

/** The first key past every key in `space` whose string part starts with prefix. */
export function pastStringPrefix(space: Buffer, prefix: string): Buffer {
  return prefixEnd(stringPrefixBytes(space, prefix))
}
