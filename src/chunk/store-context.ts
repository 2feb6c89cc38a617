// What the chunk store's parts share (store.ts, gc.ts, compact.ts, scrub.ts, recovery.ts): the
// injected world, the catalog, the writers and read handles, counters, and the verified read.
//
// Contract: readVerified returns plaintext only after every check of store-codec.ts passed;
// it re-reads the location once when a pack vanished under it (compaction deleted the pack
// between the location lookup and the open), so readers never see a spurious NOT_FOUND.
// Never: hold a pack handle past one read (the handle cache owns them).
import type { HeldChunks } from './hold.ts'
import type { DomainKeys } from '../crypto/index.ts'
import type { Io } from '../io/index.ts'
import { chunkIdHex, isStoreError, StoreError, type ChunkId, type Clock, type KeyDomainId, type Random } from '../lib/index.ts'
import type { MetaStore } from '../meta/index.ts'
import type { ChunkHasher } from './hash.ts'
import { decodeLocation, locationKey, sameLocation, type Location, type Tier } from './location.ts'
import type { PackCatalog } from './pack-catalog.ts'
import { PackHandleCache, readFrameBytes } from './pack-reader.ts'
import type { PackWriter } from './pack-writer.ts'
import { decodeFrame } from './store-codec.ts'

/** Where keys come from: src/chunk/keyring.ts KeyRing satisfies it. */
export interface ChunkKeySource {
  keysFor(domain: KeyDomainId): Promise<DomainKeys>
}

export type Logger = (event: string, fields: object) => void

export interface StoreCounters {
  puts: number
  dedupHits: number
  bytesIn: number
  bytesStored: number
  gets: number
  bytesOut: number
  corrupt: number
  gcCollectedChunks: number
  gcCollectedBytes: number
  compactedPacks: number
  compactReclaimedBytes: number
  movedChunks: number
}

export function newCounters(): StoreCounters {
  return {
    puts: 0,
    dedupHits: 0,
    bytesIn: 0,
    bytesStored: 0,
    gets: 0,
    bytesOut: 0,
    corrupt: 0,
    gcCollectedChunks: 0,
    gcCollectedBytes: 0,
    compactedPacks: 0,
    compactReclaimedBytes: 0,
    movedChunks: 0,
  }
}

export interface StoreContext {
  io: Io
  meta: MetaStore
  clock: Clock
  random: Random
  keyRing: ChunkKeySource
  hasher: ChunkHasher
  hashAlgorithmCode: number
  catalog: PackCatalog
  handles: PackHandleCache
  writers: Record<Tier, PackWriter>
  counters: StoreCounters
  log: Logger
  gcGraceMs: number
  compression: boolean
  /** Chunks writers hold until they reference them (hold.ts); GC skips them. */
  held: HeldChunks
}

export async function readLocation(context: StoreContext, id: ChunkId): Promise<Location | undefined> {
  const stored = await context.meta.read((tx) => tx.get(locationKey(id)))
  return stored === undefined ? undefined : decodeLocation(stored, id)
}

/** Where a located chunk's pack file is; NOT_FOUND when its pack has no record (any more). */
export async function packPathOf(context: StoreContext, id: ChunkId, location: Location): Promise<string> {
  const tier = await context.catalog.tierOf(location.packId)
  if (tier === undefined) {
    throw new StoreError('NOT_FOUND', `chunk ${chunkIdHex(id)} points into pack ${location.packId}, which has no record`)
  }
  return context.catalog.packPath(location.packId, tier)
}

/** The raw frame at a location (header + payload, as much as the file holds). */
export async function readRawFrame(context: StoreContext, id: ChunkId, location: Location): Promise<{ frame: Buffer; path: string }> {
  const path = await packPathOf(context, id, location)
  const frame = await context.handles.withHandle(path, (handle) => readFrameBytes(handle, location.offset, location.storedBytes))
  return { frame, path }
}

/** Read and fully verify a chunk at a location; CHUNK_CORRUPT on any mismatch. */
export async function readVerifiedAt(context: StoreContext, id: ChunkId, location: Location): Promise<Buffer> {
  const { frame, path } = await readRawFrame(context, id, location)
  const keys = await context.keyRing.keysFor(location.domain)
  try {
    return decodeFrame(frame, { ...location, id }, keys, context.hasher, `pack ${path} at offset ${location.offset}`)
  } catch (error) {
    if (isStoreError(error, 'CHUNK_CORRUPT')) {
      context.counters.corrupt += 1
      context.log('chunk.corrupt', { id: chunkIdHex(id), packId: location.packId, offset: location.offset, message: error.message })
    }
    throw error
  }
}

/**
 * Look up and read a chunk; NOT_FOUND when it has no location. When the read fails and the
 * location changed meanwhile (compaction or a tier move took the chunk elsewhere and deleted
 * the pack), it reads again at the new location; a pack that is gone while the location still
 * points into it is CHUNK_CORRUPT (lost data), never NOT_FOUND.
 */
export async function readVerified(context: StoreContext, id: ChunkId): Promise<Buffer> {
  let location = await readLocation(context, id)
  for (let attempt = 1; ; attempt += 1) {
    if (location === undefined) throw new StoreError('NOT_FOUND', `chunk ${chunkIdHex(id)} not found`)
    try {
      return await readVerifiedAt(context, id, location)
    } catch (error) {
      if (!isStoreError(error)) throw error
      const now = await readLocation(context, id)
      if (attempt < 3 && (now === undefined || !sameLocation(now, location))) {
        location = now
        continue
      }
      if (!isStoreError(error, 'NOT_FOUND')) throw error
      context.counters.corrupt += 1
      throw new StoreError('CHUNK_CORRUPT', `chunk ${chunkIdHex(id)} in pack ${location.packId}: the pack file or record is missing`, { cause: error })
    }
  }
}
