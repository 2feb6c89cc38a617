// RestoreObject for archived versions (GLACIER, DEEP_ARCHIVE) and the restore state GET/HEAD
// report (docs/storage-classes.md).
//
// A restore request records { tier, days, requestedMs, readyMs } on the version and a due entry
// ('s3','due',readyMs,...,'restore-ready') in the same transaction; the restore worker
// (restore-worker.ts) moves the data to the hot tier when it is due, marks the copy readable
// and queues its expiry. A second request while one is ongoing is CONFLICT
// (RestoreAlreadyInProgress, 409); one while a restored copy is readable moves its expiry to
// `days` from now (200 instead of 202). State lives in metadata only, so it survives restarts.
// Never: make an archived version readable before its restore completed.
import { dataManagementLimits } from '../lib/index.ts'
import type { WriteTx } from '../meta/index.ts'
import { dueKey, encodeDue, type DueKind, type RestoreTier, type StorageClass, type StoredRestore, type VersionRecord } from '../model/index.ts'
import type { RestoreObjectInput, RestoreObjectResult } from './api.ts'
import { accessBucket } from './buckets.ts'
import type { ObjectsContext } from './context.ts'
import { invalidArgument, ObjectsError } from './errors.ts'
import { dayMsReal, deepArchiveDelayFactor, type DataManagementSettings } from './lifecycle-settings.ts'
import { resolveVersion } from './read.ts'
import { isArchiveClass } from './storage-class.ts'
import { validateObjectKey } from './validate.ts'
import { rewriteVersion } from './versions.ts'

/** The next midnight UTC at or after ms. */
export function midnightAtOrAfter(ms: number): number {
  return Math.ceil(ms / dayMsReal) * dayMsReal
}

/**
 * When something `days` lifecycle days after fromMs happens. With real days AWS rounds up to
 * the next midnight UTC; with a shortened day (tests) the time is exact.
 */
export function daysAfter(settings: Pick<DataManagementSettings, 'dayMs'>, fromMs: number, days: number): number {
  const exact = fromMs + days * settings.dayMs
  return settings.dayMs === dayMsReal ? midnightAtOrAfter(exact) : exact
}

export function restoreDelayMs(settings: DataManagementSettings, storageClass: StorageClass, tier: RestoreTier): number {
  const base = settings.restoreDelaysMs[tier]
  return storageClass === 'DEEP_ARCHIVE' ? base * deepArchiveDelayFactor : base
}

export function putDue(tx: WriteTx, dueMs: number, bucketId: number, key: string, record: VersionRecord, kind: DueKind): void {
  tx.put(dueKey(dueMs, bucketId, key, record.order, kind), encodeDue({ versionId: record.versionId }))
}

export function deleteDue(tx: WriteTx, dueMs: number, bucketId: number, key: string, order: number, kind: DueKind): void {
  tx.delete(dueKey(dueMs, bucketId, key, order, kind))
}

function validateRestore(input: RestoreObjectInput): RestoreTier {
  validateObjectKey(input.key)
  if (!Number.isSafeInteger(input.days) || input.days < 1 || input.days > dataManagementLimits.lifecycleDaysMax) {
    throw invalidArgument('InvalidArgument', `Days must be an integer between 1 and ${dataManagementLimits.lifecycleDaysMax}, got ${String(input.days)}`)
  }
  const tier = input.tier ?? 'Standard'
  if (tier !== 'Expedited' && tier !== 'Standard' && tier !== 'Bulk') throw invalidArgument('MalformedXML', `Tier must be Expedited, Standard or Bulk, not ${String(tier)}`)
  return tier
}

export async function restoreObject(context: ObjectsContext, input: RestoreObjectInput): Promise<RestoreObjectResult> {
  const tier = validateRestore(input)
  const settings = context.dataManagement
  return context.meta.transact(async (tx) => {
    const bucket = await accessBucket(tx, input.principal, input.bucket)
    const { record } = await resolveVersion(tx, bucket, input.key, input.versionId)
    if (!isArchiveClass(record.storageClass)) {
      throw new ObjectsError('INVALID_STATE', `Restore is not allowed for the object's current storage class (${record.storageClass})`, { subject: 'key', hint: 'InvalidObjectState' })
    }
    if (record.storageClass === 'DEEP_ARCHIVE' && tier === 'Expedited') {
      throw invalidArgument('InvalidArgument', 'Expedited retrievals are not available for objects in the DEEP_ARCHIVE storage class')
    }
    const nowMs = context.clock.nowMs()
    const current = record.restore
    if (current !== undefined && current.completedMs === undefined) {
      throw new ObjectsError('CONFLICT', 'Object restore is already in progress', { subject: 'key', hint: 'RestoreAlreadyInProgress' })
    }
    if (current?.expiresMs !== undefined && current.expiresMs > nowMs) {
      // A readable restored copy: only its expiry moves (relative to now, as AWS does).
      const expiresMs = daysAfter(settings, nowMs, input.days)
      deleteDue(tx, current.expiresMs, bucket.id, input.key, record.order, 'restore-expire')
      const updated: VersionRecord = { ...record, restore: { ...current, days: input.days, expiresMs } }
      await rewriteVersion(tx, bucket.id, input.key, updated)
      putDue(tx, expiresMs, bucket.id, input.key, updated, 'restore-expire')
      return { alreadyRestored: true }
    }
    const restore: StoredRestore = { tier, days: input.days, requestedMs: nowMs, readyMs: nowMs + restoreDelayMs(settings, record.storageClass, tier) }
    const updated: VersionRecord = { ...record, restore }
    await rewriteVersion(tx, bucket.id, input.key, updated)
    putDue(tx, restore.readyMs, bucket.id, input.key, updated, 'restore-ready')
    return { alreadyRestored: false }
  })
}
