// The pack catalog: pack records and chunk locations in the MetaStore, with an in-memory mirror
// of the pack records (tier for path lookups, sizes for stats and compaction choices).
//
// Contract: every change to locations moves the affected packs' live bytes/chunks in the same
// transaction (docs/format/pack.md 2.7 invariant 3). The mirror is updated after the commit, by
// adding deltas (which commute), so concurrent transactions cannot leave it stale; it is a
// cache, and decisions that must be exact (deleting a pack) re-read the record in their tx.
// Never: index a frame that was not fsynced (callers commit only after the data fsync); point a
// location at a pack without counting it in that pack's record.
import { join } from 'node:path'
import { assert, chunkIdHex, StoreError, type Clock, type PackId } from '../lib/index.ts'
import { scanAll, type MetaStore, type WriteTx } from '../meta/index.ts'
import {
  decodeCounter,
  decodeLocation,
  decodePackRecord,
  encodeCounter,
  encodeLocation,
  encodePackRecord,
  locationKey,
  packCounterKey,
  packKey,
  packRange,
  sameLocation,
  type Location,
  type PackRecord,
  type Tier,
} from './location.ts'
import { frameBytesOf, packFileName, type FrameInfo } from './pack-format.ts'
import { armGc, decodeRef, refKey } from './refs.ts'

export interface PackDelta {
  frameBytes: number
  liveBytes: number
  liveChunks: number
}

export class PackDeltas {
  readonly byPack = new Map<PackId, PackDelta>()

  add(packId: PackId, delta: Partial<PackDelta>): void {
    const current = this.byPack.get(packId) ?? { frameBytes: 0, liveBytes: 0, liveChunks: 0 }
    current.frameBytes += delta.frameBytes ?? 0
    current.liveBytes += delta.liveBytes ?? 0
    current.liveChunks += delta.liveChunks ?? 0
    this.byPack.set(packId, current)
  }

  /** Count a location pointing into (sign 1) or no longer pointing into (sign -1) its pack. */
  addLocation(location: Location, sign: 1 | -1): void {
    this.add(location.packId, { liveBytes: sign * frameBytesOf(location.storedBytes), liveChunks: sign })
  }

  /** Apply to the pack records inside tx. A pack without a record is a damaged store. */
  async write(tx: WriteTx): Promise<void> {
    const packIds = [...this.byPack.keys()]
    const stored = await tx.getMany(packIds.map(packKey))
    packIds.forEach((packId, at) => {
      const bytes = stored[at]
      if (bytes === undefined) throw new StoreError('IO_ERROR', `metadata: a location points into pack ${packId}, which has no record`)
      const record = applyDelta(decodePackRecord(bytes, packId), this.byPack.get(packId) as PackDelta)
      tx.put(packKey(packId), encodePackRecord(record))
    })
  }
}

function applyDelta(record: PackRecord, delta: PackDelta): PackRecord {
  const next = {
    ...record,
    frameBytes: record.frameBytes + delta.frameBytes,
    liveBytes: record.liveBytes + delta.liveBytes,
    liveChunks: record.liveChunks + delta.liveChunks,
  }
  assert(next.liveBytes >= 0 && next.liveChunks >= 0 && next.liveBytes <= next.frameBytes, 'pack accounting stays consistent')
  return next
}

/** A frame written and fsynced, ready to be indexed. */
export interface WrittenFrame {
  info: FrameInfo
  location: Location
  /** For copies (compaction, tier moves): the location it replaces, only if still current. */
  replaces: Location | undefined
}

export class PackCatalog {
  readonly #meta: MetaStore
  readonly #clock: Clock
  readonly #tierPaths: Readonly<Record<Tier, string>>
  readonly packs = new Map<PackId, PackRecord>()

  constructor(meta: MetaStore, clock: Clock, tierPaths: Readonly<Record<Tier, string>>) {
    this.#meta = meta
    this.#clock = clock
    this.#tierPaths = tierPaths
  }

  tierPath(tier: Tier): string {
    return this.#tierPaths[tier]
  }

  packPath(packId: PackId, tier: Tier): string {
    return join(this.#tierPaths[tier], packFileName(packId))
  }

  /** Load the mirror from the pack records. */
  async load(): Promise<void> {
    this.packs.clear()
    await this.#meta.read(async (tx) => {
      for await (const entry of scanAll(tx, packRange)) {
        const packId = packIdOfKey(entry.key)
        this.packs.set(packId, decodePackRecord(entry.value, packId))
      }
    })
  }

  /** The tier of a pack: from the mirror, else from its record; undefined when there is none. */
  async tierOf(packId: PackId): Promise<Tier | undefined> {
    const known = this.packs.get(packId)
    if (known) return known.tier
    const stored = await this.#meta.read((tx) => tx.get(packKey(packId)))
    return stored === undefined ? undefined : decodePackRecord(stored, packId).tier
  }

  /** Allocate a pack id and write its record (state open) in one transaction. */
  async createPack(tier: Tier): Promise<{ packId: PackId; createdMs: number }> {
    const createdMs = this.#clock.nowMs()
    const record: PackRecord = { tier, state: 'open', createdMs, frameBytes: 0, liveBytes: 0, liveChunks: 0 }
    const packId = await this.#meta.transact(async (tx) => {
      const next = (decodeCounter(await tx.get(packCounterKey)) + 1) as PackId
      if (await tx.get(packKey(next))) throw new StoreError('IO_ERROR', `metadata: pack ${next} exists but the pack counter is below it`)
      tx.put(packCounterKey, encodeCounter(next))
      tx.put(packKey(next), encodePackRecord(record))
      return next
    })
    this.packs.set(packId, record)
    return { packId, createdMs }
  }

  /** Index a fsynced batch of frames of one pack; returns which frames got their location. */
  async commitFrames(packId: PackId, frames: readonly WrittenFrame[]): Promise<boolean[]> {
    let deltas = new PackDeltas()
    const indexed = await this.#meta.transact(async (tx) => {
      deltas = new PackDeltas() // the body may re-run on conflict
      const result = await indexFrames(tx, packId, frames, this.#clock.nowMs(), deltas)
      await deltas.write(tx)
      return result
    })
    this.applyToMirror(deltas)
    return indexed
  }

  async markSealed(packId: PackId): Promise<void> {
    await this.#meta.transact(async (tx) => {
      const stored = await tx.get(packKey(packId))
      if (stored === undefined) throw new StoreError('IO_ERROR', `metadata: pack ${packId} lost its record while being sealed`)
      tx.put(packKey(packId), encodePackRecord({ ...decodePackRecord(stored, packId), state: 'sealed' }))
    })
    const known = this.packs.get(packId)
    if (known) known.state = 'sealed'
  }

  /** Delete the record of a pack that never held a frame (its file could not be created). */
  async dropEmptyPack(packId: PackId): Promise<void> {
    await this.#meta.transact(async (tx) => {
      const stored = await tx.get(packKey(packId))
      if (stored === undefined) return
      assert(decodePackRecord(stored, packId).frameBytes === 0, 'only a pack without frames is dropped')
      tx.delete(packKey(packId))
    })
    this.packs.delete(packId)
  }

  applyToMirror(deltas: PackDeltas): void {
    for (const [packId, delta] of deltas.byPack) {
      const known = this.packs.get(packId)
      if (known) this.packs.set(packId, applyDelta(known, delta))
    }
  }
}

export function packIdOfKey(encoded: Buffer): PackId {
  // ('pack', id): the id is the last 8 bytes of the key (uint part).
  const value = encoded.readBigUInt64BE(encoded.length - 8)
  assert(value > 0n && value <= BigInt(Number.MAX_SAFE_INTEGER), 'pack record keys hold a pack id')
  return Number(value) as PackId
}

/**
 * Point locations at frames of packId inside tx, counting them in deltas. New chunks (no
 * `replaces`) are indexed only when they have no location yet and join the GC queue at nowMs
 * until referenced; copies only when their chunk still sits at `replaces`.
 */
export async function indexFrames(tx: WriteTx, packId: PackId, frames: readonly WrittenFrame[], nowMs: number, deltas: PackDeltas): Promise<boolean[]> {
  const storedLocations = await tx.getMany(frames.map((frame) => locationKey(frame.info.id)))
  const storedRefs = await tx.getMany(frames.map((frame) => refKey(frame.info.id)))
  const changed = new Map<string, Location>()
  return frames.map((frame, at) => {
    const { id } = frame.info
    assert(frame.location.packId === packId, 'frames of one batch share a pack')
    deltas.add(packId, { frameBytes: frameBytesOf(frame.info.storedBytes) })
    const hex = chunkIdHex(id)
    const stored = storedLocations[at]
    const current = changed.get(hex) ?? (stored === undefined ? undefined : decodeLocation(stored, id))
    // A new chunk needs no location yet; a copy needs its chunk still at the copied frame.
    const wanted = frame.replaces === undefined ? current === undefined : current !== undefined && sameLocation(current, frame.replaces)
    if (!wanted) return false
    if (current !== undefined) deltas.addLocation(current, -1)
    deltas.addLocation(frame.location, 1)
    tx.put(locationKey(id), encodeLocation(frame.location))
    changed.set(hex, frame.location)
    if (frame.replaces === undefined) {
      const ref = storedRefs[at]
      armGc(tx, id, ref === undefined ? undefined : decodeRef(ref, id), nowMs)
    }
    return true
  })
}
