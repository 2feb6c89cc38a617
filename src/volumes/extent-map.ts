// Per-extent state of a live volume, in memory and durably in the MetaStore
// (('vol', 'extent', volumeId, page): version byte 1 then one byte per extent; docs/format/volumes.md).
//
// Each extent byte: bits 0-1 the state, bit 2 "dirty" (changed since the last snapshot).
//   BASE (0)  the extent reads as the base snapshot's manifest says (chunk or zeroes); its head
//             region is a hole (but see LiveVolume.recoverUncleanShutdown). Fresh volumes are all BASE.
//   DATA (1)  the head holds the extent.
//   ZERO (2)  reads as zeroes; the head region may still hold old bytes (trimmed, not punched).
//   HOLE (3)  reads as zeroes; the head region is a hole (punched).
// An absent page is all BASE and clean.
//
// Two copies: `live` is the truth for I/O; `durable` is what the MetaStore holds (or is being
// committed). Rules that keep a crash safe:
// - Dirty bits are write-ahead: markDirty() returns a promise that resolves once the bit is
//   durable, and writers modify the head only after it resolved (so a snapshot after a crash
//   never misses a change). Durable dirty is always a superset of live dirty, except for a
//   volume without a base snapshot, which uses markDirtyInMemory (see live-volume.ts).
// - State changes reach `durable` only through flush: captureStates() records the states as of
//   the flush's start, the head is fsynced, then persistStates() commits them. A state is never
//   durable before the head bytes it depends on.
// Concurrent requests to persist pages share commits (one transaction per round).
import { assert, volumeLimits } from '../lib/index.ts'
import { decodeKey, encodeRecord, recordBody, scanAll, type MetaStore, type WriteTx } from '../meta/index.ts'
import { ExtentSet } from './extent-set.ts'
import { GroupCommit } from './group-commit.ts'
import type { VolumeId } from './ids.ts'
import { extentPageKey, extentPageRange } from './records.ts'

export const extentStates = { base: 0, data: 1, zero: 2, hole: 3 } as const
export type ExtentState = (typeof extentStates)[keyof typeof extentStates]

const stateMask = 0x03
const dirtyBit = 0x04
const pageVersion = 1
const pageExtents = volumeLimits.extentStatePageExtents

export class ExtentMap {
  readonly #meta: MetaStore
  readonly #volumeId: VolumeId
  #live: Uint8Array
  #durable: Uint8Array
  /** Extents whose live state changed since the last captureStates(). */
  #changed = new Set<number>()
  readonly #pages: GroupCommit<number>

  private constructor(meta: MetaStore, volumeId: VolumeId, durable: Uint8Array) {
    this.#meta = meta
    this.#volumeId = volumeId
    this.#durable = durable
    this.#live = Uint8Array.from(durable)
    this.#pages = new GroupCommit<number>((pages) => this.#commitPages(pages))
  }

  static async load(meta: MetaStore, volumeId: VolumeId, extentCount: number): Promise<ExtentMap> {
    const durable = new Uint8Array(extentCount)
    await meta.read(async (tx) => {
      for await (const entry of scanAll(tx, extentPageRange(volumeId))) {
        const page = decodeKey(entry.key)[3]
        const what = `('vol', 'extent', ${volumeId}, ${String(page)})`
        if (typeof page !== 'number') throw new TypeError(`${what}: extent pages are keyed by number`)
        const { body } = recordBody(entry.value, [pageVersion], what)
        const first = page * pageExtents
        // Pages past the end can only come from a bug; bytes past the size are ignored.
        if (first < extentCount) durable.set(body.subarray(0, Math.min(body.length, extentCount - first)), first)
      }
    })
    return new ExtentMap(meta, volumeId, durable)
  }

  get extentCount(): number {
    return this.#live.length
  }

  state(extent: number): ExtentState {
    return ((this.#live[extent] ?? 0) & stateMask) as ExtentState
  }

  isDirty(extent: number): boolean {
    return ((this.#live[extent] ?? 0) & dirtyBit) !== 0
  }

  /** Whether the extent's dirty bit is durable (a write may modify it without a new intent). */
  isDurablyDirty(extent: number): boolean {
    return ((this.#durable[extent] ?? 0) & dirtyBit) !== 0
  }

  setState(extent: number, state: ExtentState): void {
    assert(extent >= 0 && extent < this.#live.length, 'extent in range')
    this.#live[extent] = (this.#live[extent]! & ~stateMask) | state
    this.#changed.add(extent)
  }

  /** Mark live-dirty; resolves when the dirty bit is durable (undefined: it already was). */
  markDirty(extent: number): Promise<void> | undefined {
    assert(extent >= 0 && extent < this.#live.length, 'extent in range')
    this.#live[extent]! |= dirtyBit
    if ((this.#durable[extent]! & dirtyBit) !== 0) return undefined
    this.#durable[extent]! |= dirtyBit
    return this.#pages.request(Math.floor(extent / pageExtents))
  }

  /** Mark live-dirty only (a volume without a base snapshot needs no durable dirty bits). */
  markDirtyInMemory(extent: number): void {
    assert(extent >= 0 && extent < this.#live.length, 'extent in range')
    this.#live[extent]! |= dirtyBit
  }

  /** The snapshot instant: the live dirty extents (ascending), now clean in `live` (still durable-dirty). */
  takeDirty(): ExtentSet {
    const live = this.#live
    const taken = new ExtentSet(live.length)
    for (let extent = 0; extent < live.length; extent += 1) {
      if ((live[extent]! & dirtyBit) === 0) continue
      live[extent]! &= ~dirtyBit
      taken.add(extent)
    }
    return taken
  }

  /** A snapshot failed: its extents are dirty again (they never stopped being durably dirty). */
  restoreDirty(extents: Iterable<number>): void {
    for (const extent of extents) {
      if (extent >= this.#live.length) continue
      this.#live[extent]! |= dirtyBit
      this.#durable[extent]! |= dirtyBit
    }
  }

  /**
   * A snapshot holding these extents committed: clear their durable dirty bits unless they are
   * live-dirty again, writing the pages in the snapshot's own transaction.
   */
  clearDurableDirty(tx: WriteTx, extents: Iterable<number>): void {
    const pages = new Set<number>()
    for (const extent of extents) {
      if (extent >= this.#live.length || (this.#live[extent]! & dirtyBit) !== 0) continue
      this.#durable[extent]! &= ~dirtyBit
      pages.add(Math.floor(extent / pageExtents))
    }
    for (const page of pages) tx.put(extentPageKey(this.#volumeId, page), this.#pageBytes(page))
  }

  /** States changed since the last capture, as they are now (call before fsyncing the head). */
  captureStates(): Map<number, ExtentState> {
    const captured = new Map<number, ExtentState>()
    for (const extent of this.#changed) captured.set(extent, this.state(extent))
    this.#changed = new Set()
    return captured
  }

  /** Make captured states durable (call after the head fsync that covers them). */
  async persistStates(captured: Map<number, ExtentState>): Promise<void> {
    if (captured.size === 0) return
    const pages = new Set<number>()
    for (const [extent, state] of captured) {
      if (extent >= this.#durable.length) continue
      this.#durable[extent] = (this.#durable[extent]! & ~stateMask) | state
      pages.add(Math.floor(extent / pageExtents))
    }
    await Promise.all([...pages].map((page) => this.#pages.request(page)))
  }

  /** Put captured states back for the next flush (this flush failed before persisting them). */
  recapture(captured: Map<number, ExtentState>): void {
    for (const extent of captured.keys()) this.#changed.add(extent)
  }

  /** Grow to extentCount extents (new ones BASE, clean); durable pages need no change. */
  grow(extentCount: number): void {
    assert(extentCount >= this.#live.length, 'volumes only grow')
    const grow = (old: Uint8Array): Uint8Array => {
      const bigger = new Uint8Array(extentCount)
      bigger.set(old)
      return bigger
    }
    this.#live = grow(this.#live)
    this.#durable = grow(this.#durable)
  }

  /** Counts per state (for describe and tests). */
  counts(): { base: number; data: number; zero: number; hole: number; dirty: number } {
    const counts = { base: 0, data: 0, zero: 0, hole: 0, dirty: 0 }
    for (const byte of this.#live) {
      const state = byte & stateMask
      if (state === extentStates.base) counts.base += 1
      else if (state === extentStates.data) counts.data += 1
      else if (state === extentStates.zero) counts.zero += 1
      else counts.hole += 1
      if ((byte & dirtyBit) !== 0) counts.dirty += 1
    }
    return counts
  }

  /** Wait for every page commit requested so far. */
  settle(): Promise<void> {
    return this.#pages.idle()
  }

  #pageBytes(page: number): Buffer {
    const first = page * pageExtents
    return encodeRecord(pageVersion, this.#durable.subarray(first, Math.min(first + pageExtents, this.#durable.length)))
  }

  async #commitPages(pages: ReadonlySet<number>): Promise<void> {
    await this.#meta.transact(async (tx) => {
      for (const page of pages) tx.put(extentPageKey(this.#volumeId, page), this.#pageBytes(page))
    })
  }
}
