// Scrub: read and fully verify every located chunk (frame checks, CRC, decrypt, decompress,
// re-hash), and check that every pack file the metadata names exists.
//
// Contract: reports corruption instead of throwing; throws only for its own failures (ABORTED
// between pages, CLOSED, metadata errors). Memory is bounded by one page of locations and
// limits.scrubConcurrencyMax chunks being verified. Each page is its own snapshot read, so a
// chunk moved or collected while the scrub runs is re-checked at its new location or skipped,
// never reported as corrupt.
// Never: repair or delete anything (there is no second copy yet: it only reports).
import { chunkIdFrom, chunkIdHex, isStoreError, limits, throwIfAborted, type ChunkId, type PackId } from '../lib/index.ts'
import { decodeKey, scanAll, type Entry } from '../meta/index.ts'
import { decodeLocation, decodePackRecord, locationRange, packKey, packRange, sameLocation, type Location } from './location.ts'
import { packIdOfKey } from './pack-catalog.ts'
import { readLocation, readVerifiedAt, type StoreContext } from './store-context.ts'

export interface ScrubProgress {
  checkedChunks: number
  checkedBytes: number
}

export interface ScrubOptions {
  signal?: AbortSignal
  onProgress?: (progress: ScrubProgress) => void
}

export interface ScrubCorruption {
  id: string
  packId: number
  offset: number
  reason: string
}

export interface ScrubReport extends ScrubProgress {
  corrupt: ScrubCorruption[]
  /** Packs with a record but no file. */
  missingPacks: number[]
}

const scrubPageChunks = 1000

export async function scrubChunks(context: StoreContext, options: ScrubOptions = {}): Promise<ScrubReport> {
  const report: ScrubReport = { checkedChunks: 0, checkedBytes: 0, corrupt: [], missingPacks: await missingPackFiles(context) }
  let after: Buffer | undefined
  for (;;) {
    throwIfAborted(options.signal)
    const range = after === undefined ? locationRange : { gt: after, lt: locationRange.lt }
    const page = await context.meta.read((tx) => tx.scan({ ...range, limit: scrubPageChunks }))
    await forEachBounded(page, limits.scrubConcurrencyMax, (entry) => checkChunk(context, entry, report))
    options.onProgress?.({ checkedChunks: report.checkedChunks, checkedBytes: report.checkedBytes })
    const last = page.at(-1)
    if (last === undefined || page.length < scrubPageChunks) break
    after = last.key
  }
  context.log('scrub.done', { checkedChunks: report.checkedChunks, corrupt: report.corrupt.length, missingPacks: report.missingPacks.length })
  return report
}

async function checkChunk(context: StoreContext, entry: Entry, report: ScrubReport): Promise<void> {
  const id = idOfLocationKey(entry.key)
  let location: Location | undefined = decodeLocation(entry.value, id)
  for (let attempt = 0; location !== undefined && attempt < 3; attempt += 1) {
    try {
      await readVerifiedAt(context, id, location)
      report.checkedChunks += 1
      report.checkedBytes += location.plainBytes
      return
    } catch (error) {
      if (!isStoreError(error)) throw error
      // Moved (compaction, tier move) or collected since the page was read: check it again there.
      const now = await readLocation(context, id)
      if (now === undefined) return
      if (!sameLocation(now, location)) {
        location = now
        continue
      }
      report.checkedChunks += 1
      report.checkedBytes += location.plainBytes
      report.corrupt.push({ id: chunkIdHex(id), packId: location.packId, offset: location.offset, reason: error.message })
      return
    }
  }
}

function idOfLocationKey(encoded: Buffer): ChunkId {
  const id = decodeKey(encoded)[2]
  if (!(id instanceof Uint8Array)) throw new TypeError('location keys are (chunk, loc, id)')
  return chunkIdFrom(id)
}

async function missingPackFiles(context: StoreContext): Promise<number[]> {
  const records = await context.meta.read(async (tx) => {
    const found: Array<{ packId: number; path: string }> = []
    for await (const entry of scanAll(tx, packRange)) {
      const packId = packIdOfKey(entry.key)
      found.push({ packId, path: context.catalog.packPath(packId, decodePackRecord(entry.value, packId).tier) })
    }
    return found
  })
  const missing: number[] = []
  for (const { packId, path } of records) {
    if ((await context.io.sizeBytesOf(path)) !== undefined) continue
    // Compaction may have deleted it since the records were read: missing only if still recorded.
    if ((await context.meta.read((tx) => tx.get(packKey(packId as PackId)))) !== undefined) missing.push(packId)
  }
  return missing
}

/** Run fn over items with at most `concurrency` running at once. */
async function forEachBounded<T>(items: readonly T[], concurrency: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const item = items[next] as T
      next += 1
      await fn(item)
    }
  }
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker))
}
