// Compaction and tier moves: both copy frames byte for byte (no re-encode, the id never
// changes) into a tier's pack writer, which switches a chunk's location only if it still points
// at the copied frame (pack-catalog.ts indexFrames), so GC, other copies and reads can run
// alongside.
//
// Contract: compact() rewrites the live frames of sealed packs whose live fraction is below
// limits.compactLiveFractionMax, then deletes each emptied pack: record first (in a transaction
// that re-checks it has no live chunks), then the file, then fsync(dir). Sealed packs with no
// live chunks are deleted directly. moveToTier() copies chunks into the target tier and leaves
// the dead frames behind for compaction.
// Never: copy a frame that fails its CRC (it is reported and left where it is, so its pack
// stays); delete a pack a location still points into; touch an open (unsealed) pack.
import { dirname } from 'node:path'
import { chunkIdHex, limits, StoreError, throwIfAborted, type ChunkId, type PackId } from '../lib/index.ts'
import { scanAll } from '../meta/index.ts'
import { decodeLocation, decodePackRecord, locationKey, packKey, packRange, sameLocation, type Location, type PackRecord, type Tier } from './location.ts'
import { packIdOfKey } from './pack-catalog.ts'
import { readSealedIndex } from './pack-reader.ts'
import { frameBytesOf } from './pack-format.ts'
import { checkRawFrame } from './store-codec.ts'
import { readRawFrame, type StoreContext } from './store-context.ts'

export interface CompactReport {
  packsCompacted: number
  /** Bytes of pack files deleted minus bytes of frames copied elsewhere. */
  bytesReclaimed: number
  /** Live frames copied into newer packs. */
  framesCopied: number
}

export interface MoveReport {
  movedChunks: number
  movedBytes: number
  alreadyInTier: number
  /** Ids without a location (never stored or collected): nothing to move. */
  missing: number
}

/** Chunks looked up and copied per step (bounds memory and the writer queue share). */
const copyGroupChunksMax = 256

export async function compactPacks(context: StoreContext, options: { signal?: AbortSignal } = {}): Promise<CompactReport> {
  const report: CompactReport = { packsCompacted: 0, bytesReclaimed: 0, framesCopied: 0 }
  for (const [packId, record] of await compactionCandidates(context)) {
    throwIfAborted(options.signal)
    let copiedBytes = 0
    if (record.liveChunks > 0) {
      const copied = await copyLiveFrames(context, packId, record.tier, options.signal)
      report.framesCopied += copied.frames
      copiedBytes = copied.bytes
    }
    const deletedBytes = await deletePackIfEmpty(context, packId, record.tier)
    if (deletedBytes === undefined) continue
    report.packsCompacted += 1
    report.bytesReclaimed += deletedBytes - copiedBytes
  }
  context.counters.compactedPacks += report.packsCompacted
  context.counters.compactReclaimedBytes += report.bytesReclaimed
  if (report.packsCompacted > 0) context.log('compact.done', { ...report })
  return report
}

async function compactionCandidates(context: StoreContext): Promise<Array<[PackId, PackRecord]>> {
  return context.meta.read(async (tx) => {
    const candidates: Array<[PackId, PackRecord]> = []
    for await (const entry of scanAll(tx, packRange)) {
      const packId = packIdOfKey(entry.key)
      const record = decodePackRecord(entry.value, packId)
      if (record.state !== 'sealed') continue
      const sparse = record.frameBytes === 0 || record.liveBytes / record.frameBytes < limits.compactLiveFractionMax
      if (record.liveChunks === 0 || sparse) candidates.push([packId, record])
    }
    return candidates
  })
}

/** Copy the frames of a sealed pack that locations still point at; returns what was copied. */
async function copyLiveFrames(context: StoreContext, packId: PackId, tier: Tier, signal: AbortSignal | undefined): Promise<{ frames: number; bytes: number }> {
  const path = context.catalog.packPath(packId, tier)
  const index = await context.handles.withHandle(path, async (handle) => readSealedIndex(handle, await handle.sizeBytes()))
  if (index === undefined) {
    context.log('compact.skipped', { packId, reason: 'the pack is marked sealed but its index does not check out' })
    return { frames: 0, bytes: 0 }
  }
  const copied = { frames: 0, bytes: 0 }
  for (let start = 0; start < index.entries.length; start += copyGroupChunksMax) {
    throwIfAborted(signal)
    const group = index.entries.slice(start, start + copyGroupChunksMax)
    const stored = await context.meta.read((tx) => tx.getMany(group.map(({ id }) => locationKey(id))))
    const live = group.flatMap((entry, at) => {
      const bytes = stored[at]
      const location = bytes === undefined ? undefined : decodeLocation(bytes, entry.id)
      return location !== undefined && sameLocation(location, { ...entry, packId }) ? [{ id: entry.id, location }] : []
    })
    const results = await Promise.allSettled(live.map(({ id, location }) => copyFrame(context, id, location, tier)))
    results.forEach((result, at) => {
      const { id, location } = live[at] as { id: ChunkId; location: Location }
      if (result.status === 'rejected') {
        context.log('compact.frame-left', { packId, id: chunkIdHex(id), offset: location.offset, message: String(result.reason) })
      } else if (result.value) {
        copied.frames += 1
        copied.bytes += frameBytesOf(location.storedBytes)
      }
    })
  }
  return copied
}

/** Copy one located frame into tier's writer; true when the chunk now lives in the copy. */
async function copyFrame(context: StoreContext, id: ChunkId, location: Location, tier: Tier): Promise<boolean> {
  const info = { ...location, id }
  const { frame, path } = await readRawFrame(context, id, location)
  const reason = checkRawFrame(frame, info)
  if (reason !== undefined) {
    context.counters.corrupt += 1
    throw new StoreError('CHUNK_CORRUPT', `chunk ${chunkIdHex(id)} in pack ${path} at offset ${location.offset}: ${reason}`)
  }
  const appended = await context.writers[tier].append({ info, parts: [frame], frameBytes: frame.length }, location)
  return appended.indexed
}

/** Delete a sealed pack with no live chunks: record, then file, then fsync(dir). Returns its size. */
async function deletePackIfEmpty(context: StoreContext, packId: PackId, tier: Tier): Promise<number | undefined> {
  const deleted = await context.meta.transact(async (tx) => {
    const stored = await tx.get(packKey(packId))
    if (stored === undefined) return false
    const record = decodePackRecord(stored, packId)
    if (record.liveChunks !== 0 || record.state !== 'sealed') return false
    tx.delete(packKey(packId))
    return true
  })
  if (!deleted) return undefined
  context.catalog.packs.delete(packId)
  const path = context.catalog.packPath(packId, tier)
  const sizeBytes = (await context.io.sizeBytesOf(path)) ?? 0
  await context.handles.forget(path)
  await context.io.unlink(path)
  await context.io.syncDir(dirname(path))
  context.log('pack.deleted', { packId, tier, sizeBytes })
  return sizeBytes
}

export async function moveChunksToTier(context: StoreContext, ids: readonly ChunkId[], tier: Tier, options: { signal?: AbortSignal } = {}): Promise<MoveReport> {
  const report: MoveReport = { movedChunks: 0, movedBytes: 0, alreadyInTier: 0, missing: 0 }
  for (let start = 0; start < ids.length; start += copyGroupChunksMax) {
    throwIfAborted(options.signal)
    const group = ids.slice(start, start + copyGroupChunksMax)
    const stored = await context.meta.read((tx) => tx.getMany(group.map(locationKey)))
    const toCopy: Array<{ id: ChunkId; location: Location }> = []
    for (const [at, id] of group.entries()) {
      const bytes = stored[at]
      if (bytes === undefined) {
        report.missing += 1
        continue
      }
      const location = decodeLocation(bytes, id)
      if ((await context.catalog.tierOf(location.packId)) === tier) report.alreadyInTier += 1
      else toCopy.push({ id, location })
    }
    // Settle every copy before rejecting, so no chunk changes tier after moveToTier returned.
    const results = await Promise.allSettled(toCopy.map(({ id, location }) => copyFrame(context, id, location, tier)))
    let failure: unknown
    results.forEach((result, at) => {
      if (result.status === 'rejected') failure ??= result.reason
      else if (result.value) {
        report.movedChunks += 1
        report.movedBytes += (toCopy[at] as { location: Location }).location.storedBytes
      } // else moved or collected meanwhile
    })
    if (failure !== undefined) {
      context.counters.movedChunks += report.movedChunks
      throw failure
    }
  }
  context.counters.movedChunks += report.movedChunks
  return report
}
