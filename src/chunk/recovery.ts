// Recovery at open and the offline index rebuild (docs/format/pack.md 1.5).
//
// Recovery: every pack whose record is still `open` (the writer's pack at a crash or close, a
// pack abandoned after an I/O error) and every pack file without a record is scanned: a valid
// trailer means the seal was written (use its index); otherwise frames are scanned from the
// header and the first bad or incomplete frame marks the torn tail, which is truncated (fsync).
// Valid frames without a location are indexed with refcount 0 and a GC entry (they were never
// acknowledged, or were garbage), the pack's accounting is recomputed from its frames, and the
// pack is sealed (or deleted when it holds no frames).
// Rebuild: drops every location and pack record and recreates them from the pack files alone;
// refcounts stay (they come from records above this layer); referenced chunks without a
// location afterwards are reported.
// Never: truncate bytes that metadata says were acknowledged (a bad frame inside the committed
// part of a pack is damage: reported, and the pack left untouched); delete a pack file that
// still has frames.
import { dirname } from 'node:path'
import { writevAll, type FileHandle } from '../io/index.ts'
import { chunkIdHex, type ChunkId, type PackId } from '../lib/index.ts'
import { scanAll, type WriteTx } from '../meta/index.ts'
import {
  decodeCounter,
  decodeLocation,
  encodeCounter,
  encodeLocation,
  encodePackRecord,
  gcKey,
  locationKey,
  locationRange,
  packCounterKey,
  packKey,
  packRange,
  tiers,
  type Location,
  type PackRecord,
  type Tier,
} from './location.ts'
import { frameBytesOf, encodeSeal, packHeaderBytes, packIdFromFileName, type IndexEntry } from './pack-format.ts'
import { readPackHeader, readSealedIndex, scanFrames } from './pack-reader.ts'
import { armGc, decodeRef, idOfRefKey, refKey, refRange } from './refs.ts'
import type { StoreContext } from './store-context.ts'

export interface RecoveredPack {
  packId: number
  tier: Tier
  /** Bytes cut off the torn tail. */
  truncatedBytes: number
  tornReason: string | undefined
  frames: number
  /** Frames that had no location and were indexed now (as GC candidates). */
  framesIndexed: number
  adopted: boolean
  sealed: boolean
}

export interface RecoveryReport {
  packs: RecoveredPack[]
  /** Packs removed: a record without a file, or a file without frames. */
  dropped: Array<{ packId: number; tier: Tier; reason: string }>
  /** Packs left untouched because they are damaged beyond a torn tail (see the log). */
  damaged: Array<{ packId: number; tier: Tier; reason: string }>
}

export interface RebuildReport {
  packs: number
  chunks: number
  /** Referenced chunks (refcount > 0) that have no location after the rebuild. */
  droppedLocations: number
  /** Hex ids of (up to 1000 of) those chunks. */
  missingChunkIds: string[]
  recovery: RecoveryReport
}

const indexBatchFrames = 1000
const missingIdsReportedMax = 1000

function emptyReport(): RecoveryReport {
  return { packs: [], dropped: [], damaged: [] }
}

export async function recoverPacks(context: StoreContext): Promise<RecoveryReport> {
  const report = emptyReport()
  const files = await listPackFiles(context)
  const recorded = new Map(context.catalog.packs)
  for (const [packId, record] of recorded) {
    if (record.state === 'open') await recoverPack(context, packId, record.tier, record, report)
  }
  for (const { packId, tier } of files) {
    if (!recorded.has(packId)) await recoverPack(context, packId, tier, undefined, report)
  }
  await movePackCounterPast(context, Math.max(0, ...recorded.keys(), ...files.map(({ packId }) => packId)))
  await context.catalog.load()
  if (report.packs.length + report.dropped.length + report.damaged.length > 0) context.log('recovery.done', report)
  return report
}

/** Pack files in the tier directories, newest first. */
async function listPackFiles(context: StoreContext): Promise<Array<{ packId: PackId; tier: Tier }>> {
  const files: Array<{ packId: PackId; tier: Tier }> = []
  for (const tier of tiers) {
    for (const entry of await context.io.readdir(context.catalog.tierPath(tier))) {
      const packId = entry.isFile ? packIdFromFileName(entry.name) : undefined
      if (packId !== undefined) files.push({ packId, tier })
    }
  }
  return files.sort((a, b) => b.packId - a.packId)
}

/** Recover one pack: an `open` record (record given) or a file without a record (adopted). */
async function recoverPack(context: StoreContext, packId: PackId, tier: Tier, record: PackRecord | undefined, report: RecoveryReport): Promise<void> {
  const path = context.catalog.packPath(packId, tier)
  const sizeBytes = await context.io.sizeBytesOf(path)
  if (sizeBytes === undefined) {
    // The record was written, the file never made it (or the store lost it).
    if (record !== undefined && record.liveChunks > 0) {
      report.damaged.push({ packId, tier, reason: `file missing, ${record.liveChunks} chunks point into it` })
      return
    }
    await context.meta.transact(async (tx) => tx.delete(packKey(packId)))
    report.dropped.push({ packId, tier, reason: 'record without a file' })
    return
  }
  const handle = await context.io.open(path, 'r+')
  let deleteFile = false
  try {
    deleteFile = await recoverOpenFile(context, handle, { packId, tier, record, sizeBytes }, report)
  } finally {
    await handle.close()
  }
  if (deleteFile) {
    await context.io.unlink(path)
    await context.io.syncDir(dirname(path))
  }
}

interface PackFile {
  packId: PackId
  tier: Tier
  record: PackRecord | undefined
  sizeBytes: number
}

/** Returns true when the file holds no frames and should be deleted (its record is gone). */
async function recoverOpenFile(context: StoreContext, handle: FileHandle, file: PackFile, report: RecoveryReport): Promise<boolean> {
  const { packId, tier, record, sizeBytes } = file
  const damaged = (reason: string): false => {
    report.damaged.push({ packId, tier, reason })
    return false
  }
  const header = await readPackHeader(handle)
  if (header === undefined) {
    // Only a creation that crashed before its header was fsynced leaves a short headerless file.
    if (sizeBytes > packHeaderBytes || (record?.liveChunks ?? 0) > 0) return damaged('bad pack header')
    await dropRecord(context, packId, report, tier, 'torn pack header, no frames')
    return true
  }
  if (header.packId !== packId) return damaged(`header names pack ${header.packId}`)
  if (header.hashAlgorithmCode !== context.hashAlgorithmCode) return damaged(`hash algorithm code ${header.hashAlgorithmCode} differs from the store's`)
  const sealed = await readSealedIndex(handle, sizeBytes)
  let entries: IndexEntry[]
  let framesEndBytes: number
  let truncatedBytes = 0
  let tornReason: string | undefined
  if (sealed !== undefined) {
    entries = sealed.entries
    framesEndBytes = sealed.indexOffset
  } else {
    const scan = await scanFrames(handle, sizeBytes)
    const committedEndBytes = packHeaderBytes + (record?.frameBytes ?? 0)
    if (scan.validEndBytes < committedEndBytes) return damaged(`bad frame inside acknowledged data: ${scan.tornReason}`)
    entries = scan.entries
    framesEndBytes = scan.validEndBytes
    tornReason = scan.tornReason
    if (framesEndBytes < sizeBytes) {
      await handle.truncate(framesEndBytes)
      await handle.sync()
      truncatedBytes = sizeBytes - framesEndBytes
    }
  }
  if (entries.length === 0 && (record?.liveChunks ?? 0) === 0) {
    await dropRecord(context, packId, report, tier, 'no frames')
    return true
  }
  const base: PackRecord = record ?? { tier, state: 'open', createdMs: header.createdMs, frameBytes: 0, liveBytes: 0, liveChunks: 0 }
  const counted = await indexPackFrames(context, packId, base, entries)
  let isSealed = sealed !== undefined
  if (!isSealed) isSealed = await sealRecovered(context, handle, packId, entries, framesEndBytes)
  await context.meta.transact(async (tx) => tx.put(packKey(packId), encodePackRecord({ ...counted.record, state: isSealed ? 'sealed' : 'open' })))
  report.packs.push({ packId, tier, truncatedBytes, tornReason, frames: entries.length, framesIndexed: counted.indexed, adopted: record === undefined, sealed: isSealed })
  return false
}

async function dropRecord(context: StoreContext, packId: PackId, report: RecoveryReport, tier: Tier, reason: string): Promise<void> {
  await context.meta.transact(async (tx) => tx.delete(packKey(packId)))
  report.dropped.push({ packId, tier, reason })
}

async function sealRecovered(context: StoreContext, handle: FileHandle, packId: PackId, entries: IndexEntry[], framesEndBytes: number): Promise<boolean> {
  try {
    await writevAll(handle, encodeSeal(entries, framesEndBytes), framesEndBytes)
    await handle.sync()
    return true
  } catch (error) {
    // The frames are indexed and readable; the seal is retried at the next open.
    context.log('recovery.seal-failed', { packId, message: String(error) })
    return false
  }
}

/**
 * Walk a pack's frames in batches: point frames without a location at this pack (as GC
 * candidates), and recompute the pack's frame/live accounting from what points into it.
 * The record exists first (an adopted pack gets one, and the pack counter moves past its id).
 */
async function indexPackFrames(context: StoreContext, packId: PackId, base: PackRecord, entries: readonly IndexEntry[]): Promise<{ record: PackRecord; indexed: number }> {
  await context.meta.transact((tx) => ensureRecord(tx, packId, base))
  const totals = { frameBytes: 0, liveBytes: 0, liveChunks: 0, indexed: 0 }
  const seen = new Map<string, Location>()
  const nowMs = context.clock.nowMs()
  for (let start = 0; start < entries.length; start += indexBatchFrames) {
    const batch = entries.slice(start, start + indexBatchFrames)
    const added = await context.meta.transact((tx) => indexBatch(tx, packId, batch, seen, nowMs))
    totals.frameBytes += added.frameBytes
    totals.liveBytes += added.liveBytes
    totals.liveChunks += added.liveChunks
    totals.indexed += added.indexed
  }
  const { indexed, ...accounting } = totals
  return { record: { ...base, ...accounting }, indexed }
}

/** Pack ids are never reused: the counter stays at or above every id a record or file used. */
async function movePackCounterPast(context: StoreContext, packId: number): Promise<void> {
  await context.meta.transact(async (tx) => {
    if (decodeCounter(await tx.get(packCounterKey)) < packId) tx.put(packCounterKey, encodeCounter(packId))
  })
}

async function ensureRecord(tx: WriteTx, packId: PackId, base: PackRecord): Promise<void> {
  if ((await tx.get(packKey(packId))) !== undefined) return
  tx.put(packKey(packId), encodePackRecord({ ...base, frameBytes: 0, liveBytes: 0, liveChunks: 0 }))
  const last = decodeCounter(await tx.get(packCounterKey))
  if (last < packId) tx.put(packCounterKey, encodeCounter(packId))
}

async function indexBatch(tx: WriteTx, packId: PackId, batch: readonly IndexEntry[], seen: Map<string, Location>, nowMs: number) {
  const locations = await tx.getMany(batch.map(({ id }) => locationKey(id)))
  const refs = await tx.getMany(batch.map(({ id }) => refKey(id)))
  const added = { frameBytes: 0, liveBytes: 0, liveChunks: 0, indexed: 0 }
  batch.forEach((entry, at) => {
    const frameBytes = frameBytesOf(entry.storedBytes)
    added.frameBytes += frameBytes
    const hex = chunkIdHex(entry.id)
    const stored = locations[at]
    const current = seen.get(hex) ?? (stored === undefined ? undefined : decodeLocation(stored, entry.id))
    if (current === undefined) {
      const location: Location = { packId, offset: entry.offset, storedBytes: entry.storedBytes, plainBytes: entry.plainBytes, codec: entry.codec, domain: entry.domain }
      tx.put(locationKey(entry.id), encodeLocation(location))
      const ref = refs[at]
      armGc(tx, entry.id, ref === undefined ? undefined : decodeRef(ref, entry.id), nowMs)
      seen.set(hex, location)
      added.indexed += 1
    } else if (current.packId !== packId || current.offset !== entry.offset) {
      return // a dead copy: the chunk lives in another frame
    }
    added.liveBytes += frameBytes
    added.liveChunks += 1
  })
  return added
}

/** Offline: recreate every location and pack record from the pack files. */
export async function rebuildIndex(context: StoreContext): Promise<RebuildReport> {
  await deleteRange(context, locationRange)
  await deleteRange(context, packRange)
  context.catalog.packs.clear()
  const recovery = emptyReport()
  for (const { packId, tier } of await listPackFiles(context)) await recoverPack(context, packId, tier, undefined, recovery)
  await context.catalog.load()
  const result = await checkRefs(context)
  const chunks = await countRange(context, locationRange)
  const report: RebuildReport = { packs: context.catalog.packs.size, chunks, ...result, recovery }
  context.log('rebuild.done', { packs: report.packs, chunks, droppedLocations: report.droppedLocations })
  return report
}

async function deleteRange(context: StoreContext, range: { gt: Buffer; lt: Buffer }): Promise<void> {
  for (;;) {
    const deleted = await context.meta.transact(async (tx) => {
      const page = await tx.scan({ ...range, limit: indexBatchFrames })
      for (const entry of page) tx.delete(entry.key)
      return page.length
    })
    if (deleted < indexBatchFrames) return
  }
}

async function countRange(context: StoreContext, range: { gt: Buffer; lt: Buffer }): Promise<number> {
  return context.meta.read(async (tx) => {
    let count = 0
    for await (const _ of scanAll(tx, range)) count += 1
    return count
  })
}

/** Drop zero-ref records of chunks that no longer exist; report referenced chunks without a location. */
async function checkRefs(context: StoreContext): Promise<{ droppedLocations: number; missingChunkIds: string[] }> {
  const result = { droppedLocations: 0, missingChunkIds: [] as string[] }
  let after: Buffer | undefined
  for (;;) {
    const range = after === undefined ? refRange : { gt: after, lt: refRange.lt }
    const page = await context.meta.transact(async (tx) => {
      const entries = await tx.scan({ ...range, limit: indexBatchFrames })
      const ids = entries.map((entry) => idOfRefKey(entry.key))
      const locations = await tx.getMany(ids.map(locationKey))
      entries.forEach((entry, at) => {
        if (locations[at] !== undefined) return
        const id = ids[at] as ChunkId
        const ref = decodeRef(entry.value, id)
        if (ref.count === 0) {
          // Collected (or never stored): its queue entry has nothing left to collect.
          tx.delete(entry.key)
          tx.delete(gcKey(ref.zeroSinceMs, id))
          return
        }
        result.droppedLocations += 1
        if (result.missingChunkIds.length < missingIdsReportedMax) result.missingChunkIds.push(chunkIdHex(id))
      })
      return entries
    })
    const last = page.at(-1)
    if (last === undefined || page.length < indexBatchFrames) return result
    after = last.key
  }
}
