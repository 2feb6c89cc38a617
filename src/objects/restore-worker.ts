// The due-work queue of the objects layer: entries ('s3','due',dueMs,bucketId,key,order,kind)
// written in the transaction that made the work necessary (docs/format/objects.md 7.3):
//   restore-ready   move an archived version's data to the hot tier, mark the restored copy
//                   readable and queue its expiry (an INTELLIGENT_TIERING version in an archive
//                   tier instead becomes Frequent Access again, with no expiry);
//   restore-expire  drop the restored copy: clear the restore state, move the data back cold;
//   tier-move       a version changed class (copy, lifecycle transition) or access tier (an
//                   access to an INTELLIGENT_TIERING version): put its data in its tier;
//   tiering-check   an INTELLIGENT_TIERING version may turn colder (tiering-worker.ts).
// Each entry is re-checked against the version it names (by order and version id) and removed
// once its work is done; a stale entry (version gone, another restore started) is removed
// without work. Work that fails leaves the entry for the next step, so the queue is resumable
// across restarts and retries after errors. Moves happen outside transactions and are
// idempotent (storage-class.ts).
// Never: mark a restored copy readable before its data was moved.
import { dataManagementLimits, isStoreError } from '../lib/index.ts'
import { decodeDue, dueUntil, type VersionRecord } from '../model/index.ts'
import type { ObjectsContext } from './context.ts'
import { decodeDueKey, dropEntry, loadVersion, versionInTx, type DueEntry } from './due-entries.ts'
import { archiveStatusOf, tieringOf, versionTier } from './intelligent-tiering.ts'
import { daysAfter, deleteDue, putDue } from './restore.ts'
import { isArchiveClass, moveVersionData } from './storage-class.ts'
import { rescheduleAfterAccess, tieringCheck } from './tiering-worker.ts'
import { rewriteVersion } from './versions.ts'

export type { DueEntry } from './due-entries.ts'

export interface DueStepReport {
  done: number
  failed: number
  /** True when the step found a full page: more may be due already. */
  more: boolean
}

async function restoreReady(context: ObjectsContext, entry: DueEntry, record: VersionRecord): Promise<void> {
  const restore = record.restore
  if (restore === undefined || restore.completedMs !== undefined || restore.readyMs !== entry.dueMs) return dropEntry(context, entry)
  await moveVersionData(context, record, 'hot')
  const warmed = await context.meta.transact(async (tx) => {
    const current = await versionInTx(tx, entry, record.versionId)
    deleteDue(tx, entry.dueMs, entry.bucketId, entry.key, entry.order, entry.kind)
    if (current?.restore === undefined || current.restore.completedMs !== undefined || current.restore.readyMs !== entry.dueMs) return false
    const nowMs = context.clock.nowMs()
    if (archiveStatusOf(current) !== undefined) {
      // INTELLIGENT_TIERING: the version is Frequent Access again, for good (no restored copy to expire).
      const { restore: _done, ...rest } = current
      const after = { accessTier: 'FREQUENT_ACCESS' as const, lastAccessMs: nowMs }
      const updated: VersionRecord = { ...rest, tiering: after }
      await rewriteVersion(tx, entry.bucketId, entry.key, updated)
      rescheduleAfterAccess(context, tx, entry.bucketId, entry.key, updated, tieringOf(current), after)
      return true
    }
    const expiresMs = daysAfter(context.dataManagement, nowMs, current.restore.days)
    const updated: VersionRecord = { ...current, restore: { ...current.restore, completedMs: nowMs, expiresMs } }
    await rewriteVersion(tx, entry.bucketId, entry.key, updated)
    putDue(tx, expiresMs, entry.bucketId, entry.key, updated, 'restore-expire')
    return false
  })
  if (warmed) context.accessLog.counters.to.FREQUENT_ACCESS += 1
}

async function restoreExpire(context: ObjectsContext, entry: DueEntry, record: VersionRecord): Promise<void> {
  const restore = record.restore
  if (restore !== undefined && restore.expiresMs !== entry.dueMs) return dropEntry(context, entry) // a newer restore owns the version
  if (restore !== undefined) {
    // First make the copy unreadable (the entry stays, so a crash here still moves the data).
    await context.meta.transact(async (tx) => {
      const current = await versionInTx(tx, entry, record.versionId)
      if (current?.restore?.expiresMs !== entry.dueMs) return
      const { restore: _expired, ...rest } = current
      await rewriteVersion(tx, entry.bucketId, entry.key, rest)
    })
  }
  if (isArchiveClass(record.storageClass)) await moveVersionData(context, record, 'cold')
  await dropEntry(context, entry)
}

async function tierMove(context: ObjectsContext, entry: DueEntry, record: VersionRecord): Promise<void> {
  // An archived version with a restore pending or done keeps its data where the restore puts it.
  if (!(isArchiveClass(record.storageClass) && record.restore !== undefined)) {
    await moveVersionData(context, record, versionTier(record))
  }
  await dropEntry(context, entry)
}

async function runEntry(context: ObjectsContext, entry: DueEntry, versionId: string): Promise<void> {
  const record = await loadVersion(context, entry)
  if (record === undefined || record.versionId !== versionId) return dropEntry(context, entry)
  switch (entry.kind) {
    case 'restore-ready':
      return restoreReady(context, entry, record)
    case 'restore-expire':
      return restoreExpire(context, entry, record)
    case 'tier-move':
      return tierMove(context, entry, record)
    case 'tiering-check':
      return tieringCheck(context, entry, record)
  }
}

/**
 * Handle up to restoreDueEntriesPerStep entries due at nowMs. A failing entry is reported to
 * onError and stays queued; CLOSED stops the step quietly (the layer is shutting down).
 */
export async function runDueStep(context: ObjectsContext, onError: (error: unknown, entry: DueEntry) => void): Promise<DueStepReport> {
  const nowMs = context.clock.nowMs()
  const page = await context.meta.read((tx) => tx.scan({ ...dueUntil(nowMs + 1), limit: dataManagementLimits.restoreDueEntriesPerStep }))
  const report: DueStepReport = { done: 0, failed: 0, more: page.length === dataManagementLimits.restoreDueEntriesPerStep }
  for (const stored of page) {
    const entry = decodeDueKey(stored.key)
    try {
      await runEntry(context, entry, decodeDue(stored.value, `('s3','due',${entry.dueMs})`).versionId)
      report.done += 1
    } catch (error) {
      if (isStoreError(error, 'CLOSED')) throw error
      report.failed += 1
      onError(error, entry)
    }
  }
  return report
}
