// Snapshot management: create (returns at once, 'pending', the work runs in the background),
// wait, describe, list, delete, and the difference between two snapshots (ListChangedBlocks).
//
// Commit protocol (docs/format/volumes.md section 4): 1. a 'pending' record; 2. the freeze;
// 3. manifest pages with their references (snapshot-job.ts); 4. one transaction: record
// 'completed', the volume's base -> this snapshot (hold markers moved), and the durable dirty
// bits of the frozen extents cleared. A crash before 4 leaves a pending record: recovery marks
// it 'error' and drops the references of the pages written; the frozen extents were never
// cleared, so the next snapshot takes them again.
import { isStoreError, StoreError, volumeLimits, type ChunkId } from '../lib/index.ts'
import { decodeKey, scanAll } from '../meta/index.ts'
import type { VolumeContext } from './context.ts'
import { newSnapshotId, type SnapshotId, type VolumeId } from './ids.ts'
import { snapshotInfo, type SnapshotInfo } from './info.ts'
import type { LiveVolume } from './live-volume.ts'
import { manifestPageCount, type ManifestReader } from './manifest.ts'
import {
  decodeSnapshotRecord,
  domainOf,
  encodeSnapshotRecord,
  encodeVolumeRecord,
  holdKey,
  holdRange,
  snapshotKey,
  snapshotRange,
  volumeKey,
  type SnapshotRecord,
} from './records.ts'
import { SnapshotJob, type SnapshotJobResult } from './snapshot-job.ts'
import { purgeIfUnheld, purgeSnapshotPages } from './snapshot-purge.ts'

export async function createSnapshot(context: VolumeContext, volumeId: VolumeId, options: { description?: string } = {}): Promise<SnapshotInfo> {
  context.checkOpen()
  return context.locks.run(volumeId, async () => {
    const volume = await context.readVolume(volumeId)
    if (volume.state === 'deleting') throw new StoreError('INVALID_STATE', `Volume ${volumeId} is being deleted.`, { subject: 'volume' })
    const running = context.snapshots.get(volumeId)
    if (running !== undefined) {
      throw new StoreError('INVALID_STATE', `A snapshot of ${volumeId} (${running.job.snapshotId}) is still in progress; wait for it to complete.`, { subject: 'volume' })
    }
    const live = await context.live(volume)
    const id = newSnapshotId(context.options.random)
    const record: SnapshotRecord = {
      id,
      volumeId,
      sizeBytes: live.sizeBytes,
      keyDomain: volume.keyDomain,
      encrypted: volume.encrypted,
      state: 'pending',
      createdMs: context.options.clock.nowMs(),
      completedMs: null,
      parentSnapshotId: volume.baseSnapshotId,
      description: options.description ?? '',
      changedExtents: 0,
      dataExtents: 0,
      storedBytes: 0,
      error: null,
    }
    await context.meta.transact(async (tx) => {
      tx.put(snapshotKey(id), encodeSnapshotRecord(record))
    })
    // The instant: synchronous, right after the pending record is durable.
    const job = new SnapshotJob({
      snapshotId: id,
      volume: live,
      meta: context.meta,
      chunkStore: context.chunkStore,
      domain: domainOf(volume),
      everything: volume.rehashBase,
      signal: context.closing.signal,
      pagesPerTransaction: context.options.snapshotPagesPerTransaction,
    })
    const settled = runJob(context, live, job)
    context.snapshots.set(volumeId, { job, settled })
    void settled.finally(() => {
      if (context.snapshots.get(volumeId)?.job === job) context.snapshots.delete(volumeId)
    })
    context.log('snapshot.started', { snapshotId: id, volumeId, parentSnapshotId: record.parentSnapshotId })
    return snapshotInfo(record, { progress: job.progress, uniqueBytes: null })
  })
}

/** Run a job to completion or failure; never rejects. */
async function runJob(context: VolumeContext, live: LiveVolume, job: SnapshotJob): Promise<void> {
  let result: SnapshotJobResult
  try {
    result = await job.run()
  } catch (error) {
    await failSnapshot(context, live, job, error)
    return
  }
  try {
    await commitSnapshot(context, live, job, result)
  } catch (error) {
    await failSnapshot(context, live, job, error)
  }
}

async function commitSnapshot(context: VolumeContext, live: LiveVolume, job: SnapshotJob, result: SnapshotJobResult): Promise<void> {
  const { clock } = context.options
  const oldBase = await context.meta.transact(async (tx) => {
    const snapshot = await context.readSnapshot(job.snapshotId, tx)
    const volume = await context.readVolume(live.id, tx)
    if (snapshot.state !== 'pending') throw new TypeError(`snapshot ${job.snapshotId} is ${snapshot.state} at commit`)
    tx.put(snapshotKey(snapshot.id), encodeSnapshotRecord({
      ...snapshot,
      state: 'completed',
      completedMs: clock.nowMs(),
      changedExtents: result.changedExtents,
      dataExtents: result.dataExtents,
      storedBytes: result.storedBytes,
    }))
    tx.put(volumeKey(volume.id), encodeVolumeRecord({ ...volume, baseSnapshotId: snapshot.id, rehashBase: false }))
    tx.put(holdKey(snapshot.id, volume.id), Buffer.alloc(0))
    if (volume.baseSnapshotId !== null) tx.delete(holdKey(volume.baseSnapshotId, volume.id))
    live.map.clearDurableDirty(tx, result.frozen)
    return volume.baseSnapshotId
  })
  live.setBase(context.manifestReader(job.snapshotId))
  live.unfreeze(job)
  context.log('snapshot.completed', { snapshotId: job.snapshotId, volumeId: live.id, changedExtents: result.changedExtents, storedBytes: result.storedBytes })
  if (oldBase !== null) await purgeIfUnheld(context, oldBase).catch((error: unknown) => context.log('snapshot.purge-failed', { snapshotId: oldBase, message: (error as Error).message }))
}

async function failSnapshot(context: VolumeContext, live: LiveVolume, job: SnapshotJob, error: unknown): Promise<void> {
  live.map.restoreDirty(job.frozenExtents)
  live.unfreeze(job)
  if (!isStoreError(error)) {
    // A bug: report it (main/ exits on bugs); the record still says what happened.
    context.options.onBug?.(error instanceof Error ? error : new TypeError(String(error)))
  }
  // Closing: the pending record stays and recovery handles it at the next open.
  if (context.closing.signal.aborted) return
  const message = (error as Error).message
  context.log('snapshot.failed', { snapshotId: job.snapshotId, volumeId: live.id, message })
  try {
    await context.meta.transact(async (tx) => {
      const snapshot = await context.readSnapshot(job.snapshotId, tx)
      tx.put(snapshotKey(snapshot.id), encodeSnapshotRecord({ ...snapshot, state: 'error', error: message }))
    })
    await purgeSnapshotPages(context, job.snapshotId)
  } catch (cleanupError) {
    context.log('snapshot.cleanup-failed', { snapshotId: job.snapshotId, message: (cleanupError as Error).message })
  }
}

/** Wait until a snapshot is no longer pending (or the signal fires). */
export async function waitForSnapshot(context: VolumeContext, id: SnapshotId, signal?: AbortSignal): Promise<SnapshotInfo> {
  const record = await context.readSnapshot(id)
  const running = context.snapshots.get(record.volumeId)
  if (running?.job.snapshotId === id) {
    await (signal === undefined ? running.settled : Promise.race([running.settled, abortedPromise(signal)]))
  }
  return describeSnapshot(context, id, { unique: false })
}

function abortedPromise(signal: AbortSignal): Promise<never> {
  return new Promise((_, reject) => {
    const fail = (): void => reject(new StoreError('ABORTED', 'wait aborted', { cause: signal.reason }))
    if (signal.aborted) fail()
    else signal.addEventListener('abort', fail, { once: true })
  })
}

function progressOf(context: VolumeContext, record: SnapshotRecord): number | undefined {
  const running = context.snapshots.get(record.volumeId)
  return running?.job.snapshotId === record.id ? running.job.progress : undefined
}

export async function describeSnapshot(context: VolumeContext, id: SnapshotId, options = { unique: true }): Promise<SnapshotInfo> {
  context.checkOpen()
  const record = await context.readSnapshot(id)
  if (record.state === 'deleted') throw new StoreError('NOT_FOUND', `The snapshot '${id}' does not exist.`, { subject: 'snapshot' })
  const uniqueBytes = options.unique && record.state === 'completed' ? await uniqueBytesOf(context, record) : null
  return snapshotInfo(record, { progress: progressOf(context, record), uniqueBytes })
}

export async function listSnapshots(context: VolumeContext, filter: { volumeId?: VolumeId } = {}): Promise<SnapshotInfo[]> {
  context.checkOpen()
  const records = await context.meta.read(async (tx) => {
    const found: SnapshotRecord[] = []
    for await (const entry of scanAll(tx, snapshotRange)) {
      const record = decodeSnapshotRecord(entry.value, decodeKey(entry.key)[2] as SnapshotId)
      if (record.state === 'deleted' || (filter.volumeId !== undefined && record.volumeId !== filter.volumeId)) continue
      found.push(record)
    }
    return found
  })
  records.sort((a, b) => a.createdMs - b.createdMs || a.id.localeCompare(b.id))
  return records.map((record) => snapshotInfo(record, { progress: progressOf(context, record), uniqueBytes: null }))
}

/** Bytes of the snapshot's chunks that nothing else references (what deleting it would free). */
async function uniqueBytesOf(context: VolumeContext, record: SnapshotRecord): Promise<number> {
  const reader = context.manifestReader(record.id)
  const extentCount = record.sizeBytes / volumeLimits.extentBytes
  let unique = 0
  for (let page = 0; page < manifestPageCount(extentCount); page += 1) {
    const entries = await reader.page(page)
    if (entries === undefined) continue
    const occurrences = new Map<string, { id: ChunkId; times: number }>()
    for (const id of entries) {
      if (id === null) continue
      const hex = id.toString('hex')
      const seen = occurrences.get(hex)
      if (seen === undefined) occurrences.set(hex, { id, times: 1 })
      else seen.times += 1
    }
    // Per page is exact when a chunk repeats only within a page; across pages it undercounts
    // uniqueness (a zero-like chunk repeated everywhere), never overcounts.
    const counts = await context.meta.read((tx) => Promise.all([...occurrences.values()].map(({ id }) => context.chunkStore.refCount(tx, id))))
    ;[...occurrences.values()].forEach(({ times }, index) => {
      if (counts[index] === times) unique += times * volumeLimits.extentBytes
    })
  }
  return unique
}

export async function deleteSnapshot(context: VolumeContext, id: SnapshotId): Promise<void> {
  context.checkOpen()
  const record = await context.readSnapshot(id)
  if (record.state === 'deleted') throw new StoreError('NOT_FOUND', `The snapshot '${id}' does not exist.`, { subject: 'snapshot' })
  if (record.state === 'pending') throw new StoreError('INVALID_STATE', `Snapshot ${id} is still pending; wait for it to complete.`, { subject: 'snapshot' })
  if (context.connectionsOf(id) > 0) throw new StoreError('INVALID_STATE', `Snapshot ${id} is exported to an NBD client; disconnect it first.`, { subject: 'snapshot' })
  await context.meta.transact(async (tx) => {
    const current = await context.readSnapshot(id, tx)
    tx.put(snapshotKey(id), encodeSnapshotRecord({ ...current, state: 'deleted' }))
  })
  const purged = await purgeIfUnheld(context, id)
  context.log('snapshot.deleted', { snapshotId: id, retainedForVolumes: !purged })
}

export interface ChangedBlocks {
  firstSnapshotId: SnapshotId
  secondSnapshotId: SnapshotId
  blockSizeBytes: number
  volumeSizeBytes: number
  /** Coalesced runs of changed blocks. */
  ranges: Array<{ offsetBytes: number; lengthBytes: number }>
  changedBlocks: number
  /** Continue from this block index for more (null: done). */
  nextBlockIndex: number | null
}

export interface DiffOptions {
  startBlockIndex?: number
  maxResults?: number
}

const diffMaxResultsMax = 1_000_000

/** Blocks (extents) whose content differs between two snapshots of one key domain. */
export async function diffSnapshots(context: VolumeContext, firstId: SnapshotId, secondId: SnapshotId, options: DiffOptions = {}): Promise<ChangedBlocks> {
  context.checkOpen()
  const [first, second] = await Promise.all([context.readSnapshot(firstId), context.readSnapshot(secondId)])
  for (const record of [first, second]) {
    if (record.state !== 'completed') throw new StoreError(record.state === 'deleted' ? 'NOT_FOUND' : 'INVALID_STATE', `Snapshot ${record.id} is ${record.state === 'deleted' ? 'deleted' : record.state}.`, { subject: 'snapshot' })
  }
  if (first.keyDomain !== second.keyDomain) {
    throw new StoreError('INVALID_ARGUMENT', `Snapshots ${firstId} and ${secondId} are not of the same volume lineage (different encryption keys); their blocks cannot be compared.`, { subject: 'snapshot' })
  }
  const maxResults = options.maxResults ?? 100_000
  const start = options.startBlockIndex ?? 0
  if (!Number.isSafeInteger(maxResults) || maxResults < 1 || maxResults > diffMaxResultsMax) throw new StoreError('INVALID_ARGUMENT', `maxResults must be 1..${diffMaxResultsMax}`)
  if (!Number.isSafeInteger(start) || start < 0) throw new StoreError('INVALID_ARGUMENT', 'startBlockIndex must be a non-negative integer')
  const extentCount = Math.max(first.sizeBytes, second.sizeBytes) / volumeLimits.extentBytes
  const result = await compareManifests(context.manifestReader(firstId), context.manifestReader(secondId), extentCount, start, maxResults)
  return { firstSnapshotId: firstId, secondSnapshotId: secondId, blockSizeBytes: volumeLimits.extentBytes, volumeSizeBytes: extentCount * volumeLimits.extentBytes, ...result }
}

async function compareManifests(first: ManifestReader, second: ManifestReader, extentCount: number, start: number, maxResults: number) {
  const extentBytes = volumeLimits.extentBytes
  const pageExtents = volumeLimits.manifestPageExtents
  const ranges: Array<{ offsetBytes: number; lengthBytes: number }> = []
  let changedBlocks = 0
  for (let page = Math.floor(start / pageExtents); page < manifestPageCount(extentCount); page += 1) {
    const [a, b] = await Promise.all([first.page(page), second.page(page)])
    for (let index = 0; index < pageExtents; index += 1) {
      const extent = page * pageExtents + index
      if (extent < start) continue
      if (extent >= extentCount) break
      const left = a?.[index] ?? null
      const right = b?.[index] ?? null
      if (left === right || (left !== null && right !== null && left.equals(right))) continue
      if (changedBlocks === maxResults) return { ranges, changedBlocks, nextBlockIndex: extent }
      changedBlocks += 1
      const last = ranges.at(-1)
      if (last !== undefined && last.offsetBytes + last.lengthBytes === extent * extentBytes) last.lengthBytes += extentBytes
      else ranges.push({ offsetBytes: extent * extentBytes, lengthBytes: extentBytes })
    }
  }
  return { ranges, changedBlocks, nextBlockIndex: null }
}

/** Snapshot ids held by a volume (its base); for tests and recovery. */
export async function holdersOf(context: VolumeContext, id: SnapshotId): Promise<VolumeId[]> {
  return context.meta.read(async (tx) => (await tx.scan({ ...holdRange(id), limit: 1000 })).map((entry) => decodeKey(entry.key)[3] as VolumeId))
}
