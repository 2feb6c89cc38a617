// INTELLIGENT_TIERING: access tiers by last access, as S3 does (docs/storage-classes.md 1.1).
//
// A monitored version (class INTELLIGENT_TIERING, at least intelligentTieringObjectBytesMin
// bytes) is in one access tier: FREQUENT_ACCESS (data in the hot chunk tier), INFREQUENT_ACCESS
// after infrequentAccessTierDays lifecycle days without access, ARCHIVE_INSTANT_ACCESS after
// archiveInstantAccessTierDays (both in the cold tier). A GET (ranged or not) and a copy-source
// read are accesses and bring the version back to FREQUENT_ACCESS; HEAD, listings and tagging
// are not (AWS). Smaller versions stay in FREQUENT_ACCESS, unmonitored (AWS). Bucket
// configurations (tiering-config.ts) may add ARCHIVE_ACCESS / DEEP_ARCHIVE_ACCESS after their
// days: archived versions are cold, answer GET with InvalidObjectState and come back to
// FREQUENT_ACCESS only through RestoreObject (restore.ts).
//
// This module is the policy (pure functions) and the in-memory access log; tiering-worker.ts
// flushes the log and runs the time-driven moves.
//
// The access log keeps reads free of metadata writes: a read adds or updates one in-memory
// entry per version (newest access wins) and the background worker writes them in batches.
// Bounded: at most accessLogEntriesMax versions; accesses to more are dropped and counted.
// Reads of a FREQUENT_ACCESS version within dayMs / accessResolutionPerDay of its recorded
// access are not logged at all (they could not change anything that matters at day scale).
// Loss window: accesses still in the log when the process dies (those of the last background
// tick, restoreCheckIntervalMs, default 1 s, plus a flush in progress) are lost; the version's
// idle time then counts from the access before, so it may turn colder that much earlier. Data
// is never affected: tiers are transparent to reads.
// Never: write metadata or block on I/O in record(); make a version warmer by time alone.
import type { Tier } from '../chunk/index.ts'
import { dataManagementLimits } from '../lib/index.ts'
import { accessTiers, type AccessTier, type ArchiveAccessTier, type StoredTiering, type VersionRecord } from '../model/index.ts'
import { tierOf } from './context.ts'
import { daysAfter, type DataManagementSettings } from './lifecycle-settings.ts'

/** Whether S3 Intelligent-Tiering monitors this version's access. */
export function isMonitored(record: VersionRecord): boolean {
  return record.storageClass === 'INTELLIGENT_TIERING' && !record.deleteMarker && record.sizeBytes >= dataManagementLimits.intelligentTieringObjectBytesMin
}

/** A version's tiering state; a version without one is frequent since it was written. */
export function tieringOf(record: VersionRecord): StoredTiering {
  return record.tiering ?? { accessTier: 'FREQUENT_ACCESS', lastAccessMs: record.lastModifiedMs }
}

export function chunkTierOf(accessTier: AccessTier): Tier {
  return accessTier === 'FREQUENT_ACCESS' ? 'hot' : 'cold'
}

/** The chunk tier a version's data belongs in: its class's, or its access tier's. */
export function versionTier(record: VersionRecord): Tier {
  return isMonitored(record) ? chunkTierOf(tieringOf(record).accessTier) : tierOf(record.storageClass)
}

/** The archive tiers bucket configurations give a version (tiering-config.ts archiveDaysFor). */
export interface ArchiveDays {
  readonly archiveAccessDays?: number
  readonly deepArchiveAccessDays?: number
}

/** The archive tier a version is in (x-amz-archive-status), if any. */
export function archiveStatusOf(record: VersionRecord): ArchiveAccessTier | undefined {
  if (!isMonitored(record)) return undefined
  const tier = tieringOf(record).accessTier
  return tier === 'ARCHIVE_ACCESS' || tier === 'DEEP_ARCHIVE_ACCESS' ? tier : undefined
}

/** Each access tier with the days without access that lead to it. */
function thresholds(archive: ArchiveDays): Array<{ tier: AccessTier; days: number }> {
  const list: Array<{ tier: AccessTier; days: number }> = [
    { tier: 'INFREQUENT_ACCESS', days: dataManagementLimits.infrequentAccessTierDays },
    { tier: 'ARCHIVE_INSTANT_ACCESS', days: dataManagementLimits.archiveInstantAccessTierDays },
  ]
  if (archive.archiveAccessDays !== undefined) list.push({ tier: 'ARCHIVE_ACCESS', days: archive.archiveAccessDays })
  if (archive.deepArchiveAccessDays !== undefined) list.push({ tier: 'DEEP_ARCHIVE_ACCESS', days: archive.deepArchiveAccessDays })
  return list
}

/** The access tier idle time alone gives a version last accessed at lastAccessMs. */
export function accessTierAt(settings: Pick<DataManagementSettings, 'dayMs'>, lastAccessMs: number, nowMs: number, archive: ArchiveDays = {}): AccessTier {
  let tier: AccessTier = 'FREQUENT_ACCESS'
  for (const step of thresholds(archive)) {
    if (nowMs >= daysAfter(settings, lastAccessMs, step.days)) tier = colderOf(tier, step.tier)
  }
  return tier
}

/** The colder of two access tiers. */
export function colderOf(a: AccessTier, b: AccessTier): AccessTier {
  return accessTiers.indexOf(a) >= accessTiers.indexOf(b) ? a : b
}

/**
 * When a version in this state may next turn colder; undefined in DEEP_ARCHIVE_ACCESS. Only
 * FREQUENT_ACCESS and INFREQUENT_ACCESS have times that depend on nothing but the state (every
 * archive tier needs >= 90 days); colder tiers without a colder configured tier are looked at
 * again on a grid of archiveRecheckDays from their 90th day, so a configuration put later
 * applies and two entries of one version meet on the same time.
 */
export function nextCheckMs(settings: Pick<DataManagementSettings, 'dayMs'>, state: StoredTiering, nowMs: number, archive: ArchiveDays = {}): number | undefined {
  if (state.accessTier === 'DEEP_ARCHIVE_ACCESS') return undefined
  const colder = thresholds(archive).filter((step) => colderOf(step.tier, state.accessTier) === step.tier && step.tier !== state.accessTier)
  const times = colder.map((step) => daysAfter(settings, state.lastAccessMs, step.days))
  if (times.length > 0) return Math.min(...times)
  const gridStartMs = daysAfter(settings, state.lastAccessMs, dataManagementLimits.archiveInstantAccessTierDays)
  const stepMs = daysAfter(settings, gridStartMs, dataManagementLimits.archiveRecheckDays) - gridStartMs
  return gridStartMs + (Math.floor(Math.max(0, nowMs - gridStartMs) / stepMs) + 1) * stepMs
}

/** Whether nextCheckMs of this state depends only on the state (not on configurations or now). */
export function hasFixedNextCheck(state: StoredTiering): boolean {
  return state.accessTier === 'FREQUENT_ACCESS' || state.accessTier === 'INFREQUENT_ACCESS'
}

export interface LoggedAccess {
  readonly bucketId: number
  readonly key: string
  readonly order: number
  readonly versionId: string
  accessMs: number
}

export interface TieringCounters {
  /** Accesses written to metadata by flushes. */
  flushedAccesses: number
  /** Accesses dropped because the log was full. */
  droppedAccesses: number
  /** Versions moved per target tier: colder by idle time, FREQUENT_ACCESS by an access or a restore. */
  to: Record<AccessTier, number>
}

/** The in-memory access log (see the module comment). */
export class AccessLog {
  readonly counters: TieringCounters = {
    flushedAccesses: 0,
    droppedAccesses: 0,
    to: { FREQUENT_ACCESS: 0, INFREQUENT_ACCESS: 0, ARCHIVE_INSTANT_ACCESS: 0, ARCHIVE_ACCESS: 0, DEEP_ARCHIVE_ACCESS: 0 },
  }
  readonly #entries = new Map<string, LoggedAccess>()
  readonly #capacity: number

  constructor(capacity: number = dataManagementLimits.accessLogEntriesMax) {
    this.#capacity = capacity
  }

  get pendingEntries(): number {
    return this.#entries.size
  }

  /** Note a read of record (a GET or a copy-source read) at accessMs. */
  record(bucketId: number, key: string, record: VersionRecord, accessMs: number, dayMs: number): void {
    if (!isMonitored(record)) return
    const state = tieringOf(record)
    if (state.accessTier === 'FREQUENT_ACCESS' && accessMs - state.lastAccessMs < dayMs / dataManagementLimits.accessResolutionPerDay) return
    this.#add({ bucketId, key, order: record.order, versionId: record.versionId, accessMs })
  }

  /** Remove and return up to max entries, oldest first. */
  take(max: number): LoggedAccess[] {
    const taken: LoggedAccess[] = []
    for (const [id, entry] of this.#entries) {
      if (taken.length >= max) break
      this.#entries.delete(id)
      taken.push(entry)
    }
    return taken
  }

  /** Give back entries a failed flush took (newer accesses logged meanwhile win). */
  putBack(entries: readonly LoggedAccess[]): void {
    for (const entry of entries) this.#add({ ...entry })
  }

  #add(access: LoggedAccess): void {
    const id = JSON.stringify([access.bucketId, access.key, access.order])
    const existing = this.#entries.get(id)
    if (existing !== undefined && existing.versionId === access.versionId) {
      existing.accessMs = Math.max(existing.accessMs, access.accessMs)
      return
    }
    if (existing === undefined && this.#entries.size >= this.#capacity) {
      this.counters.droppedAccesses += 1
      return
    }
    this.#entries.set(id, access)
  }
}
