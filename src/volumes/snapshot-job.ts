// Taking one snapshot of a live volume: freeze, hash the changed extents into the chunk store,
// and write the manifest pages (with their chunk references). The manager (snapshot-ops.ts)
// commits the final record, or marks the snapshot failed.
//
// Contract: the snapshot is the volume's content at the freeze instant. The freeze takes the
// dirty extents synchronously (LiveVolume.freeze); each is then read under its extent lock, or
// handed over by a writer just before it changes (copy-on-write, preserve()). Extents not
// dirty are inherited from the parent manifest (the volume's base at the freeze). Extents of
// zeroes get no chunk. Pages are committed in ascending order, each transaction adding one
// reference per entry it writes, so a chunk is referenced soon after its put. A chunk preserved
// for a later page is pinned (('vol', 'pin', snapshotId, extent), one reference) by the next
// page transaction and unpinned when its own page is written, so a long snapshot never leaves a
// put unreferenced for longer than a page takes (the chunk store's GC grace rule).
// Memory: old extent copies from writers are bounded by volumeLimits.snapshotPreservedBytesMax
// (a writer waits for room); hashing runs volumeLimits.snapshotHashConcurrency extents at once.
// Never: read a frozen extent without its lock; write a page past the frozen size.
import type { ChunkStore } from '../chunk/index.ts'
import { StoreError, volumeLimits, type ChunkId, type KeyDomainId } from '../lib/index.ts'
import { encodeRecord, type MetaStore } from '../meta/index.ts'
import type { ExtentSet } from './extent-set.ts'
import type { SnapshotId } from './ids.ts'
import type { FrozenExtents, LiveVolume } from './live-volume.ts'
import { encodeManifestPage, manifestPageCount, manifestPageLength, type ManifestPage, type ManifestReader } from './manifest.ts'
import { manifestPageKey, pinKey, pinRecordVersion } from './records.ts'

const extentBytes = volumeLimits.extentBytes
const pageExtents = volumeLimits.manifestPageExtents
const zeroExtent = Buffer.alloc(extentBytes)

export interface SnapshotJobParts {
  snapshotId: SnapshotId
  volume: LiveVolume
  meta: MetaStore
  chunkStore: ChunkStore
  domain: KeyDomainId
  /** Re-hash every extent (the base is in another key domain). */
  everything: boolean
  signal: AbortSignal
  /** Default volumeLimits.snapshotPagesPerTransaction. */
  pagesPerTransaction?: number
}

export interface SnapshotJobResult {
  sizeBytes: number
  parentSnapshotId: SnapshotId | null
  /** The frozen extents: their durable dirty bits may be cleared once the snapshot commits. */
  frozen: ExtentSet
  changedExtents: number
  dataExtents: number
  storedBytes: number
}

export class SnapshotJob implements FrozenExtents {
  readonly snapshotId: SnapshotId
  readonly sizeBytes: number
  readonly #parts: SnapshotJobParts
  readonly #parent: ManifestReader
  readonly #frozen: ExtentSet
  readonly #pending: ExtentSet
  readonly #results = new Map<number, Promise<ChunkId | null>>()
  /** Preserved chunks stored, not yet pinned; and pinned ones (extent -> id). */
  readonly #toPin = new Map<number, ChunkId>()
  readonly #pinned = new Map<number, ChunkId>()
  #preservedBytes = 0
  #roomWaiters: Array<() => void> = []
  #storedBytes = 0
  #readExtents = 0
  #pagesDone = 0
  readonly #pageCount: number

  /** Freeze now (synchronously); call run() to do the work. */
  constructor(parts: SnapshotJobParts) {
    this.snapshotId = parts.snapshotId
    this.#parts = parts
    this.#parent = parts.volume.base
    this.sizeBytes = parts.volume.sizeBytes
    this.#pageCount = manifestPageCount(parts.volume.extentCount)
    this.#frozen = parts.volume.freeze(this, parts.everything)
    this.#pending = this.#frozen.copy()
  }

  get frozenExtents(): ExtentSet {
    return this.#frozen
  }

  get parentSnapshotId(): SnapshotId | null {
    return this.#parent.snapshotId
  }

  /** 0..1: extents read plus pages written, over their totals. */
  get progress(): number {
    return (this.#readExtents + this.#pagesDone) / (this.#frozen.size + this.#pageCount)
  }

  isPending(extent: number): boolean {
    return this.#pending.has(extent)
  }

  async preserve(extent: number, content: Buffer | null): Promise<void> {
    this.#pending.delete(extent)
    this.#readExtents += 1
    if (content === null) {
      this.#results.set(extent, Promise.resolve(null))
      return
    }
    while (this.#preservedBytes + extentBytes > volumeLimits.snapshotPreservedBytesMax) {
      await new Promise<void>((resolve) => this.#roomWaiters.push(resolve))
    }
    this.#preservedBytes += extentBytes
    const stored = this.#store(content).finally(() => {
      this.#preservedBytes -= extentBytes
      for (const wake of this.#roomWaiters.splice(0)) wake()
    })
    // The page commit awaits it; until then a failure must not be an unhandled rejection.
    stored.then((id) => {
      if (id !== null) this.#toPin.set(extent, id)
    }, () => undefined)
    this.#results.set(extent, stored)
  }

  /** Hash and write every page; the volume stays frozen until the caller unfreezes it. */
  async run(): Promise<SnapshotJobResult> {
    let dataExtents = 0
    let batch: Array<{ page: number; entries: ManifestPage }> = []
    const extentCount = this.sizeBytes / extentBytes
    for (let page = 0; page < this.#pageCount; page += 1) {
      this.#checkAborted()
      const here = [...this.#frozen.range(page * pageExtents, Math.min(extentCount, (page + 1) * pageExtents))]
      await this.#readAll(here)
      const entries = await this.#pageEntries(page, manifestPageLength(page, extentCount), here)
      dataExtents += entries.reduce((count, id) => count + (id === null ? 0 : 1), 0)
      batch.push({ page, entries })
      if (batch.length >= (this.#parts.pagesPerTransaction ?? volumeLimits.snapshotPagesPerTransaction)) {
        await this.#commitPages(batch)
        batch = []
      }
    }
    await this.#commitPages(batch)
    if (this.#pinned.size > 0 || this.#toPin.size > 0) throw new TypeError(`snapshot ${this.snapshotId}: pins left after the last page`)
    return {
      sizeBytes: this.sizeBytes,
      parentSnapshotId: this.#parent.snapshotId,
      frozen: this.#frozen,
      changedExtents: this.#frozen.size,
      dataExtents,
      storedBytes: this.#storedBytes,
    }
  }

  #checkAborted(): void {
    const signal = this.#parts.signal
    if (signal.aborted) throw new StoreError('ABORTED', `snapshot ${this.snapshotId} was cancelled`, { cause: signal.reason })
  }

  /** Read (or find preserved) every extent of the list, a few at a time. */
  async #readAll(extents: readonly number[]): Promise<void> {
    let next = 0
    const worker = async (): Promise<void> => {
      while (next < extents.length) {
        const extent = extents[next++]!
        this.#checkAborted()
        const content = await this.#parts.volume.readForSnapshot(extent, this, () => {
          this.#pending.delete(extent)
          this.#readExtents += 1
        })
        if (content === undefined) continue // a writer preserved it
        const stored = this.#store(content)
        this.#results.set(extent, stored)
        await stored
      }
    }
    await Promise.all(Array.from({ length: Math.min(volumeLimits.snapshotHashConcurrency, extents.length) }, worker))
  }

  async #store(content: Buffer | null): Promise<ChunkId | null> {
    if (content === null || content.equals(zeroExtent)) return null
    const result = await this.#parts.chunkStore.put(content, { domain: this.#parts.domain, signal: this.#parts.signal })
    if (!result.deduplicated) this.#storedBytes += result.storedBytes
    return result.id
  }

  async #pageEntries(page: number, length: number, changed: readonly number[]): Promise<ManifestPage> {
    const parent = await this.#parent.page(page)
    const entries: ManifestPage = Array.from({ length }, (_, index) => parent?.[index] ?? null)
    for (const extent of changed) {
      const result = this.#results.get(extent)
      if (result === undefined) throw new TypeError(`snapshot ${this.snapshotId}: extent ${extent} was neither read nor preserved`)
      entries[extent - page * pageExtents] = await result
      this.#results.delete(extent)
    }
    return entries
  }

  async #commitPages(batch: Array<{ page: number; entries: ManifestPage }>): Promise<void> {
    if (batch.length === 0) return
    const { meta, chunkStore } = this.#parts
    const pages = new Set(batch.map(({ page }) => page))
    const inBatch = (extent: number): boolean => pages.has(Math.floor(extent / pageExtents))
    const toPin = [...this.#toPin].filter(([extent]) => !inBatch(extent))
    const toUnpin = [...this.#pinned].filter(([extent]) => inBatch(extent))
    await meta.transact(async (tx) => {
      const ids: ChunkId[] = []
      for (const { page, entries } of batch) {
        const present = entries.filter((id): id is ChunkId => id !== null)
        if (present.length === 0) continue // an absent page reads as zeroes
        tx.put(manifestPageKey(this.snapshotId, page), encodeManifestPage(entries))
        ids.push(...present)
      }
      for (const [extent, id] of toPin) tx.put(pinKey(this.snapshotId, extent), encodeRecord(pinRecordVersion, id))
      for (const [extent] of toUnpin) tx.delete(pinKey(this.snapshotId, extent))
      await chunkStore.addRefs(tx, [...ids, ...toPin.map(([, id]) => id)])
      await chunkStore.dropRefs(tx, toUnpin.map(([, id]) => id))
    })
    for (const [extent, id] of toPin) this.#pinned.set(extent, id)
    for (const [extent] of this.#toPin) if (inBatch(extent) || this.#pinned.has(extent)) this.#toPin.delete(extent)
    for (const [extent] of toUnpin) this.#pinned.delete(extent)
    this.#pagesDone += batch.length
  }
}
