// A regular file's extent map in metadata (docs/format/files.md 5): non-overlapping extents
// keyed by file offset, each naming a byte range of one chunk. Changes go through a Mutation so
// chunk counts move with them; reads use any ReadTx.
//
// Invariants: extents never overlap; cutting an extent keeps the remainders pointing into the
// same chunk (one chunk count per remaining piece). Never: leave an extent covering bytes a
// change replaced.
import type { ReadTx } from '../meta/index.ts'
import { limits } from '../lib/index.ts'
import { extentKey, extentPrefix, extentRange } from './keys.ts'
import type { Mutation } from './mutation.ts'
import { decodeExtent, encodeExtent, type Extent } from './records.ts'
import { decodeKey } from '../meta/index.ts'

function offsetOfKey(key: Buffer): number {
  const parts = decodeKey(key)
  const offset = parts[parts.length - 1]
  if (typeof offset !== 'number') throw new TypeError('extent keys end with a uint offset')
  return offset
}

function decodeEntry(fsId: string, inode: number, entry: { key: Buffer; value: Buffer }): Extent {
  const offset = offsetOfKey(entry.key)
  return decodeExtent(offset, entry.value, `extent ${fsId}/${inode}@${offset}`)
}

/** The extent starting before `offset` (the only one that can straddle it), if any. */
async function extentBefore(tx: ReadTx, fsId: string, inode: number, offset: number): Promise<Extent | undefined> {
  const [entry] = await tx.scan({ gt: extentPrefix(fsId, inode), lt: extentKey(fsId, inode, offset), reverse: true, limit: 1 })
  return entry === undefined ? undefined : decodeEntry(fsId, inode, entry)
}

/**
 * Extents overlapping [offset, offset + length), in offset order.
 *
 * One backwards scan from `offset + length` down to the first extent starting at or before
 * `offset` (the only one that can straddle it; extents never overlap), instead of a backwards
 * scan for that extent and a forwards one for the rest: every READ asks this, and each scan is
 * a LevelDB iterator. Pages start small (a 1 MiB READ usually meets one to three extents) and
 * double, so a map of tiny extents is not read far past what the range needs.
 */
export async function extentsIn(tx: ReadTx, fsId: string, inode: number, offset: number, lengthBytes: number): Promise<Extent[]> {
  const found: Extent[] = []
  const prefix = extentPrefix(fsId, inode)
  let below = extentKey(fsId, inode, offset + lengthBytes)
  for (let pageMax = 4; ; pageMax = Math.min(pageMax * 2, limits.metaScanPageMax)) {
    const page = await tx.scan({ gt: prefix, lt: below, reverse: true, limit: pageMax })
    for (const entry of page) {
      const extent = decodeEntry(fsId, inode, entry)
      if (extent.offset + extent.lengthBytes > offset) found.push(extent)
      if (extent.offset <= offset) return found.reverse()
    }
    const last = page.at(-1)
    if (page.length < pageMax || last === undefined) return found.reverse()
    below = last.key
  }
}

function putPiece(m: Mutation, inode: number, extent: Extent): void {
  m.tx.put(extentKey(m.fsId, inode, extent.offset), encodeExtent(extent))
  m.addChunk(extent.chunkId)
}

/** Cut one extent to what lies outside [start, end); returns the bytes it lost. */
function cut(m: Mutation, inode: number, extent: Extent, start: number, end: number): number {
  const extentEnd = extent.offset + extent.lengthBytes
  m.tx.delete(extentKey(m.fsId, inode, extent.offset))
  m.dropChunk(extent.chunkId)
  if (extent.offset < start) putPiece(m, inode, { ...extent, lengthBytes: start - extent.offset })
  if (extentEnd > end) {
    putPiece(m, inode, { offset: end, lengthBytes: extentEnd - end, chunkId: extent.chunkId, offsetInChunk: extent.offsetInChunk + (end - extent.offset) })
  }
  return Math.min(extentEnd, end) - Math.max(extent.offset, start)
}

/** Remove every byte in [start, end) from the map; returns the extent bytes removed. */
export async function clearRange(m: Mutation, inode: number, start: number, end: number): Promise<number> {
  let removed = 0
  for (const extent of await extentsIn(m.tx, m.fsId, inode, start, end - start)) removed += cut(m, inode, extent, start, end)
  return removed
}

/** Insert a new extent (its range must be clear); the caller counts the chunk with its sizes. */
export function insertExtent(m: Mutation, inode: number, extent: Extent): void {
  m.tx.put(extentKey(m.fsId, inode, extent.offset), encodeExtent(extent))
}

/**
 * Remove up to `pageMax` extents at or after `from` (cutting the one that straddles it).
 * Returns the bytes removed and whether the map now ends at `from`.
 */
export async function trimPage(m: Mutation, inode: number, from: number, pageMax: number): Promise<{ removedBytes: number; done: boolean }> {
  let removedBytes = 0
  const before = await extentBefore(m.tx, m.fsId, inode, from)
  if (before !== undefined && before.offset + before.lengthBytes > from) removedBytes += cut(m, inode, before, from, Number.MAX_SAFE_INTEGER)
  const range = extentRange(m.fsId, inode)
  const page = await m.tx.scan({ gte: extentKey(m.fsId, inode, from), lt: range.lt, limit: pageMax })
  for (const entry of page) {
    const extent = decodeEntry(m.fsId, inode, entry)
    m.tx.delete(entry.key)
    m.dropChunk(extent.chunkId)
    removedBytes += extent.lengthBytes
  }
  return { removedBytes, done: page.length < pageMax }
}

/** Every chunk id of a file (for tier moves), page by page. */
export async function* chunkIdsOf(read: <T>(fn: (tx: ReadTx) => Promise<T>) => Promise<T>, fsId: string, inode: number): AsyncGenerator<Extent[]> {
  const range = extentRange(fsId, inode)
  let from: Buffer = range.gt
  for (;;) {
    const page = await read((tx) => tx.scan({ gt: from, lt: range.lt, limit: 1000 }))
    if (page.length > 0) yield page.map((entry) => decodeEntry(fsId, inode, entry))
    const last = page.at(-1)
    if (page.length < 1000 || last === undefined) return
    from = last.key
  }
}
