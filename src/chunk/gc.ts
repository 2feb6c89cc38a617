// Garbage collection: drop the locations of chunks whose refcount stayed 0 for the grace period.
//
// Contract: scans the GC queue in time order, in batches of limits.gcBatchChunksMax, ONE
// transaction per batch. In that transaction an entry is collected only if the chunk's refcount
// record still says count 0 with the entry's zero-since time (so a re-reference or a re-armed
// entry wins) and that time is older than the grace period; the location, refcount record and
// entry go, and the pack loses the frame's live bytes. Stale entries are deleted. Pack files are
// not touched here: compaction reclaims the space.
// A chunk a writer holds (hold.ts) is not collected: its grace period restarts instead.
// Never: collect a chunk with references, one whose grace period was restarted, or a held one.
import { chunkIdFrom, limits, throwIfAborted, type ChunkId } from '../lib/index.ts'
import { decodeKey, type Entry, type WriteTx } from '../meta/index.ts'
import { decodeLocation, gcDueRange, locationKey } from './location.ts'
import { PackDeltas } from './pack-catalog.ts'
import { armGc, decodeRef, refKey } from './refs.ts'
import type { StoreContext } from './store-context.ts'

export interface GcReport {
  collectedChunks: number
  /** Stored bytes (payload) of the collected chunks: space compaction can reclaim. */
  collectedBytes: number
}

export async function collectGarbage(context: StoreContext, options: { signal?: AbortSignal } = {}): Promise<GcReport> {
  const report: GcReport = { collectedChunks: 0, collectedBytes: 0 }
  // Fixed at the start so the walk ends even while new entries keep arriving.
  const dueBeforeMs = context.clock.nowMs() - context.gcGraceMs + 1
  if (dueBeforeMs <= 0) return report
  for (;;) {
    throwIfAborted(options.signal)
    let deltas = new PackDeltas()
    const batch = await context.meta.transact(async (tx) => {
      deltas = new PackDeltas()
      const page = await tx.scan({ ...gcDueRange(dueBeforeMs), limit: limits.gcBatchChunksMax })
      const collected = await collectPage(context, tx, page, deltas)
      await deltas.write(tx)
      // A page of nothing but held chunks ends the run: with a zero grace period their re-armed
      // entries would be due again at once.
      return { ...collected, more: page.length === limits.gcBatchChunksMax && collected.rearmed < page.length }
    })
    context.catalog.applyToMirror(deltas)
    report.collectedChunks += batch.chunks
    report.collectedBytes += batch.bytes
    if (!batch.more) break
  }
  context.counters.gcCollectedChunks += report.collectedChunks
  context.counters.gcCollectedBytes += report.collectedBytes
  if (report.collectedChunks > 0) context.log('gc.collected', { ...report })
  return report
}

function parseEntry(entry: Entry): { zeroSinceMs: number; id: ChunkId } {
  const [, , zeroSinceMs, id] = decodeKey(entry.key)
  if (typeof zeroSinceMs !== 'number' || !(id instanceof Uint8Array)) throw new TypeError('GC queue keys are (chunk, gc, ms, id)')
  return { zeroSinceMs, id: chunkIdFrom(id) }
}

async function collectPage(context: StoreContext, tx: WriteTx, page: readonly Entry[], deltas: PackDeltas): Promise<{ chunks: number; bytes: number; rearmed: number }> {
  const entries = page.map(parseEntry)
  const refs = await tx.getMany(entries.map(({ id }) => refKey(id)))
  const locations = await tx.getMany(entries.map(({ id }) => locationKey(id)))
  let chunks = 0
  let bytes = 0
  let rearmed = 0
  entries.forEach(({ zeroSinceMs, id }, at) => {
    tx.delete((page[at] as Entry).key)
    const stored = refs[at]
    const ref = stored === undefined ? undefined : decodeRef(stored, id)
    // A stale entry: re-referenced, or its grace period restarted with a newer entry.
    if (ref === undefined || ref.count !== 0 || ref.zeroSinceMs !== zeroSinceMs) return
    if (context.held.has(id)) {
      armGc(tx, id, ref, context.clock.nowMs())
      rearmed += 1
      return
    }
    tx.delete(refKey(id))
    const storedLocation = locations[at]
    if (storedLocation === undefined) return
    const location = decodeLocation(storedLocation, id)
    tx.delete(locationKey(id))
    deltas.addLocation(location, -1)
    chunks += 1
    bytes += location.storedBytes
  })
  return { chunks, bytes, rearmed }
}
