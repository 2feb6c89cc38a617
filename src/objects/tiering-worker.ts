// The background half of INTELLIGENT_TIERING (policy: intelligent-tiering.ts).
//
// flushAccessLog: takes up to accessFlushEntriesPerStep logged accesses and writes them in ONE
// metadata transaction: each still-existing monitored version gets lastAccessMs (the newer of
// stored and logged) and FREQUENT_ACCESS, its tiering-check entry moves to the new time, and a
// version that was in a cold access tier gets a tier-move entry (restore-worker.ts) that puts
// its data back in the hot tier. A failed flush gives its entries back to the log.
//
// tieringCheck (due entry 'tiering-check'): recomputes the access tier from lastAccessMs, moves
// the data first when the chunk tier changes (idempotent, shared chunks stay: storage-class.ts),
// then in one transaction records the tier, drops the entry and queues the next check. An entry
// that fires early, late or twice only reschedules. If the version was accessed while its data
// moved, the record wins: a tier-move entry puts the data back where the record says.
// Never: change a version that changed identity (version id) or class since it was read.
import type { ObjectsContext } from './context.ts'
import { dataManagementLimits } from '../lib/index.ts'
import type { WriteTx } from '../meta/index.ts'
import type { StoredTiering, VersionRecord } from '../model/index.ts'
import { dropEntry, versionInTx, type DueEntry } from './due-entries.ts'
import { accessTierAt, archiveStatusOf, chunkTierOf, colderOf, hasFixedNextCheck, isMonitored, nextCheckMs, tieringOf, type LoggedAccess } from './intelligent-tiering.ts'
import { archiveDaysFor } from './tiering-config.ts'
import { deleteDue, putDue } from './restore.ts'
import { moveVersionData } from './storage-class.ts'
import { rewriteVersion } from './versions.ts'

export interface FlushReport {
  flushed: number
  /** True when the log still holds entries. */
  more: boolean
}

/**
 * Move a version's tiering-check entry from the time the state before gives to the time of the
 * FREQUENT_ACCESS state after (an access or a completed restore). An entry whose time cannot be
 * recomputed (archive tiers: it depended on configurations and the time it was written) stays;
 * it fires once, finds the version frequent and lands on the same time as the new one.
 */
export function rescheduleAfterAccess(context: ObjectsContext, tx: WriteTx, bucketId: number, key: string, record: VersionRecord, before: StoredTiering, after: StoredTiering): void {
  const settings = context.dataManagement
  const nowMs = context.clock.nowMs()
  if (hasFixedNextCheck(before)) {
    const beforeMs = nextCheckMs(settings, before, nowMs)
    if (beforeMs !== undefined) deleteDue(tx, beforeMs, bucketId, key, record.order, 'tiering-check')
  }
  const afterMs = nextCheckMs(settings, after, nowMs)
  if (afterMs !== undefined) putDue(tx, afterMs, bucketId, key, record, 'tiering-check')
}

async function applyAccess(context: ObjectsContext, tx: WriteTx, access: LoggedAccess): Promise<boolean> {
  const record = await versionInTx(tx, access, access.versionId)
  // An archived version was not readable: the access was logged before it was archived.
  if (record === undefined || !isMonitored(record) || archiveStatusOf(record) !== undefined) return false
  const before = tieringOf(record)
  const lastAccessMs = Math.max(before.lastAccessMs, access.accessMs)
  if (lastAccessMs === before.lastAccessMs && before.accessTier === 'FREQUENT_ACCESS') return false
  const after: StoredTiering = { accessTier: 'FREQUENT_ACCESS', lastAccessMs }
  const updated: VersionRecord = { ...record, tiering: after }
  await rewriteVersion(tx, access.bucketId, access.key, updated)
  rescheduleAfterAccess(context, tx, access.bucketId, access.key, updated, before, after)
  const warmed = before.accessTier !== 'FREQUENT_ACCESS'
  if (warmed) putDue(tx, context.clock.nowMs(), access.bucketId, access.key, updated, 'tier-move')
  return warmed
}

/** Write one batch of the access log (see the module comment). */
export async function flushAccessLog(context: ObjectsContext): Promise<FlushReport> {
  const log = context.accessLog
  const batch = log.take(dataManagementLimits.accessFlushEntriesPerStep)
  if (batch.length === 0) return { flushed: 0, more: false }
  let warmed = 0
  try {
    warmed = await context.meta.transact(async (tx) => {
      let count = 0 // the transaction may run again: count inside it
      for (const access of batch) if (await applyAccess(context, tx, access)) count += 1
      return count
    })
  } catch (error) {
    log.putBack(batch)
    throw error
  }
  log.counters.flushedAccesses += batch.length
  log.counters.to.FREQUENT_ACCESS += warmed
  return { flushed: batch.length, more: log.pendingEntries > 0 }
}

/** Handle a due 'tiering-check' entry (see the module comment). */
export async function tieringCheck(context: ObjectsContext, entry: DueEntry, record: VersionRecord): Promise<void> {
  if (!isMonitored(record)) return dropEntry(context, entry)
  const before = tieringOf(record)
  const archive = await context.meta.read((tx) => archiveDaysFor(tx, entry.bucketId, entry.key, record.tags))
  const target = colderOf(before.accessTier, accessTierAt(context.dataManagement, before.lastAccessMs, context.clock.nowMs(), archive))
  const moved = chunkTierOf(target) !== chunkTierOf(before.accessTier)
  if (moved) await moveVersionData(context, record, chunkTierOf(target))
  const changed = await context.meta.transact(async (tx) => {
    deleteDue(tx, entry.dueMs, entry.bucketId, entry.key, entry.order, entry.kind)
    const current = await versionInTx(tx, entry, record.versionId)
    if (current === undefined || !isMonitored(current)) return false
    const now = tieringOf(current)
    if (now.accessTier !== before.accessTier || now.lastAccessMs !== before.lastAccessMs) {
      // Accessed meanwhile: the flush rescheduled the check; the data follows the record.
      if (moved) putDue(tx, context.clock.nowMs(), entry.bucketId, entry.key, current, 'tier-move')
      return false
    }
    const after: StoredTiering = { accessTier: target, lastAccessMs: before.lastAccessMs }
    const updated: VersionRecord = target === before.accessTier ? current : { ...current, tiering: after }
    if (updated !== current) await rewriteVersion(tx, entry.bucketId, entry.key, updated)
    const nextMs = nextCheckMs(context.dataManagement, after, context.clock.nowMs(), archive)
    if (nextMs !== undefined) putDue(tx, nextMs, entry.bucketId, entry.key, updated, 'tiering-check')
    return target !== before.accessTier
  })
  if (changed) context.accessLog.counters.to[target] += 1
}
