// File data: read, write, commit, and the open/close pairs of front-ends.
//
// Writes go to the file's buffer (visible to readers at once) and become durable on commit,
// on a stable write, on the last close, or earlier when memory or age asks for a flush. Reads
// merge, in order: committed extents (holes are zeroes), the layer being flushed, newer writes.
// Memory is bounded: a file past dirtyBytesPerFileFlushAt flushes its full chunks in the
// background, and writers wait (flushing the largest buffer themselves) while the total buffered
// bytes exceed dirtyBytesMax.
import { fileLimits, isStoreError, StoreError } from '../lib/index.ts'
import { FileError, type FileHandle, type FileSystemId, type WriteStability, type Written } from './api.ts'
import { msOf } from './change.ts'
import { requireInode, resolveHandle, type FilesContext } from './context.ts'
import { extentsIn } from './extents.ts'
import { flushFile, flushInBackground } from './flush.ts'
import type { ActiveFile } from './active.ts'
import { inodeKey } from './keys.ts'
import { decodeInode, type Extent, type FileSystemRecord, type InodeRecord } from './records.ts'

/** What the engine does when a file is read or written (access times, lifecycle). */
export type OnAccess = (fs: FileSystemRecord, inode: number, record: InodeRecord, kind: 'read' | 'write') => Promise<void>

function requireRegular(record: InodeRecord): void {
  if (record.type === 'directory') throw new FileError('is-directory', 'not a regular file: a directory')
  if (record.type !== 'regular') throw new StoreError('INVALID_ARGUMENT', 'not a regular file')
}

export async function read(ctx: FilesContext, handle: FileHandle, offset: number, lengthBytes: number, onAccess: OnAccess, signal?: AbortSignal): Promise<{ data: Buffer; eof: boolean }> {
  const { fs, inode } = resolveHandle(ctx, handle)
  if (!Number.isSafeInteger(offset) || offset < 0 || !Number.isSafeInteger(lengthBytes) || lengthBytes < 0) {
    throw new StoreError('INVALID_ARGUMENT', 'bad read range')
  }
  for (let attempt = 1; ; attempt += 1) {
    try {
      const result = await readOnce(ctx, fs.id, inode, offset, lengthBytes, signal)
      await onAccess(fs, inode, result.record, 'read')
      return { data: result.data, eof: result.eof }
    } catch (error) {
      // A chunk replaced and collected between our metadata read and our chunk read: read again.
      if (attempt < 3 && isStoreError(error, 'CHUNK_MISSING')) continue
      throw error
    }
  }
}

async function readOnce(ctx: FilesContext, fsId: FileSystemId, inode: number, offset: number, lengthBytes: number, signal: AbortSignal | undefined) {
  // Capture the buffer layers before reading metadata (see active.ts).
  const layers = ctx.active.get(fsId, inode)?.layers() ?? []
  const bufferedEnd = Math.max(0, ...layers.map((layer) => layer.endBytes))
  const { record, extents, sizeBytes } = await ctx.meta.read(async (tx) => {
    const record = await requireInode(ctx, tx, fsId, inode)
    requireRegular(record)
    const sizeBytes = Math.max(record.sizeBytes, bufferedEnd)
    const end = Math.min(sizeBytes, offset + lengthBytes)
    const storedEnd = Math.min(end, record.sizeBytes)
    const extents: Extent[] = storedEnd > offset ? await extentsIn(tx, fsId, inode, offset, storedEnd - offset) : []
    return { record, extents, sizeBytes }
  })
  const end = Math.min(sizeBytes, offset + lengthBytes)
  if (end <= offset) return { record, data: Buffer.alloc(0), eof: offset >= sizeBytes }
  const storedEnd = Math.min(end, record.sizeBytes)
  const chunkOf = (extent: Extent): Promise<Buffer> =>
    ctx.chunks.get(extent.chunkId, signal).catch((error: unknown) => {
      if (isStoreError(error, 'NOT_FOUND')) throw new StoreError('CHUNK_MISSING', `file ${fsId}/${inode}: a chunk of its data is missing`, { cause: error })
      throw error
    })
  const single = extents.length === 1 ? extents[0] : undefined
  if (layers.length === 0 && single !== undefined && single.offset <= offset && single.offset + single.lengthBytes >= end && storedEnd === end) {
    // The whole range inside one extent and nothing buffered: a view of the decoded chunk (shared
    // with the chunk cache, read-only like every reply payload), no allocation or copy.
    const chunk = await chunkOf(single)
    const start = single.offsetInChunk + (offset - single.offset)
    if (start + (end - offset) > chunk.length) throw new StoreError('IO_ERROR', `extent ${fsId}/${inode}@${single.offset} reaches past its chunk`)
    return { record, data: chunk.subarray(start, start + (end - offset)), eof: end >= sizeBytes }
  }
  // Zero-filled only when something is not written over below: a hole, or bytes past the stored
  // size that the buffered layers may not all cover.
  const data = storedEnd === end && coversContiguously(extents, offset, end) ? Buffer.allocUnsafe(end - offset) : Buffer.alloc(end - offset)
  for (const extent of extents) {
    const from = Math.max(offset, extent.offset)
    const to = Math.min(storedEnd, extent.offset + extent.lengthBytes)
    if (to <= from) continue
    const chunk = await chunkOf(extent)
    const start = extent.offsetInChunk + (from - extent.offset)
    if (start + (to - from) > chunk.length) throw new StoreError('IO_ERROR', `extent ${fsId}/${inode}@${extent.offset} reaches past its chunk`)
    chunk.copy(data, from - offset, start, start + (to - from))
  }
  for (const layer of layers) layer.overlay(offset, data)
  return { record, data, eof: end >= sizeBytes }
}

/** Do the extents (in offset order, non-overlapping) cover [from, to) with no gap? */
function coversContiguously(extents: readonly Extent[], from: number, to: number): boolean {
  let reached = from
  for (const extent of extents) {
    if (extent.offset > reached) return false
    reached = Math.max(reached, extent.offset + extent.lengthBytes)
    if (reached >= to) return true
  }
  return reached >= to
}

export async function write(ctx: FilesContext, handle: FileHandle, offset: number, data: Buffer, stability: WriteStability, onAccess: OnAccess, signal?: AbortSignal): Promise<Written> {
  const { fs, inode } = resolveHandle(ctx, handle)
  if (fs.exportPolicy.readOnly) throw new FileError('read-only', `file system ${fs.name} is read-only`)
  if (!Number.isSafeInteger(offset) || offset < 0) throw new StoreError('INVALID_ARGUMENT', 'bad write offset')
  if (offset + data.length > fileLimits.fileSizeBytesMax) throw new FileError('file-too-large', 'write past the maximum file size')
  const record = await ctx.meta.read((tx) => requireInode(ctx, tx, fs.id, inode))
  requireRegular(record)
  const file = ctx.active.obtain(fs.id, inode)
  const now = ctx.clock.nowMs()
  file.dirty.write(offset, data)
  file.dirtySinceMs ??= now
  file.pendingModifyMs = Math.max(now, file.pendingModifyMs ?? 0, msOf(record.modifyTime))
  file.pendingChange = ctx.changes.next()
  ctx.active.account(file)
  await onAccess(fs, inode, record, 'write')
  if (stability !== 'unstable') {
    await flushFile(ctx, file, 'all', signal)
    return { committed: 'file-sync' }
  }
  if (file.dirty.sizeBytes - file.keptBytes >= ctx.tuning.dirtyBytesPerFileFlushAt) flushInBackground(ctx, file, 'cut')
  await withinBudget(ctx, signal)
  return { committed: 'unstable' }
}

/**
 * Wait while buffered bytes exceed the budget, flushing the largest buffer meanwhile: its full
 * chunks first (keeping chunk boundaries), everything when that frees nothing.
 */
async function withinBudget(ctx: FilesContext, signal: AbortSignal | undefined): Promise<void> {
  while (ctx.active.bufferedBytes > ctx.tuning.dirtyBytesMax) {
    let largest: ActiveFile | undefined
    for (const file of ctx.active.all()) if (file.dirty.sizeBytes > (largest?.dirty.sizeBytes ?? 0)) largest = file
    if (largest === undefined) {
      await ctx.active.changed()
      continue
    }
    const before = ctx.active.bufferedBytes
    await flushFile(ctx, largest, 'cut', signal)
    if (ctx.active.bufferedBytes >= before) await flushFile(ctx, largest, 'all', signal)
  }
}

export async function commit(ctx: FilesContext, handle: FileHandle, signal?: AbortSignal): Promise<void> {
  const { fs, inode } = resolveHandle(ctx, handle)
  const file = ctx.active.get(fs.id, inode)
  if (file === undefined) {
    await ctx.meta.read((tx) => requireInode(ctx, tx, fs.id, inode))
    return
  }
  await flushFile(ctx, file, 'all', signal)
}

export async function openFile(ctx: FilesContext, handle: FileHandle): Promise<void> {
  const { fs, inode } = resolveHandle(ctx, handle)
  await ctx.meta.read((tx) => requireInode(ctx, tx, fs.id, inode))
  ctx.active.obtain(fs.id, inode).openCount += 1
}

/** The last close flushes, or, for a file unlinked meanwhile, drops its bytes and reclaims it. */
export async function closeFile(ctx: FilesContext, handle: FileHandle, reclaim: (fsId: FileSystemId, inode: number) => void, signal?: AbortSignal): Promise<void> {
  const { fs, inode } = resolveHandle(ctx, handle)
  const file = ctx.active.get(fs.id, inode)
  if (file === undefined) return
  if (file.openCount > 1) {
    await flushFile(ctx, file, 'all', signal).finally(() => {
      file.openCount -= 1
    })
    return
  }
  const stored = await ctx.meta.read((tx) => tx.get(inodeKey(fs.id, inode)))
  const record = stored === undefined ? undefined : decodeInode(stored, `inode ${fs.id}/${inode}`)
  const unlinked = record === undefined || record.nlink === 0
  try {
    if (unlinked) {
      ctx.active.drop(file)
    } else {
      await flushFile(ctx, file, 'all', signal)
    }
  } finally {
    file.openCount = Math.max(0, file.openCount - 1)
    ctx.active.account(file)
  }
  if (record !== undefined && record.nlink === 0 && file.openCount === 0) reclaim(fs.id, inode)
}
