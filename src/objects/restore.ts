// RestoreObject for archived versions (GLACIER, DEEP_ARCHIVE, and INTELLIGENT_TIERING versions in
// an archive tier) and the restore state GET/HEAD report (docs/storage-classes.md).
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
import { dueKey, encodeDue, type DueKind, type RestoreTier, type StoredRestore, type VersionRecord } from '../model/index.ts'
import type { RestoreObjectInput, RestoreObjectResult } from './api.ts'
import { accessBucket } from './buckets.ts'
import type { ObjectsContext } from './context.ts'
import { invalidArgument, ObjectsError } from './errors.ts'
import { daysAfter, deepArchiveDelayFactor, type DataManagementSettings } from './lifecycle-settings.ts'
import { resolveVersion } from './read.ts'
import { archiveStatusOf } from './intelligent-tiering.ts'
import { isArchiveClass } from './storage-class.ts'
import { validateObjectKey } from './validate.ts'
import { rewriteVersion } from './versions.ts'

export { daysAfter, midnightAtOrAfter } from './lifecycle-settings.ts'

/** How long a restore takes: DEEP_ARCHIVE (and Deep Archive Access) takes deepArchiveDelayFactor times as long. */
export function restoreDelayMs(settings: DataManagementSettings, deep: boolean, tier: RestoreTier): number {
  const base = settings.restoreDelaysMs[tier]
  return deep ? base * deepArchiveDelayFactor : base
}

export function putDue(tx: WriteTx, dueMs: number, bucketId: number, key: string, record: VersionRecord, kind: DueKind): void {
  tx.put(dueKey(dueMs, bucketId, key, record.order, kind), encodeDue({ versionId: record.versionId }))
}

export function deleteDue(tx: WriteTx, dueMs: number, bucketId: number, key: string, order: number, kind: DueKind): void {
  tx.delete(dueKey(dueMs, bucketId, key, order, kind))
}

function validateRestore(input: RestoreObjectInput): RestoreTier {
  validateObjectKey(input.key)
  if (input.days !== undefined && (!Number.isSafeInteger(input.days) || input.days < 1 || input.days > dataManagementLimits.lifecycleDaysMax)) {
    throw invalidArgument('InvalidArgument', `Days must be an integer between 1 and ${dataManagementLimits.lifecycleDaysMax}, got ${String(input.days)}`)
  }
  const tier = input.tier ?? 'Standard'
  if (tier !== 'Expedited' && tier !== 'Standard' && tier !== 'Bulk') throw invalidArgument('MalformedXML', `Tier must be Expedited, Standard or Bulk, not ${String(tier)}`)
  return tier
}

/**
 * What a restore of this version is: an archive class (a temporary copy for `days`), an
 * INTELLIGENT_TIERING archive tier (back to Frequent Access for good, no Days, as AWS), or
 * not allowed (InvalidObjectState). Checks Days and Expedited against the kind, as AWS does.
 */
function restoreKind(record: VersionRecord, input: RestoreObjectInput, tier: RestoreTier): { days: number; deep: boolean } {
  const archiveStatus = archiveStatusOf(record)
  if (archiveStatus !== undefined) {
    if (input.days !== undefined) {
      throw invalidArgument('InvalidArgument', 'INTELLIGENT_TIERING objects are not subject to restore expiry. Do not specify Days when restoring this object')
    }
    if (archiveStatus === 'DEEP_ARCHIVE_ACCESS' && tier === 'Expedited') {
      throw invalidArgument('InvalidArgument', 'Expedited retrievals are not available for objects in the Deep Archive Access tier')
    }
    return { days: 0, deep: archiveStatus === 'DEEP_ARCHIVE_ACCESS' }
  }
  if (!isArchiveClass(record.storageClass)) {
    throw new ObjectsError('INVALID_STATE', `Restore is not allowed for the object's current storage class (${record.storageClass})`, { subject: 'key', hint: 'InvalidObjectState' })
  }
  if (input.days === undefined) throw invalidArgument('MalformedXML', 'A restore of an archived object needs Days')
  if (record.storageClass === 'DEEP_ARCHIVE' && tier === 'Expedited') {
    throw invalidArgument('InvalidArgument', 'Expedited retrievals are not available for objects in the DEEP_ARCHIVE storage class')
  }
  return { days: input.days, deep: record.storageClass === 'DEEP_ARCHIVE' }
}

export async function restoreObject(context: ObjectsContext, input: RestoreObjectInput): Promise<RestoreObjectResult> {
  const tier = validateRestore(input)
  const settings = context.dataManagement
  return context.meta.transact(async (tx) => {
    const bucket = await accessBucket(tx, input.principal, input.bucket)
    const { record } = await resolveVersion(tx, bucket, input.key, input.versionId)
    const { days, deep } = restoreKind(record, input, tier)
    const nowMs = context.clock.nowMs()
    const current = record.restore
    if (current !== undefined && current.completedMs === undefined) {
      throw new ObjectsError('CONFLICT', 'Object restore is already in progress', { subject: 'key', hint: 'RestoreAlreadyInProgress' })
    }
    if (current?.expiresMs !== undefined && current.expiresMs > nowMs) {
      // A readable restored copy: only its expiry moves (relative to now, as AWS does).
      const expiresMs = daysAfter(settings, nowMs, days)
      deleteDue(tx, current.expiresMs, bucket.id, input.key, record.order, 'restore-expire')
      const updated: VersionRecord = { ...record, restore: { ...current, days, expiresMs } }
      await rewriteVersion(tx, bucket.id, input.key, updated)
      putDue(tx, expiresMs, bucket.id, input.key, updated, 'restore-expire')
      return { alreadyRestored: true }
    }
    const restore: StoredRestore = { tier, days, requestedMs: nowMs, readyMs: nowMs + restoreDelayMs(settings, deep, tier) }
    const updated: VersionRecord = { ...record, restore }
    await rewriteVersion(tx, bucket.id, input.key, updated)
    putDue(tx, restore.readyMs, bucket.id, input.key, updated, 'restore-ready')
    return { alreadyRestored: false }
  })
}
