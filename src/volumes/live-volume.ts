// A live volume: the I/O core under every export of one volume (EBS semantics without NBD).
//
// Data: the head file (head.ts) holds DATA extents; BASE extents read from the base snapshot's
// manifest (lazily hydrated into the head on first use); ZERO and HOLE extents read as zeroes
// (extent-map.ts defines the states and their durability rules). After a crash, BASE (without
// base data) and HOLE extents may hide unflushed bytes in the head: recoverUncleanShutdown()
// turns them into ZERO before the volume serves I/O (docs/format/volumes.md 3.6).
//
// Contract (see src/volumes/api.ts): a write resolves when visible to every reader; flush()
// makes every write that completed before it durable, whichever connection made it, and many
// concurrent flushes share one fsync round. Offsets and lengths are validated by the caller
// (the export edge); here they are asserted.
// Invariants:
// - A head region is modified only under the extent's lock: shared for DATA extents already
//   durably dirty and not awaited by a running snapshot, exclusive otherwise.
// - Before an extent a running snapshot still needs is modified, its old content is handed to
//   the snapshot (copy-on-write), so a snapshot is the volume as of its freeze instant.
// - An extent's dirty bit is durable before its head bytes change (ExtentMap.markDirty), once
//   the volume has a base snapshot or one is being taken. Before its first snapshot a volume
//   needs no dirty bits: that snapshot takes every DATA extent (the only ones that can differ
//   from the empty base), and a write whose state change was lost in a crash reads as zeroes
//   in the volume and in the snapshot alike.
// - BASE is never re-entered: hydration, writes and trims only move extents out of it.
// Never: read a BASE extent's head region, or assume it is a hole after an unclean shutdown;
// let a state reach the metadata before the head bytes it depends on are fsynced.
import { assert, StoreError, volumeLimits, type ChunkId } from '../lib/index.ts'
import type { ChunkStore } from '../chunk/index.ts'
import type { AllocationExtent } from './api.ts'
import { extentStates, type ExtentMap } from './extent-map.ts'
import { ExtentSet } from './extent-set.ts'
import { GroupCommit } from './group-commit.ts'
import type { HeadFile, HolePuncher } from './head.ts'
import type { VolumeId } from './ids.ts'
import { HoleReclaimer } from './hole-reclaimer.ts'
import { isFullExtent, spansOf, type Span } from './spans.ts'
import { ExtentLocks } from './locks.ts'
import type { ManifestReader } from './manifest.ts'
import { makeStaleExtentsZero, remoteExtentCount, remoteExtentsIn } from './base-scan.ts'
import type { VolumeThrottle } from './throttle.ts'

const extentBytes = volumeLimits.extentBytes
const sectorBytes = volumeLimits.sectorBytes

/** What a running snapshot needs from the volume's write path (snapshot-job.ts implements it). */
export interface FrozenExtents {
  /** The extent belongs to the snapshot and has not been read for it yet. */
  isPending(extent: number): boolean
  /**
   * Called under the extent's exclusive lock, just before it is modified: take its content as
   * of the freeze (null: zeroes). Resolves when the snapshot accepted it (memory permitting).
   */
  preserve(extent: number, content: Buffer | null): Promise<void>
}

export interface LiveVolumeParts {
  id: VolumeId
  sizeBytes: number
  head: HeadFile
  map: ExtentMap
  base: ManifestReader
  chunkStore: ChunkStore
  throttle: VolumeThrottle
  punchHole: HolePuncher
  /** Background failures that must not be lost (hole punching); the volume keeps working. */
  onBackgroundError: (error: unknown, what: string) => void
}

export class LiveVolume {
  readonly id: VolumeId
  readonly #parts: LiveVolumeParts
  readonly #locks = new ExtentLocks()
  readonly #flushes: GroupCommit<never>
  #sizeBytes: number
  #base: ManifestReader
  #frozen: FrozenExtents | undefined
  readonly #reclaimer: HoleReclaimer
  readonly #running = new Set<Promise<unknown>>()
  #closed = false

  constructor(parts: LiveVolumeParts) {
    assert(parts.sizeBytes % extentBytes === 0 && parts.map.extentCount === parts.sizeBytes / extentBytes, 'the map covers the volume')
    this.id = parts.id
    this.#parts = parts
    this.#sizeBytes = parts.sizeBytes
    this.#base = parts.base
    this.#flushes = new GroupCommit<never>(() => this.#flushRound())
    this.#reclaimer = new HoleReclaimer({
      locks: this.#locks,
      map: parts.map,
      headPath: parts.head.path,
      punchHole: parts.punchHole,
      onDisabled: (error) => parts.onBackgroundError(error, 'punch holes'),
    })
  }

  get sizeBytes(): number {
    return this.#sizeBytes
  }

  get extentCount(): number {
    return this.#sizeBytes / extentBytes
  }

  get encrypted(): boolean {
    return this.#parts.head.encrypted
  }

  get map(): ExtentMap {
    return this.#parts.map
  }

  get base(): ManifestReader {
    return this.#base
  }

  // ---- I/O -----------------------------------------------------------------------------------

  read(offsetBytes: number, lengthBytes: number, signal: AbortSignal, into?: Buffer): Promise<Buffer> {
    return this.#operation(async () => {
      this.#checkRange(offsetBytes, lengthBytes)
      await this.#parts.throttle.take(lengthBytes, signal)
      const spans = spansOf(offsetBytes, lengthBytes)
      for (const span of spans) await this.#hydrateIfRemote(span.extent)
      assert(into === undefined || into.length === lengthBytes, 'a read target has the length asked')
      const out = into ?? Buffer.allocUnsafe(lengthBytes)
      const first = spans[0]?.extent ?? 0
      const release = await this.#locks.acquireRange(first, first + spans.length - 1, false)
      try {
        await this.#readSpans(spans, out)
      } finally {
        release()
      }
      return out
    })
  }

  write(offsetBytes: number, data: Buffer, options: { fua: boolean; signal: AbortSignal }): Promise<void> {
    return this.#operation(async () => {
      this.#checkRange(offsetBytes, data.length)
      await this.#parts.throttle.take(data.length, options.signal)
      const spans = spansOf(offsetBytes, data.length)
      if (!(await this.#tryFastWrite(offsetBytes, data, spans))) await this.#slowWrite(offsetBytes, data, spans)
      if (options.fua) await this.#flushes.request()
    })
  }

  trim(offsetBytes: number, lengthBytes: number, options: { fua: boolean; signal: AbortSignal }): Promise<void> {
    return this.writeZeroes(offsetBytes, lengthBytes, { ...options, noHole: false, fastZero: false })
  }

  writeZeroes(offsetBytes: number, lengthBytes: number, options: { fua: boolean; noHole: boolean; fastZero: boolean; signal: AbortSignal }): Promise<void> {
    return this.#operation(async () => {
      this.#checkRange(offsetBytes, lengthBytes)
      // Keeping the range allocated means writing zeroes: no faster than a write.
      if (options.noHole && options.fastZero) throw new StoreError('NOT_IMPLEMENTED', 'zeroing without holes is not faster than writing', { subject: 'volume' })
      const spans = spansOf(offsetBytes, lengthBytes)
      const changing: number[] = []
      for (const span of spans) if (options.noHole || !(await this.#readsAsZero(span.extent))) changing.push(span.extent)
      await this.#markDirtyAll(changing)
      for (const span of spans) {
        if (options.signal.aborted) throw new StoreError('ABORTED', 'write zeroes aborted', { cause: options.signal.reason })
        await this.#zeroSpan(span, options.noHole)
      }
      if (options.fua) await this.#flushes.request()
    })
  }

  flush(signal: AbortSignal): Promise<void> {
    return this.#operation(async () => {
      if (signal.aborted) throw new StoreError('ABORTED', 'flush aborted', { cause: signal.reason })
      await this.#flushes.request()
    })
  }

  blockStatus(offsetBytes: number, lengthBytes: number): Promise<AllocationExtent[]> {
    return this.#operation(async () => {
      this.#checkRange(offsetBytes, lengthBytes)
      const runs: AllocationExtent[] = []
      for (const span of spansOf(offsetBytes, lengthBytes)) {
        const zero = await this.#readsAsZero(span.extent)
        const last = runs.at(-1)
        if (last !== undefined && last.zero === zero) last.lengthBytes += span.lengthBytes
        else runs.push({ lengthBytes: span.lengthBytes, hole: zero, zero })
      }
      return runs
    })
  }

  /** Hydrate the BASE extents of a range (NBD_CMD_CACHE, eager hydration). */
  cache(offsetBytes: number, lengthBytes: number, signal: AbortSignal): Promise<void> {
    return this.#operation(async () => {
      this.#checkRange(offsetBytes, lengthBytes)
      for (const span of spansOf(offsetBytes, lengthBytes)) {
        if (signal.aborted) throw new StoreError('ABORTED', 'cache aborted', { cause: signal.reason })
        await this.#hydrateIfRemote(span.extent)
      }
    })
  }

  // ---- snapshots, hydration, resize (used by the manager and the snapshot job) ---------------

  /** Whether an extent still reads from the base snapshot's chunks. */
  async isRemote(extent: number): Promise<boolean> {
    return this.#parts.map.state(extent) === extentStates.base && (await this.#base.entry(extent)) !== null
  }

  /** BASE extents that still read from the base snapshot's chunks (not hydrated yet). */
  remoteExtentCount(): Promise<number> {
    return remoteExtentCount(this.#parts.map, this.#base, this.extentCount)
  }

  /** The remote (unhydrated) extents of one manifest page, ascending. */
  remoteExtentsIn(page: number): Promise<number[]> {
    return remoteExtentsIn(this.#parts.map, this.#base, this.extentCount, page)
  }

  /**
   * After a crash (the volume was not closed cleanly): BASE-without-data and HOLE extents may
   * hide unflushed head bytes; they become ZERO, durably, before the volume serves I/O.
   */
  recoverUncleanShutdown(): Promise<number> {
    return makeStaleExtentsZero(this.#parts.map, this.#base, this.extentCount)
  }

  /** Fetch one BASE extent into the head; true when it did. */
  hydrate(extent: number): Promise<boolean> {
    return this.#operation(() => this.#hydrateIfRemote(extent))
  }

  /**
   * The snapshot instant: install the copy-on-write hook and take the dirty extents (all
   * extents when `everything`). Synchronous, so no write is half-way through the switch.
   */
  freeze(frozen: FrozenExtents, everything: boolean): ExtentSet {
    assert(this.#frozen === undefined, 'one snapshot at a time per volume')
    if (this.#closed) throw new StoreError('CLOSED', `volume ${this.id} is closed`, { subject: 'volume' })
    const map = this.#parts.map
    const baseless = this.#base.snapshotId === null
    this.#frozen = frozen
    const dirty = map.takeDirty()
    if (everything) return ExtentSet.where(this.extentCount, () => true)
    // Without a base only DATA extents can differ from the (empty) base: everything else reads
    // as zeroes, which is what the new manifest inherits for extents it does not take.
    if (baseless) return ExtentSet.where(this.extentCount, (extent) => map.state(extent) === extentStates.data)
    return dirty
  }

  unfreeze(frozen: FrozenExtents): void {
    assert(this.#frozen === frozen, 'unfreeze the snapshot that froze')
    this.#frozen = undefined
  }

  /**
   * For the snapshot job: the extent's content as of the freeze, or undefined when a writer
   * already preserved it. markRead runs under the extent lock, so no writer slips in between.
   */
  readForSnapshot(extent: number, frozen: FrozenExtents, markRead: () => void): Promise<Buffer | null | undefined> {
    return this.#operation(async () => {
      const release = await this.#locks.acquire(extent, true)
      try {
        if (!frozen.isPending(extent)) return undefined
        const content = await this.#extentContent(extent)
        markRead()
        return content
      } finally {
        release()
      }
    })
  }

  /** The base snapshot changed (a snapshot committed): BASE extents now read through it. */
  setBase(base: ManifestReader): void {
    this.#base = base
  }

  /** Grow online: extend the head (durably) and the map. The caller commits the record. */
  async grow(sizeBytes: number): Promise<void> {
    await this.#operation(async () => {
      assert(sizeBytes >= this.#sizeBytes && sizeBytes % extentBytes === 0, 'grow to whole extents')
      await this.#parts.head.grow(sizeBytes)
      this.#parts.map.grow(sizeBytes / extentBytes)
      this.#sizeBytes = sizeBytes
    })
  }

  /**
   * Refuse new I/O, let running requests finish, flush, and close the head. Rejects (after
   * closing) when the final flush failed: then the volume did not close cleanly.
   */
  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    await Promise.allSettled([...this.#running])
    await this.#reclaimer.stop()
    let failure: unknown
    await this.#flushes.request().catch((error: unknown) => {
      failure = error
    })
    await this.#parts.map.settle()
    await this.#parts.head.close()
    if (failure !== undefined) throw failure
  }

  // ---- internals -----------------------------------------------------------------------------

  #operation<T>(fn: () => Promise<T>): Promise<T> {
    if (this.#closed) return Promise.reject(new StoreError('CLOSED', `volume ${this.id} is closed`, { subject: 'volume' }))
    const running = fn()
    this.#running.add(running)
    const forget = (): void => {
      this.#running.delete(running)
    }
    running.then(forget, forget)
    return running
  }

  #checkRange(offsetBytes: number, lengthBytes: number): void {
    assert(Number.isSafeInteger(offsetBytes) && Number.isSafeInteger(lengthBytes) && offsetBytes >= 0 && lengthBytes >= 0, 'a range is non-negative integers')
    assert(lengthBytes <= volumeLimits.requestMaxBytes, 'requests are at most requestMaxBytes')
    // The volume may have grown since the export opened; it never shrinks.
    assert(offsetBytes + lengthBytes <= this.#sizeBytes, 'the range is inside the volume')
  }

  async #readsAsZero(extent: number): Promise<boolean> {
    const state = this.#parts.map.state(extent)
    if (state === extentStates.data) return false
    if (state === extentStates.base) return (await this.#base.entry(extent)) === null
    return true
  }

  /** Read spans (locks held, no BASE extent with data among them) into out. */
  async #readSpans(spans: Span[], out: Buffer): Promise<void> {
    const map = this.#parts.map
    let index = 0
    while (index < spans.length) {
      const span = spans[index]!
      if (map.state(span.extent) !== extentStates.data) {
        // BASE here has no data: #hydrateIfRemote ran first and BASE is never re-entered.
        out.fill(0, span.requestOffsetBytes, span.requestOffsetBytes + span.lengthBytes)
        index += 1
        continue
      }
      // Coalesce a run of DATA extents into one head read.
      let end = index + 1
      while (end < spans.length && map.state(spans[end]!.extent) === extentStates.data) end += 1
      const last = spans[end - 1]!
      const offset = span.extent * extentBytes + span.startBytes
      const length = last.requestOffsetBytes + last.lengthBytes - span.requestOffsetBytes
      await this.#parts.head.readAnyInto(offset, out.subarray(span.requestOffsetBytes, span.requestOffsetBytes + length))
      index = end
    }
  }

  /** The fast path: every extent DATA, durably dirty and not awaited by a snapshot; aligned if encrypted. */
  async #tryFastWrite(offsetBytes: number, data: Buffer, spans: Span[]): Promise<boolean> {
    if (this.encrypted && (offsetBytes % sectorBytes !== 0 || data.length % sectorBytes !== 0)) return false
    const fast = (): boolean => spans.every((span) => this.#isFastExtent(span.extent))
    if (!fast()) return false
    const first = spans[0]!.extent
    const release = await this.#locks.acquireRange(first, first + spans.length - 1, false)
    try {
      if (!fast()) return false // something changed while we waited for the locks
      await this.#parts.head.write(offsetBytes, data)
      return true
    } finally {
      release()
    }
  }

  #isFastExtent(extent: number): boolean {
    const map = this.#parts.map
    if (map.state(extent) !== extentStates.data || this.#frozen?.isPending(extent) === true) return false
    return !this.#tracksDirty() || (map.isDirty(extent) && map.isDurablyDirty(extent))
  }

  /** Dirty bits must be durable once there is a base snapshot or one is being taken (see the invariants). */
  #tracksDirty(): boolean {
    return this.#base.snapshotId !== null || this.#frozen !== undefined
  }

  /** Make the dirty bits of many extents durable in one round (before a multi-extent change). */
  async #markDirtyAll(extents: Iterable<number>): Promise<void> {
    if (!this.#tracksDirty()) return
    const pending: Array<Promise<void>> = []
    for (const extent of extents) {
      const durable = this.#parts.map.markDirty(extent)
      if (durable !== undefined) pending.push(durable)
    }
    await Promise.all(pending)
  }

  /** A write that changes extent states (or needs copy-on-write): its extents held exclusively. */
  async #slowWrite(offsetBytes: number, data: Buffer, spans: Span[]): Promise<void> {
    // One round of dirty bits for the whole request, not one per extent.
    await this.#markDirtyAll(spans.map((span) => span.extent))
    const first = spans[0]!.extent
    const release = await this.#locks.acquireRange(first, first + spans.length - 1, true)
    try {
      for (const span of spans) await this.#prepareForChange(span.extent, isFullExtent(span))
      await this.#parts.head.writeAny(offsetBytes, data)
      for (const span of spans) this.#parts.map.setState(span.extent, extentStates.data)
    } finally {
      release()
    }
  }

  async #zeroSpan(span: Span, noHole: boolean): Promise<void> {
    const map = this.#parts.map
    const release = await this.#locks.acquire(span.extent, true)
    try {
      const alreadyZero = await this.#readsAsZero(span.extent)
      if (alreadyZero && !noHole) return
      await this.#prepareForChange(span.extent, isFullExtent(span) && !noHole)
      const offset = span.extent * extentBytes + span.startBytes
      if (isFullExtent(span) && !noHole) {
        // Whole extents are zeroed in the map; the hole is punched after the state is durable.
        map.setState(span.extent, extentStates.zero)
        return
      }
      await this.#parts.head.zeroAny(offset, span.lengthBytes)
      map.setState(span.extent, extentStates.data)
    } finally {
      release()
    }
  }

  /**
   * Under the extent's exclusive lock, before its content changes: hand the old content to a
   * running snapshot, make the dirty bit durable, and make the head region hold the extent's
   * current content unless the change overwrites all of it.
   */
  async #prepareForChange(extent: number, overwritesAll: boolean): Promise<void> {
    const frozen = this.#frozen
    if (frozen?.isPending(extent) === true) await frozen.preserve(extent, await this.#extentContent(extent))
    if (this.#tracksDirty()) {
      const durable = this.#parts.map.markDirty(extent)
      if (durable !== undefined) await durable
    } else {
      this.#parts.map.markDirtyInMemory(extent)
    }
    if (overwritesAll) return
    const state = this.#parts.map.state(extent)
    if (state === extentStates.base) {
      const id = await this.#base.entry(extent)
      if (id !== null) await this.#fetchIntoHead(extent, id)
    } else if (state === extentStates.zero) {
      await this.#parts.head.zeroRange(extent * extentBytes, extentBytes)
    }
  }

  /** Content of an extent (held exclusively): null for zeroes. */
  async #extentContent(extent: number): Promise<Buffer | null> {
    const state = this.#parts.map.state(extent)
    if (state === extentStates.data) return this.#parts.head.read(extent * extentBytes, extentBytes)
    if (state !== extentStates.base) return null
    const id = await this.#base.entry(extent)
    return id === null ? null : this.#fetch(id)
  }

  async #fetch(id: ChunkId): Promise<Buffer> {
    const plain = await this.#parts.chunkStore.get(id)
    if (plain.length !== extentBytes) throw new StoreError('CHUNK_CORRUPT', `volume ${this.id}: a snapshot extent is ${plain.length} bytes, not ${extentBytes}`)
    return plain
  }

  async #fetchIntoHead(extent: number, id: ChunkId): Promise<void> {
    await this.#parts.head.write(extent * extentBytes, await this.#fetch(id))
  }

  async #hydrateIfRemote(extent: number): Promise<boolean> {
    const map = this.#parts.map
    if (map.state(extent) !== extentStates.base || (await this.#base.entry(extent)) === null) return false
    const release = await this.#locks.acquire(extent, true)
    try {
      if (map.state(extent) !== extentStates.base) return false
      const id = await this.#base.entry(extent)
      if (id === null) return false
      await this.#fetchIntoHead(extent, id)
      // Hydration does not change the content: the extent stays clean.
      map.setState(extent, extentStates.data)
      return true
    } finally {
      release()
    }
  }

  /** One flush round: capture states, fsync the head, persist the captured states. */
  async #flushRound(): Promise<void> {
    const map = this.#parts.map
    const captured = map.captureStates()
    try {
      await this.#parts.head.sync()
      await map.persistStates(captured)
    } catch (error) {
      map.recapture(captured)
      throw error
    }
    this.#reclaimer.add([...captured].filter(([, state]) => state === extentStates.zero).map(([extent]) => extent))
  }
}
