// Snapshot manifests: extent index -> chunk id, stored in pages of volumeLimits.manifestPageExtents
// extents under ('vol', 'manifest', snapshotId, page) (docs/format/volumes.md section 3).
//
// Page layout (version 1): version (1) | extentCount u32 LE | bitmap ceil(extentCount/8) bytes
// (bit i of byte i>>3, least significant first: extent i has data) | 32-byte chunk ids of the
// extents with data, in extent order. An extent without data reads as zeroes; a page that is
// absent is all zeroes. A manifest is immutable once its snapshot completed.
// Never: return an id for an extent past the page's extentCount.
import { assert, chunkIdBytes, chunkIdFrom, StoreError, volumeLimits, type ChunkId } from '../lib/index.ts'
import type { ReadTx } from '../meta/index.ts'
import type { SnapshotId } from './ids.ts'
import { manifestPageKey } from './records.ts'

export const manifestPageVersion = 1

/** Entries of one page; null: the extent reads as zeroes. */
export type ManifestPage = Array<ChunkId | null>

export function manifestPageOf(extent: number): number {
  return Math.floor(extent / volumeLimits.manifestPageExtents)
}

/** Extents in page `page` of a volume of extentCount extents. */
export function manifestPageLength(page: number, extentCount: number): number {
  const first = page * volumeLimits.manifestPageExtents
  return Math.max(0, Math.min(volumeLimits.manifestPageExtents, extentCount - first))
}

export function manifestPageCount(extentCount: number): number {
  return Math.ceil(extentCount / volumeLimits.manifestPageExtents)
}

export function encodeManifestPage(page: ManifestPage): Buffer {
  assert(page.length <= volumeLimits.manifestPageExtents, 'a manifest page holds at most manifestPageExtents entries')
  const bitmapBytes = Math.ceil(page.length / 8)
  const present = page.reduce((count, id) => count + (id === null ? 0 : 1), 0)
  const out = Buffer.alloc(1 + 4 + bitmapBytes + present * chunkIdBytes)
  out[0] = manifestPageVersion
  out.writeUInt32LE(page.length, 1)
  let at = 5 + bitmapBytes
  page.forEach((id, index) => {
    if (id === null) return
    out[5 + (index >> 3)]! |= 1 << (index & 7)
    id.copy(out, at)
    at += chunkIdBytes
  })
  return out
}

export function decodeManifestPage(bytes: Uint8Array, what: string): ManifestPage {
  const corrupt = (detail: string): StoreError => new StoreError('IO_ERROR', `metadata record ${what} is corrupt: ${detail}`)
  if (bytes[0] !== manifestPageVersion) throw corrupt(`version ${bytes[0]} is not ${manifestPageVersion}`)
  if (bytes.length < 5) throw corrupt('shorter than its header')
  const buffer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  const extentCount = buffer.readUInt32LE(1)
  if (extentCount > volumeLimits.manifestPageExtents) throw corrupt(`${extentCount} extents in one page`)
  const bitmapBytes = Math.ceil(extentCount / 8)
  const page: ManifestPage = new Array<ChunkId | null>(extentCount).fill(null)
  let at = 5 + bitmapBytes
  for (let index = 0; index < extentCount; index += 1) {
    if (((buffer[5 + (index >> 3)] ?? 0) & (1 << (index & 7))) === 0) continue
    if (at + chunkIdBytes > buffer.length) throw corrupt('fewer ids than the bitmap says')
    page[index] = chunkIdFrom(Buffer.from(buffer.subarray(at, at + chunkIdBytes)))
    at += chunkIdBytes
  }
  if (at !== buffer.length) throw corrupt('more bytes than the bitmap says')
  return page
}

export async function readManifestPage(tx: ReadTx, snapshot: SnapshotId, page: number): Promise<ManifestPage | undefined> {
  const bytes = await tx.get(manifestPageKey(snapshot, page))
  return bytes === undefined ? undefined : decodeManifestPage(bytes, `('vol', 'manifest', ${snapshot}, ${page})`)
}

/**
 * Reads one snapshot's manifest through a small LRU page cache. Only for completed (immutable)
 * manifests; a reader without a snapshot answers null (zeroes) for every extent.
 */
export class ManifestReader {
  readonly snapshotId: SnapshotId | null
  readonly #read: <T>(fn: (tx: ReadTx) => Promise<T>) => Promise<T>
  readonly #cache = new Map<number, Promise<ManifestPage | undefined>>()

  constructor(snapshotId: SnapshotId | null, read: <T>(fn: (tx: ReadTx) => Promise<T>) => Promise<T>) {
    this.snapshotId = snapshotId
    this.#read = read
  }

  async entry(extent: number): Promise<ChunkId | null> {
    const page = await this.page(manifestPageOf(extent))
    return page?.[extent % volumeLimits.manifestPageExtents] ?? null
  }

  page(index: number): Promise<ManifestPage | undefined> {
    const snapshot = this.snapshotId
    if (snapshot === null) return Promise.resolve(undefined)
    const cached = this.#cache.get(index)
    if (cached !== undefined) {
      this.#cache.delete(index)
      this.#cache.set(index, cached)
      return cached
    }
    const loading = this.#read((tx) => readManifestPage(tx, snapshot, index))
    // A failed read is not cached: the next caller tries again.
    loading.catch(() => this.#cache.delete(index))
    this.#cache.set(index, loading)
    if (this.#cache.size > volumeLimits.manifestPageCacheMax) {
      const oldest = this.#cache.keys().next()
      if (!oldest.done) this.#cache.delete(oldest.value)
    }
    return loading
  }
}
