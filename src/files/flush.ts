// Flushing a file's buffered writes (docs/format/files.md 5.1): chunk the buffered runs with
// content-defined chunking, put the chunks, then ONE metadata transaction inserts the extents,
// updates size, allocated bytes, times and change, and moves chunk counts and references.
//
// Modes: 'all' stores everything (commit, close, stable writes, truncate); 'cut' (memory
// pressure) stores only the chunks the chunker has cut in runs near the buffered end (within two
// flush thresholds of the append point: clients write back out of order within a window) and
// keeps their uncut tails buffered, so a file written front to back gets the same chunks as one
// pass; runs further back are stored whole.
//
// Invariants: bytes leave memory only after the transaction holding them committed; a failed
// flush puts every byte it took back under newer writes. Its chunks are held from GC until the
// transaction committed (ChunkHold), however slow the puts were. Never: hold the file's lock
// while waiting for the global buffer budget.
import { fileLimits, isStoreError, type ChunkId } from '../lib/index.ts'
import type { ChunkHold, Tier } from '../chunk/index.ts'
import type { ActiveFile } from './active.ts'
import { timestampOf } from './change.ts'
import { cloneInode, requireInode, type FilesContext } from './context.ts'
import { DirtyBuffer, type Run } from './dirty.ts'
import { clearRange, insertExtent } from './extents.ts'
import { trimKey } from './keys.ts'
import { Mutation } from './mutation.ts'
import type { InodeRecord } from './records.ts'

export type FlushMode = 'all' | 'cut'

interface StoredChunk {
  readonly offset: number
  readonly lengthBytes: number
  readonly id: ChunkId
  readonly storedBytes: number
  readonly plainBytes: number
}

interface Tail {
  readonly offset: number
  readonly data: Buffer
}

/** Flush under the file's lock. */
export async function flushFile(ctx: FilesContext, file: ActiveFile, mode: FlushMode, signal?: AbortSignal): Promise<void> {
  const release = await file.lock.lock()
  try {
    await flushLocked(ctx, file, mode, signal)
  } finally {
    release()
    ctx.active.account(file)
  }
}

/** Flush while holding file.lock. */
export async function flushLocked(ctx: FilesContext, file: ActiveFile, mode: FlushMode, signal?: AbortSignal): Promise<void> {
  if (file.dirty.isEmpty) return
  const layer = file.dirty
  file.dirty = new DirtyBuffer()
  file.flushing = layer
  const change = file.pendingChange
  const modifyMs = file.pendingModifyMs
  try {
    const tier = await tierOf(ctx, file)
    if (tier === undefined) return // the file is gone: its bytes go with it
    // Held until the extents committed, however long storing them took: GC cannot take them.
    using hold = ctx.chunkStore.hold()
    const { chunks, tails } = await storeChunks(ctx, layer, mode, tier, hold, signal)
    await commitChunks(ctx, file, chunks, change, modifyMs)
    // Synchronously with dropping the layer: readers never see a gap.
    for (const tail of tails) file.dirty.insertUnder(tail.offset, tail.data)
    if (!file.dirty.isEmpty) file.dirtySinceMs ??= ctx.clock.nowMs()
    file.keptBytes = mode === 'cut' ? file.dirty.sizeBytes : 0
  } catch (error) {
    // A file system deleted meanwhile takes its buffered bytes with it.
    if (ctx.fileSystems.get(file.fsId) === undefined) return
    for (const run of layer.runs()) {
      let offset = run.offset
      for (const piece of run.pieces) {
        file.dirty.insertUnder(offset, piece)
        offset += piece.length
      }
    }
    throw error
  } finally {
    file.flushing = undefined
  }
}

async function tierOf(ctx: FilesContext, file: ActiveFile): Promise<Tier | undefined> {
  const record = await ctx.meta.read(async (tx) => {
    try {
      return await requireInode(ctx, tx, file.fsId, file.inode)
    } catch (error) {
      if (isStoreError(error, 'NOT_FOUND')) return undefined
      throw error
    }
  })
  if (record === undefined) return undefined
  return record.storageClass === 'standard' ? 'hot' : 'cold'
}

/** Chunk the runs and put the chunks (bounded in flight); returns what to commit and what stays buffered. */
async function storeChunks(ctx: FilesContext, layer: DirtyBuffer, mode: FlushMode, tier: Tier, hold: ChunkHold, signal: AbortSignal | undefined) {
  const chunks: StoredChunk[] = []
  const tails: Tail[] = []
  const inFlight = new Set<Promise<void>>()
  let failure: unknown
  const put = async (offset: number, data: Buffer): Promise<void> => {
    const stored = await ctx.chunkStore.put(data, { tier, hold, ...(signal === undefined ? {} : { signal }) })
    chunks.push({ offset, lengthBytes: data.length, id: stored.id, storedBytes: stored.storedBytes, plainBytes: stored.plainBytes })
  }
  const schedule = async (offset: number, data: Buffer): Promise<void> => {
    while (inFlight.size >= fileLimits.flushChunksInFlightMax) await Promise.race(inFlight)
    if (failure !== undefined) return
    const running: Promise<void> = put(offset, data).catch((error: unknown) => {
      failure ??= error
    }).finally(() => inFlight.delete(running))
    inFlight.add(running)
  }
  const runs = layer.runs()
  // Runs near the append point may still grow (clients write back out of order within a window).
  const growingFrom = layer.endBytes - 2 * ctx.tuning.dirtyBytesPerFileFlushAt
  for (const run of runs) {
    const keepTail = mode === 'cut' && run.offset + run.lengthBytes >= growingFrom
    await chunkRun(ctx, run, keepTail, schedule, tails)
    if (failure !== undefined) break
  }
  await Promise.all(inFlight)
  if (failure !== undefined) throw failure
  chunks.sort((a, b) => a.offset - b.offset)
  return { chunks, tails }
}

async function chunkRun(ctx: FilesContext, run: Run, keepTail: boolean, schedule: (offset: number, data: Buffer) => Promise<void>, tails: Tail[]): Promise<void> {
  if (run.lengthBytes < ctx.tuning.chunking.minBytes) {
    // Content-defined chunking never cuts before minBytes, so a shorter run is one chunk (or,
    // kept, one tail) either way. Skipping the chunker matters for small files: a chunker's
    // carry buffer is maxBytes (4 MiB), and with many small files flushing at once most would
    // take a fresh chunker from the pool's few idle ones, so each 4 KiB file cost a 4 MiB
    // allocation and V8 ran a full GC every few dozen files.
    if (keepTail) collectTail(run, run.offset, tails)
    else await schedule(run.offset, run.pieces.length === 1 ? Buffer.from(run.pieces[0] as Buffer) : Buffer.concat(run.pieces, run.lengthBytes))
    return
  }
  const chunker = ctx.chunkers.take()
  try {
    let offset = run.offset
    for (const piece of run.pieces) {
      for (const chunk of chunker.push(piece)) {
        await schedule(offset, chunk)
        offset += chunk.length
      }
    }
    if (keepTail) {
      collectTail(run, offset, tails)
      return
    }
    for (const chunk of chunker.finish()) {
      await schedule(offset, chunk)
      offset += chunk.length
    }
  } finally {
    ctx.chunkers.give(chunker)
  }
}

/** The run's bytes from `from` on, as views of its pieces. */
function collectTail(run: Run, from: number, tails: Tail[]): void {
  let offset = run.offset
  for (const piece of run.pieces) {
    const end = offset + piece.length
    if (end > from) {
      const start = Math.max(from, offset)
      tails.push({ offset: start, data: piece.subarray(start - offset) })
    }
    offset = end
  }
}

async function commitChunks(ctx: FilesContext, file: ActiveFile, chunks: readonly StoredChunk[], change: bigint | undefined, modifyMs: number | undefined): Promise<void> {
  if (chunks.length === 0) return
  await ctx.meta.transact(async (tx) => {
    const m = new Mutation(tx, file.fsId, ctx.chunkStore)
    const before = await m.inode(file.inode)
    if (before === undefined) return
    const inode = cloneInode(before)
    const clearFrom = await firstPossibleExtentEnd(m, file.inode, before)
    let end = 0
    for (const chunk of chunks) {
      const removed = chunk.offset >= clearFrom ? 0 : await clearRange(m, file.inode, chunk.offset, chunk.offset + chunk.lengthBytes)
      insertExtent(m, file.inode, { offset: chunk.offset, lengthBytes: chunk.lengthBytes, chunkId: chunk.id, offsetInChunk: 0 })
      m.addChunk(chunk.id, { storedBytes: chunk.storedBytes, plainBytes: chunk.plainBytes })
      inode.allocatedBytes += chunk.lengthBytes - removed
      end = Math.max(end, chunk.offset + chunk.lengthBytes)
    }
    inode.sizeBytes = Math.max(inode.sizeBytes, end)
    const time = timestampOf(modifyMs ?? ctx.clock.nowMs())
    inode.modifyTime = time
    inode.changeTime = time
    const next = change ?? ctx.changes.next()
    if (next > inode.change) inode.change = next
    m.putInode(file.inode, before, inode)
    await m.finish()
  })
}

/**
 * The offset from which no stored extent can overlap a new one, so the flush need not clear the
 * range (clearRange costs two metadata scans per chunk). Extents hold exactly allocatedBytes, so
 * none exist when that is 0 (a new file); and they end at or below the stored size unless a
 * truncate's trim is still pending (fsck checks both). One flush's chunks never overlap each
 * other, so the chunks inserted earlier in the same transaction do not matter.
 */
async function firstPossibleExtentEnd(m: Mutation, inode: number, before: InodeRecord): Promise<number> {
  if (before.allocatedBytes === 0) return 0
  if ((await m.tx.get(trimKey(m.fsId, inode))) !== undefined) return Number.POSITIVE_INFINITY
  return before.sizeBytes
}

/** Start a background flush of a file if none is running; failures stay buffered and are logged. */
export function flushInBackground(ctx: FilesContext, file: ActiveFile, mode: FlushMode): void {
  if (file.background !== undefined) return
  const running = flushFile(ctx, file, mode)
    .catch((error: unknown) => ctx.log('files.flush-failed', { fsId: file.fsId, inode: file.inode, error: String(error) }))
    .finally(() => {
      file.background = undefined
      ctx.active.account(file)
    })
  file.background = running
}
