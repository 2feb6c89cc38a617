// Lifecycle actions on one version, each its own transaction that first re-reads the version
// and acts only if it is still the one the worker evaluated (same order, version id, class and,
// for current-version actions, still the latest). A concurrent PUT or DELETE therefore wins
// over the worker; the next pass re-evaluates. References move in the same transaction
// (versions.ts), so expired data is collected by the chunk store's GC.
//   expireCurrent      unversioned: remove the version; enabled/suspended: add a delete marker
//                      (suspended: the null marker replaces the null version, as in S3);
//   removeVersion      noncurrent expiration and expired-object-delete-marker cleanup;
//   transitionVersion  a new storage class, with a tier-move entry when the tier changes.
import type { WriteTx } from '../meta/index.ts'
import { bucketKey, decodeBucket, decodeVersion, newVersionIdSuffix, versionKey, type BucketRecord, type TransitionStorageClass, type VersionRecord } from '../model/index.ts'
import type { ObjectsContext } from './context.ts'
import { versionTier } from './intelligent-tiering.ts'
import { putDue } from './restore.ts'
import { commitVersion, latestVersion, refreshCurrent, removeVersion, rewriteVersion } from './versions.ts'
import { deleteMarkerDraft } from './write.ts'

/** The version as stored now if it is still `expected` (same order and id), else undefined. */
async function sameVersion(tx: WriteTx, bucketId: number, key: string, expected: VersionRecord): Promise<VersionRecord | undefined> {
  const stored = await tx.get(versionKey(bucketId, key, expected.order))
  if (stored === undefined) return undefined
  const record = decodeVersion(stored, `('s3','ver',${bucketId},${JSON.stringify(key)})`)
  return record.versionId === expected.versionId ? record : undefined
}

/** The bucket as stored now if it is still the one with this id (not deleted and re-created). */
async function sameBucket(tx: WriteTx, bucket: BucketRecord): Promise<BucketRecord | undefined> {
  const stored = await tx.get(bucketKey(bucket.name))
  if (stored === undefined) return undefined
  const current = decodeBucket(stored, `('s3','bucket',${JSON.stringify(bucket.name)})`)
  return current.id === bucket.id ? current : undefined
}

export async function expireCurrent(context: ObjectsContext, bucket: BucketRecord, key: string, expected: VersionRecord): Promise<boolean> {
  const idSuffix = newVersionIdSuffix(context.random)
  return context.meta.transact(async (tx) => {
    const current = await sameBucket(tx, bucket)
    if (current === undefined) return false
    const latest = await latestVersion(tx, bucket.id, key)
    if (latest === undefined || latest.order !== expected.order || latest.versionId !== expected.versionId || latest.deleteMarker) return false
    if (current.versioning === 'Unversioned') {
      await removeVersion(context.chunkStore, tx, bucket.id, key, latest)
      await refreshCurrent(tx, bucket.id, key)
      return true
    }
    await commitVersion(context.chunkStore, tx, current, key, deleteMarkerDraft(current.owner), { nowMs: context.clock.nowMs(), idSuffix })
    return true
  })
}

/** Permanently remove a version that is not the latest, or a delete marker that is the only version. */
export async function removeVersionFor(context: ObjectsContext, bucket: BucketRecord, key: string, expected: VersionRecord, expectLatest: boolean): Promise<boolean> {
  return context.meta.transact(async (tx) => {
    if ((await sameBucket(tx, bucket)) === undefined) return false
    const record = await sameVersion(tx, bucket.id, key, expected)
    if (record === undefined) return false
    const latest = await latestVersion(tx, bucket.id, key)
    const isLatest = latest?.order === record.order
    if (isLatest !== expectLatest) return false
    await removeVersion(context.chunkStore, tx, bucket.id, key, record)
    if (isLatest) await refreshCurrent(tx, bucket.id, key)
    return true
  })
}

export async function transitionVersion(context: ObjectsContext, bucket: BucketRecord, key: string, expected: VersionRecord, storageClass: TransitionStorageClass): Promise<boolean> {
  return context.meta.transact(async (tx) => {
    if ((await sameBucket(tx, bucket)) === undefined) return false
    const record = await sameVersion(tx, bucket.id, key, expected)
    if (record === undefined || record.storageClass !== expected.storageClass || record.deleteMarker) return false
    const { restore: _dropped, tiering: _reset, ...rest } = record
    const nowMs = context.clock.nowMs()
    // Into INTELLIGENT_TIERING: Frequent Access, idle time counted from the transition.
    const tiering = storageClass === 'INTELLIGENT_TIERING' ? { tiering: { accessTier: 'FREQUENT_ACCESS' as const, lastAccessMs: nowMs } } : {}
    const updated: VersionRecord = { ...rest, storageClass, ...tiering }
    await rewriteVersion(tx, bucket.id, key, updated)
    if (versionTier(updated) !== versionTier(record)) putDue(tx, nowMs, bucket.id, key, updated, 'tier-move')
    // Its first check computes the schedule.
    if (storageClass === 'INTELLIGENT_TIERING') putDue(tx, nowMs, bucket.id, key, updated, 'tiering-check')
    return true
  })
}
