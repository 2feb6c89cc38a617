// Version bookkeeping inside a metadata transaction: find the latest / null / named version,
// write a new version (AWS's unversioned / enabled / suspended rules), remove one, and keep the
// current entry and null pointer right (docs/format/objects.md 3).
//
// Invariants kept by every function here (checked by the model test):
// - ('s3','cur',b,k) is a copy of the newest version of k when that is not a delete marker,
//   and absent otherwise;
// - ('s3','null',b,k) exists exactly when k has a version with id 'null', and names its order;
// - a version's chunk references (embedded table, or its segments) exist exactly as long as its
//   record; they move in the same transaction.
import type { ChunkStore } from '../chunk/index.ts'
import { assert } from '../lib/index.ts'
import type { ReadTx, WriteTx } from '../meta/index.ts'
import {
  currentKey,
  decodeNullPointer,
  decodeSegment,
  decodeVersion,
  dueKey,
  encodeDue,
  encodeNullPointer,
  encodeSegment,
  encodeVersion,
  keyVersionsRange,
  nextOrder,
  nullPointerKey,
  nullVersionId,
  orderOfVersionId,
  segmentKey,
  versionIdFor,
  versionKey,
  type BucketRecord,
  type ChunkReference,
  type VersionData,
  type VersionRecord,
} from '../model/index.ts'
import { etagListMatches } from './conditions.ts'
import { invalidVersionId, noSuchKey, preconditionFailed } from './errors.ts'

const versionWhat = (bucketId: number, key: string) => `('s3','ver',${bucketId},${JSON.stringify(key)})`

/** The newest version of key (a delete marker included), with one bounded scan. */
export async function latestVersion(tx: ReadTx, bucketId: number, key: string): Promise<VersionRecord | undefined> {
  const [entry] = await tx.scan({ ...keyVersionsRange(bucketId, key), limit: 1 })
  return entry === undefined ? undefined : decodeVersion(entry.value, versionWhat(bucketId, key))
}

/** The latest version when it is not a delete marker (one point read). */
export async function currentVersion(tx: ReadTx, bucketId: number, key: string): Promise<VersionRecord | undefined> {
  const stored = await tx.get(currentKey(bucketId, key))
  return stored === undefined ? undefined : decodeVersion(stored, `('s3','cur',${bucketId},${JSON.stringify(key)})`)
}

export async function nullVersionOrder(tx: ReadTx, bucketId: number, key: string): Promise<number | undefined> {
  const stored = await tx.get(nullPointerKey(bucketId, key))
  return stored === undefined ? undefined : decodeNullPointer(stored, `('s3','null',${bucketId},${JSON.stringify(key)})`)
}

/** The order a version id names in this key ('null' via the pointer); INVALID_ARGUMENT for junk. */
export async function orderOfVersion(tx: ReadTx, bucketId: number, key: string, versionId: string): Promise<number | undefined> {
  if (versionId === nullVersionId) return nullVersionOrder(tx, bucketId, key)
  const order = orderOfVersionId(versionId)
  if (order === undefined) throw invalidVersionId(versionId)
  return order
}

/** The version with this id, or undefined; INVALID_ARGUMENT when versionId is not a version id. */
export async function versionById(tx: ReadTx, bucketId: number, key: string, versionId: string): Promise<VersionRecord | undefined> {
  const order = await orderOfVersion(tx, bucketId, key, versionId)
  if (order === undefined) return undefined
  const stored = await tx.get(versionKey(bucketId, key, order))
  if (stored === undefined) return undefined
  const record = decodeVersion(stored, versionWhat(bucketId, key))
  // The order matched but the random part did not: a stale or guessed id.
  return record.versionId === versionId ? record : undefined
}

/** Add the references a version's own record holds (embedded chunk tables only). */
export async function addVersionRefs(chunkStore: ChunkStore, tx: WriteTx, data: VersionData): Promise<void> {
  if (data.kind === 'chunks') await chunkStore.addRefs(tx, data.chunks.map((chunk) => chunk.id))
}

/** Drop every reference of a version being removed, deleting its segment records. */
export async function dropVersionData(chunkStore: ChunkStore, tx: WriteTx, data: VersionData): Promise<void> {
  if (data.kind === 'chunks') await chunkStore.dropRefs(tx, data.chunks.map((chunk) => chunk.id))
  if (data.kind !== 'segments') return
  for (const segment of data.segments) await dropSegment(chunkStore, tx, data.manifestId, segment.index)
}

export async function readSegment(tx: ReadTx, manifestId: string, index: number): Promise<ChunkReference[]> {
  const what = `('s3','seg',${manifestId},${index})`
  const stored = await tx.get(segmentKey(manifestId, index))
  assert(stored !== undefined, `segment ${what} exists while its owner does`)
  return decodeSegment(stored, what)
}

export async function dropSegment(chunkStore: ChunkStore, tx: WriteTx, manifestId: string, index: number): Promise<void> {
  const chunks = await readSegment(tx, manifestId, index)
  await chunkStore.dropRefs(tx, chunks.map((chunk) => chunk.id))
  tx.delete(segmentKey(manifestId, index))
}

/** Write a segment record and add its references. */
export async function writeSegment(chunkStore: ChunkStore, tx: WriteTx, manifestId: string, index: number, chunks: readonly ChunkReference[]): Promise<void> {
  tx.put(segmentKey(manifestId, index), encodeSegment(chunks))
  await chunkStore.addRefs(tx, chunks.map((chunk) => chunk.id))
}

/** Remove one version for good: its record, references, segments and null pointer (not cur). */
export async function removeVersion(chunkStore: ChunkStore, tx: WriteTx, bucketId: number, key: string, record: VersionRecord): Promise<void> {
  tx.delete(versionKey(bucketId, key, record.order))
  if (record.versionId === nullVersionId) tx.delete(nullPointerKey(bucketId, key))
  await dropVersionData(chunkStore, tx, record.data)
}

/** Make the current entry match the newest version after a removal; returns that version. */
export async function refreshCurrent(tx: WriteTx, bucketId: number, key: string): Promise<VersionRecord | undefined> {
  const latest = await latestVersion(tx, bucketId, key)
  if (latest === undefined || latest.deleteMarker) tx.delete(currentKey(bucketId, key))
  else tx.put(currentKey(bucketId, key), encodeVersion(latest))
  return latest
}

/** Rewrite a version in place (tags changed): its key, and cur when it is the current one. */
export async function rewriteVersion(tx: WriteTx, bucketId: number, key: string, record: VersionRecord): Promise<void> {
  const encoded = encodeVersion(record)
  tx.put(versionKey(bucketId, key, record.order), encoded)
  const current = await currentVersion(tx, bucketId, key)
  if (current?.order === record.order) tx.put(currentKey(bucketId, key), encoded)
}

export interface WriteConditions {
  ifMatch?: string
  ifNoneMatch?: '*'
}

/** If-Match / If-None-Match: * against the current version, atomically inside the commit. */
export function checkWriteConditions(current: VersionRecord | undefined, conditions: WriteConditions, bucket: string, key: string): void {
  if (conditions.ifNoneMatch !== undefined && current !== undefined) throw preconditionFailed('If-None-Match')
  if (conditions.ifMatch !== undefined) {
    if (current === undefined) throw noSuchKey(bucket, key)
    if (!etagListMatches(conditions.ifMatch, current.etag)) throw preconditionFailed('If-Match')
  }
}

/**
 * The newest version of key, for a write. A never-versioned bucket holds at most one version per
 * key, its null version, and no delete markers (a delete removes the version), so there the
 * current entry is the newest version: two point reads instead of a scan (a scan is an iterator
 * round trip through the libuv pool, the only asynchronous read left in a PUT's transaction).
 * If cur and the null pointer ever disagree, the scan decides.
 */
async function latestForWrite(tx: ReadTx, bucket: BucketRecord, key: string): Promise<VersionRecord | undefined> {
  if (bucket.versioning !== 'Unversioned') return latestVersion(tx, bucket.id, key)
  const [current, pointer] = await tx.getMany([currentKey(bucket.id, key), nullPointerKey(bucket.id, key)])
  if (current === undefined && pointer === undefined) return undefined
  if (current !== undefined && pointer !== undefined) {
    const record = decodeVersion(current, `('s3','cur',${bucket.id},${JSON.stringify(key)})`)
    if (record.versionId === nullVersionId && record.order === decodeNullPointer(pointer, `('s3','null',${bucket.id},${JSON.stringify(key)})`)) return record
  }
  return latestVersion(tx, bucket.id, key)
}

export type VersionDraft = Omit<VersionRecord, 'order' | 'versionId' | 'lastModifiedMs'>

/**
 * Commit a new latest version of key under the bucket's versioning state:
 * - Enabled: a new version id; older versions stay.
 * - Unversioned / Suspended: version id 'null', replacing the key's null version (if any),
 *   wherever it sits in the version stack; other versions stay.
 * The caller has written (and referenced) any segments of draft; embedded chunk references are
 * added here. Returns the committed record.
 */
export async function commitVersion(
  chunkStore: ChunkStore,
  tx: WriteTx,
  bucket: BucketRecord,
  key: string,
  draft: VersionDraft,
  options: { nowMs: number; idSuffix: string; conditions?: WriteConditions },
): Promise<VersionRecord> {
  const latest = await latestForWrite(tx, bucket, key)
  if (options.conditions !== undefined) {
    checkWriteConditions(latest?.deleteMarker === false ? latest : undefined, options.conditions, bucket.name, key)
  }
  const order = nextOrder(options.nowMs, latest?.order)
  const versionId = bucket.versioning === 'Enabled' ? versionIdFor(order, options.idSuffix) : nullVersionId
  if (versionId === nullVersionId) {
    const replaced = latest?.versionId === nullVersionId ? latest : await versionById(tx, bucket.id, key, nullVersionId)
    if (replaced !== undefined) await removeVersion(chunkStore, tx, bucket.id, key, replaced)
  }
  const record: VersionRecord = { ...draft, order, versionId, lastModifiedMs: options.nowMs }
  const encoded = encodeVersion(record)
  tx.put(versionKey(bucket.id, key, order), encoded)
  if (record.deleteMarker) tx.delete(currentKey(bucket.id, key))
  else tx.put(currentKey(bucket.id, key), encoded)
  if (versionId === nullVersionId) tx.put(nullPointerKey(bucket.id, key), encodeNullPointer(order))
  await addVersionRefs(chunkStore, tx, record.data)
  // INTELLIGENT_TIERING: the first access-tier check, due at once; the worker knows the length
  // of a day and schedules the next one (tiering-worker.ts).
  if (record.storageClass === 'INTELLIGENT_TIERING' && !record.deleteMarker) {
    tx.put(dueKey(options.nowMs, bucket.id, key, order, 'tiering-check'), encodeDue({ versionId }))
  }
  return record
}
