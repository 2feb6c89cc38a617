// Storage classes and chunk-store tiers (docs/storage-classes.md).
//
// Mapping: STANDARD, STANDARD_IA, ONEZONE_IA and GLACIER_IR keep their chunks in the hot tier
// (they differ in price on AWS, not in how fast Cairn reads them); GLACIER and DEEP_ARCHIVE keep
// them in the cold tier and must be restored before a GET; INTELLIGENT_TIERING keeps them in the
// tier of its access tier (intelligent-tiering.ts).
// REDUCED_REDUNDANCY is accepted by the edge and stored as STANDARD.
//
// Shared chunks: content-addressed chunks are stored once, so one chunk may belong to a hot and
// an archived object at the same time. Moving to the cold tier moves only the chunks whose every
// reference comes from the version being moved (its refcount equals its occurrences in that
// batch of the version's manifest); a chunk some other record also references stays where it is
// and stays readable (tiers are transparent to ChunkStore.get). Moving to the hot tier (restore)
// moves every chunk. A move is a copy then a location switch inside the chunk store, so it is
// safe to run beside reads, to repeat, and to interrupt.
// Never: change a version record here (callers commit class and restore state themselves).
import type { Tier } from '../chunk/index.ts'
import { chunkIdHex, dataManagementLimits, throwIfAborted, type ChunkId } from '../lib/index.ts'
import type { MetaStore } from '../meta/index.ts'
import { decodeSegment, segmentKey, type StorageClass, type VersionRecord } from '../model/index.ts'
import type { RestoreInfo } from './api.ts'
import type { ObjectsContext } from './context.ts'
import { archiveStatusOf } from './intelligent-tiering.ts'

export const archiveClasses: readonly StorageClass[] = ['GLACIER', 'DEEP_ARCHIVE']

export function isArchiveClass(storageClass: StorageClass): boolean {
  return archiveClasses.includes(storageClass)
}

/**
 * Whether a GET of this version must wait for a restore: archived, and no readable restored
 * copy. An INTELLIGENT_TIERING version in an archive tier has none: its restore makes it
 * Frequent Access again (restore-worker.ts).
 */
export function needsRestore(record: VersionRecord, nowMs: number): boolean {
  if (archiveStatusOf(record) !== undefined) return true
  if (!isArchiveClass(record.storageClass)) return false
  const restore = record.restore
  return restore?.completedMs === undefined || restore.expiresMs === undefined || restore.expiresMs <= nowMs
}

/** x-amz-restore for a version: undefined when no restore was asked for (or it expired). */
export function restoreInfo(record: VersionRecord): RestoreInfo | undefined {
  const restore = record.restore
  if (restore === undefined) return undefined
  if (restore.completedMs === undefined) return { ongoing: true }
  return { ongoing: false, ...(restore.expiresMs === undefined ? {} : { expiryMs: restore.expiresMs }) }
}

/**
 * The chunk ids of a version in manifest order, a batch at a time: the embedded table, or one
 * segment per batch. Stops quietly when a segment is gone (the version was removed meanwhile).
 */
export async function* chunkBatchesOf(meta: MetaStore, record: VersionRecord): AsyncGenerator<ChunkId[]> {
  const data = record.data
  if (data.kind === 'chunks') {
    for (let at = 0; at < data.chunks.length; at += dataManagementLimits.tierMoveChunksPerCall) {
      yield data.chunks.slice(at, at + dataManagementLimits.tierMoveChunksPerCall).map((chunk) => chunk.id)
    }
    return
  }
  if (data.kind !== 'segments') return
  for (const segment of data.segments) {
    const stored = await meta.read((tx) => tx.get(segmentKey(data.manifestId, segment.index)))
    if (stored === undefined) return
    const chunks = decodeSegment(stored, `('s3','seg',${data.manifestId},${segment.index})`)
    for (let at = 0; at < chunks.length; at += dataManagementLimits.tierMoveChunksPerCall) {
      yield chunks.slice(at, at + dataManagementLimits.tierMoveChunksPerCall).map((chunk) => chunk.id)
    }
  }
}

export interface TierMoveSummary {
  movedChunks: number
  /** Chunks left where they are because another record references them too. */
  sharedChunks: number
}

/** The ids of a batch no other record references (refcount == occurrences here), each once. */
async function exclusiveChunks(context: ObjectsContext, batch: readonly ChunkId[]): Promise<{ exclusive: ChunkId[]; shared: number }> {
  const occurrences = new Map<string, { id: ChunkId; count: number }>()
  for (const id of batch) {
    const hex = chunkIdHex(id)
    const entry = occurrences.get(hex)
    if (entry === undefined) occurrences.set(hex, { id, count: 1 })
    else entry.count += 1
  }
  const entries = [...occurrences.values()]
  const counts = await context.meta.read(async (tx) => Promise.all(entries.map((entry) => context.chunkStore.refCount(tx, entry.id))))
  const exclusive: ChunkId[] = []
  let shared = 0
  entries.forEach((entry, at) => {
    if ((counts[at] ?? 0) <= entry.count) exclusive.push(entry.id)
    else shared += 1
  })
  return { exclusive, shared }
}

/** Move a version's data to tier (see the module comment for shared chunks). */
export async function moveVersionData(context: ObjectsContext, record: VersionRecord, tier: Tier, signal?: AbortSignal): Promise<TierMoveSummary> {
  const summary: TierMoveSummary = { movedChunks: 0, sharedChunks: 0 }
  for await (const batch of chunkBatchesOf(context.meta, record)) {
    throwIfAborted(signal)
    let ids = batch
    if (tier === 'cold') {
      const { exclusive, shared } = await exclusiveChunks(context, batch)
      ids = exclusive
      summary.sharedChunks += shared
    }
    if (ids.length === 0) continue
    const report = await context.chunkStore.moveToTier(ids, tier, signal === undefined ? {} : { signal })
    summary.movedChunks += report.movedChunks
  }
  return summary
}
