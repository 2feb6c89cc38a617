// INTELLIGENT_TIERING: access tiers by last access, as S3 does (docs/storage-classes.md 1.1).
//
// A monitored version (class INTELLIGENT_TIERING, at least intelligentTieringObjectBytesMin
// bytes) is in one access tier: FREQUENT_ACCESS (data in the hot chunk tier), INFREQUENT_ACCESS
// after infrequentAccessTierDays lifecycle days without access, ARCHIVE_INSTANT_ACCESS after
// archiveInstantAccessTierDays (both in the cold tier). A GET (ranged or not) and a copy-source
// read are accesses and bring the version back to FREQUENT_ACCESS; HEAD, listings and tagging
// are not (AWS). Smaller versions stay in FREQUENT_ACCESS, unmonitored (AWS).
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
import { accessTiers, type AccessTier, type StoredTiering, type VersionRecord } from '../model/index.ts'
import { tierOf } from './context.ts'
import type { DataManagementSettings } from './lifecycle-settings.ts'
import { daysAfter } from './restore.ts'

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

/** The access tier idle time alone gives a version last accessed at lastAccessMs. */
export function accessTierAt(settings: Pick<DataManagementSettings, 'dayMs'>, lastAccessMs: number, nowMs: number): AccessTier {
  if (nowMs >= daysAfter(settings, lastAccessMs, dataManagementLimits.archiveInstantAccessTierDays)) return 'ARCHIVE_INSTANT_ACCESS'
  if (nowMs >= daysAfter(settings, lastAccessMs, dataManagementLimits.infrequentAccessTierDays)) return 'INFREQUENT_ACCESS'
  return 'FREQUENT_ACCESS'
}

/** The colder of two access tiers. */
export function colderOf(a: AccessTier, b: AccessTier): AccessTier {
  return accessTiers.indexOf(a) >= accessTiers.indexOf(b) ? a : b
}

/** When a version in this state may next turn colder; undefined in the coldest tier. */
export function nextCheckMs(settings: Pick<DataManagementSettings, 'dayMs'>, state: StoredTiering): number | undefined {
  switch (state.accessTier) {
    case 'FREQUENT_ACCESS':
      return daysAfter(settings, state.lastAccessMs, dataManagementLimits.infrequentAccessTierDays)
    case 'INFREQUENT_ACCESS':
      return daysAfter(settings, state.lastAccessMs, dataManagementLimits.archiveInstantAccessTierDays)
    case 'ARCHIVE_INSTANT_ACCESS':
      return undefined
  }
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
  /** Versions moved by idle time, per target tier, and back to FREQUENT_ACCESS by an access. */
  toInfrequent: number
  toArchiveInstant: number
  toFrequent: number
}

/** The in-memory access log (see the module comment). */
export class AccessLog {
  readonly counters: TieringCounters = { flushedAccesses: 0, droppedAccesses: 0, toInfrequent: 0, toArchiveInstant: 0, toFrequent: 0 }
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
