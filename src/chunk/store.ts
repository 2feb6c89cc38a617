// ChunkStore: the content-addressed chunk store (docs/format/pack.md, DESIGN.md section 2).
//
// Contract:
// - put() resolves only when the chunk is durable: its frame fsynced and its location committed
//   (or it already was). A new chunk starts with refcount 0 and a GC entry; callers reference it
//   with addRefs() in the transaction of the record that uses it, within half the GC grace
//   period of put() resolving (after that, addRefs may find it collected: CHUNK_MISSING), or
//   hold it (put with a ChunkHold, hold.ts) until they do.
// - get() returns only bytes that re-hash to the id (CHUNK_CORRUPT otherwise, NOT_FOUND when
//   the chunk has no location).
// - Refcounts move in the caller's transaction (addRefs/dropRefs/refCount).
// - Maintenance (collectGarbage, compact, moveToTier, scrub) runs alongside reads and writes.
// - close() waits for running operations, seals nothing, and leaves the MetaStore open (its
//   owner closes it); every call after close() is StoreError CLOSED.
// Invariants: see docs/format/pack.md 2.7. Ids never change when chunks move between packs
// or tiers.
// Never: acknowledge a put before fsync + commit; return unverified bytes; touch a file outside
// the tier directories; modify `plain` (callers must not modify it until put() resolves).
import { isAbsolute, join, resolve } from 'node:path'
import type { Io } from '../io/index.ts'
import {
  chunkIdHex,
  isStoreError,
  limits,
  plainDomain,
  StoreError,
  throwIfAborted,
  type ChunkId,
  type Clock,
  type KeyDomainId,
  type PackId,
  type Random,
} from '../lib/index.ts'
import type { MetaStore, ReadTx, WriteTx } from '../meta/index.ts'
import { compactPacks, moveChunksToTier, type CompactReport, type MoveReport } from './compact.ts'
import { collectGarbage, type GcReport } from './gc.ts'
import { ChunkHold, HeldChunks } from './hold.ts'
import { createChunkHasher, defaultHashAlgorithm, hashAlgorithmCodes, hashAlgorithmFromCode, type HashAlgorithm } from './hash.ts'
import { decodeFormat, decodeLocation, encodeFormat, formatKey, locationKey, tiers, type Location, type Tier } from './location.ts'
import { PackCatalog } from './pack-catalog.ts'
import { packIdFromFileName } from './pack-format.ts'
import { PackHandleCache, readPackHeader } from './pack-reader.ts'
import { PackWriter } from './pack-writer.ts'
import { recoverPacks, rebuildIndex, type RebuildReport, type RecoveryReport } from './recovery.ts'
import { addRefs, armGc, decodeRef, dropRefs, refCount, refKey } from './refs.ts'
import { scrubChunks, type ScrubOptions, type ScrubReport } from './scrub.ts'
import { encodeFrame } from './store-codec.ts'
import { newCounters, readLocation, readVerified, type ChunkKeySource, type Logger, type StoreContext, type StoreCounters } from './store-context.ts'

export interface ChunkStoreOptions {
  io: Io
  meta: MetaStore
  keyRing: ChunkKeySource
  clock: Clock
  random: Random
  tierPaths: Record<Tier, string>
  /** Used when the store is created; an existing store keeps its recorded algorithm. */
  hashAlgorithm?: HashAlgorithm
  /** Compress chunks when it shrinks them (default true). */
  compression?: boolean
  gcGraceMs?: number
  packTargetBytes?: number
  logger?: Logger
}

export interface PutOptions {
  domain?: KeyDomainId
  tier?: Tier
  signal?: AbortSignal
  /** Keep the chunk from GC until the hold is released (a writer slower than gcGraceMs/2). */
  hold?: ChunkHold
}

export interface PutResult {
  id: ChunkId
  plainBytes: number
  storedBytes: number
  deduplicated: boolean
}

export interface ChunkLocation extends Location {
  tier: Tier
}

export interface ChunkStoreStats extends StoreCounters {
  syncs: number
  batches: number
  packsCreated: number
  packsSealed: number
  packsAbandoned: number
  packs: Record<Tier, number>
  liveBytes: number
  deadBytes: number
}

export class ChunkStore {
  readonly #context: StoreContext
  readonly #inflight = new Map<string, Promise<PutResult>>()
  readonly #running = new Set<Promise<unknown>>()
  #closing: Promise<void> | undefined
  /** What recovery found and did at open. */
  readonly recovery: RecoveryReport
  readonly hashAlgorithm: HashAlgorithm

  private constructor(context: StoreContext, recovery: RecoveryReport) {
    this.#context = context
    this.recovery = recovery
    this.hashAlgorithm = context.hasher.algorithm
  }

  static async open(options: ChunkStoreOptions): Promise<ChunkStore> {
    const context = await openContext(options, 'open')
    const recovery = await recoverPacks(context)
    return new ChunkStore(context, recovery)
  }

  /** Rebuild locations and pack records from the pack files (offline: the store must not be open). */
  static async rebuildIndex(options: ChunkStoreOptions): Promise<RebuildReport> {
    const context = await openContext(options, 'rebuild')
    try {
      return await rebuildIndex(context)
    } finally {
      await context.handles.close()
    }
  }

  /** The id plain would have in domain (without storing it). */
  idOf(plain: Uint8Array, domain: KeyDomainId = plainDomain): Promise<ChunkId> {
    return this.#operation(async () => {
      const keys = await this.#context.keyRing.keysFor(domain)
      return this.#context.hasher.id(plain, keys.idKey)
    })
  }

  put(plain: Uint8Array, options: PutOptions = {}): Promise<PutResult> {
    return this.#operation(async () => {
      const result = await this.#put(plain, options)
      options.hold?.add(result.id)
      return result
    })
  }

  /** A hold for the chunks of one write: pass it to put(), release it after the commit. */
  hold(): ChunkHold {
    return new ChunkHold(this.#context.held)
  }

  async #put(plain: Uint8Array, options: PutOptions): Promise<PutResult> {
    checkPlain(plain)
    const tier = options.tier ?? 'hot'
    if (!tiers.includes(tier)) throw new StoreError('INVALID_ARGUMENT', `unknown tier "${String(tier)}"`)
    throwIfAborted(options.signal)
    const context = this.#context
    const keys = await context.keyRing.keysFor(options.domain ?? plainDomain)
    const bytes = Buffer.from(plain.buffer, plain.byteOffset, plain.byteLength)
    const id = context.hasher.id(bytes, keys.idKey)
    context.counters.puts += 1
    context.counters.bytesIn += bytes.length
    for (;;) {
      const hex = chunkIdHex(id)
      const shared = this.#inflight.get(hex)
      if (shared !== undefined) {
        try {
          const result = await shared
          context.counters.dedupHits += 1
          return { ...result, deduplicated: true }
        } catch (error) {
          // Another caller's abort is not ours: try on our own.
          if (isStoreError(error, 'ABORTED') && options.signal?.aborted !== true) continue
          throw error
        }
      }
      const writing = this.#putOnce(id, bytes, keys, tier, options.signal)
      this.#inflight.set(hex, writing)
      try {
        return await writing
      } finally {
        this.#inflight.delete(hex)
      }
    }
  }

  async #putOnce(id: ChunkId, plain: Buffer, keys: Awaited<ReturnType<ChunkKeySource['keysFor']>>, tier: Tier, signal: AbortSignal | undefined): Promise<PutResult> {
    const context = this.#context
    for (let attempt = 0; ; attempt += 1) {
      const existing = await this.#dedup(id)
      if (existing !== undefined) {
        context.counters.dedupHits += 1
        return { id, plainBytes: existing.plainBytes, storedBytes: existing.storedBytes, deduplicated: true }
      }
      const frame = encodeFrame(id, plain, keys, { compression: context.compression, random: context.random })
      const appended = await context.writers[tier].append(frame, undefined, signal)
      if (appended.indexed) {
        context.counters.bytesStored += frame.info.storedBytes
        return { id, plainBytes: plain.length, storedBytes: frame.info.storedBytes, deduplicated: false }
      }
      // Someone located the chunk between our lookup and our commit: dedup against it.
      if (attempt >= 2) throw new StoreError('CONFLICT', `chunk ${chunkIdHex(id)}: its location kept changing during put`)
    }
  }

  /**
   * The chunk's location if it is already stored. A zero-ref chunk's GC entry is re-armed with
   * the current time first, in a transaction that re-checks the location, so a GC running
   * before the caller's addRefs cannot take it (docs/format/pack.md 2.7). An entry less than
   * half a grace period old is left as it is: the chunk cannot be collected for at least another
   * half period, and repeated chunks (zero-filled extents) do not cost a commit each.
   */
  async #dedup(id: ChunkId): Promise<Location | undefined> {
    const { meta, clock, gcGraceMs } = this.#context
    const [storedLocation, storedRef] = await meta.read((tx) => tx.getMany([locationKey(id), refKey(id)]))
    if (storedLocation === undefined) return undefined
    const ref = storedRef === undefined ? undefined : decodeRef(storedRef, id)
    if (ref !== undefined && (ref.count > 0 || clock.nowMs() - ref.zeroSinceMs < gcGraceMs / 2)) {
      return decodeLocation(storedLocation, id)
    }
    return meta.transact(async (tx) => {
      const [location, ref] = await tx.getMany([locationKey(id), refKey(id)])
      if (location === undefined) return undefined // GC won: write the chunk again
      armGc(tx, id, ref === undefined ? undefined : decodeRef(ref, id), clock.nowMs())
      return decodeLocation(location, id)
    })
  }

  get(id: ChunkId, options: { signal?: AbortSignal } = {}): Promise<Buffer> {
    return this.#operation(() => this.#get(id, options))
  }

  async #get(id: ChunkId, options: { signal?: AbortSignal }): Promise<Buffer> {
    throwIfAborted(options.signal)
    const plain = await readVerified(this.#context, id)
    this.#context.counters.gets += 1
    this.#context.counters.bytesOut += plain.length
    return plain
  }

  /** Where a chunk is stored, or undefined when it has no location. */
  locate(id: ChunkId): Promise<ChunkLocation | undefined> {
    return this.#operation(async () => {
      const location = await readLocation(this.#context, id)
      if (location === undefined) return undefined
      const tier = await this.#context.catalog.tierOf(location.packId)
      if (tier === undefined) throw new StoreError('CHUNK_CORRUPT', `chunk ${chunkIdHex(id)} points into pack ${location.packId}, which has no record`)
      return { ...location, tier }
    })
  }

  /** Add a reference per occurrence of each id, in the caller's transaction. */
  addRefs(tx: WriteTx, ids: readonly ChunkId[]): Promise<void> {
    return this.#operation(() => addRefs(tx, ids))
  }

  /** Drop a reference per occurrence of each id, in the caller's transaction. */
  dropRefs(tx: WriteTx, ids: readonly ChunkId[]): Promise<void> {
    return this.#operation(() => dropRefs(tx, ids, this.#context.clock.nowMs()))
  }

  refCount(tx: ReadTx, id: ChunkId): Promise<number> {
    return this.#operation(() => refCount(tx, id))
  }

  collectGarbage(options: { signal?: AbortSignal } = {}): Promise<GcReport> {
    return this.#operation(() => collectGarbage(this.#context, options))
  }

  compact(options: { signal?: AbortSignal } = {}): Promise<CompactReport> {
    return this.#operation(() => compactPacks(this.#context, options))
  }

  moveToTier(ids: readonly ChunkId[], tier: Tier, options: { signal?: AbortSignal } = {}): Promise<MoveReport> {
    return this.#operation(async () => {
      if (!tiers.includes(tier)) throw new StoreError('INVALID_ARGUMENT', `unknown tier "${String(tier)}"`)
      return moveChunksToTier(this.#context, ids, tier, options)
    })
  }

  scrub(options: ScrubOptions = {}): Promise<ScrubReport> {
    return this.#operation(() => scrubChunks(this.#context, options))
  }

  stats(): ChunkStoreStats {
    const { counters, writers, catalog } = this.#context
    const packs: Record<Tier, number> = { hot: 0, cold: 0 }
    let liveBytes = 0
    let frameBytes = 0
    for (const record of catalog.packs.values()) {
      packs[record.tier] += 1
      liveBytes += record.liveBytes
      frameBytes += record.frameBytes
    }
    const sum = (name: keyof PackWriter['counters']): number => writers.hot.counters[name] + writers.cold.counters[name]
    return {
      ...counters,
      syncs: sum('syncs'),
      batches: sum('batches'),
      packsCreated: sum('packsCreated'),
      packsSealed: sum('packsSealed'),
      packsAbandoned: sum('packsAbandoned'),
      packs,
      liveBytes,
      deadBytes: frameBytes - liveBytes,
    }
  }

  /** The pack each tier's writer appends to now (for tests and tools). */
  currentPackIds(): Record<Tier, PackId | undefined> {
    return { hot: this.#context.writers.hot.currentPackId, cold: this.#context.writers.cold.currentPackId }
  }

  async close(): Promise<void> {
    this.#closing ??= this.#closeOnce()
    return this.#closing
  }

  async #closeOnce(): Promise<void> {
    const { writers, handles } = this.#context
    await Promise.allSettled([...this.#running])
    await Promise.all([writers.hot.close(), writers.cold.close()])
    await handles.close()
  }

  /** Run a public operation: CLOSED after close(), and close() waits for it. */
  #operation<T>(fn: () => Promise<T>): Promise<T> {
    if (this.#closing !== undefined) return Promise.reject(new StoreError('CLOSED', 'the chunk store is closed'))
    let operation: Promise<T>
    try {
      operation = fn()
    } catch (error) {
      return Promise.reject(error)
    }
    this.#running.add(operation)
    const forget = (): void => {
      this.#running.delete(operation)
    }
    operation.then(forget, forget)
    return operation
  }
}

function checkPlain(plain: Uint8Array): void {
  if (!(plain instanceof Uint8Array)) throw new TypeError('chunks are Uint8Array')
  if (plain.length === 0 || plain.length > limits.chunkMaxBytes) {
    throw new StoreError('INVALID_ARGUMENT', `a chunk is 1..${limits.chunkMaxBytes} bytes, got ${plain.length}`)
  }
}

function checkTierPaths(tierPaths: Record<Tier, string>): Record<Tier, string> {
  const resolved = {} as Record<Tier, string>
  for (const tier of tiers) {
    const path = tierPaths?.[tier]
    if (typeof path !== 'string' || path === '' || !isAbsolute(path)) {
      throw new StoreError('INVALID_ARGUMENT', `tier "${tier}" needs an absolute directory path`)
    }
    resolved[tier] = resolve(path)
  }
  if (resolved.hot === resolved.cold) throw new StoreError('INVALID_ARGUMENT', 'the hot and cold tiers need different directories')
  return resolved
}

/**
 * Create or check the format record; the recorded hash algorithm wins over the requested one.
 * A new format record next to existing pack files means the metadata was lost or the wrong
 * metadata is configured: opening would adopt every chunk as unreferenced garbage, so open
 * refuses (ALREADY_EXISTS) and only rebuildIndex proceeds, with the packs' hash algorithm.
 */
async function ensureFormat(options: ChunkStoreOptions, tierPaths: Record<Tier, string>, mode: 'open' | 'rebuild', log: Logger): Promise<HashAlgorithm> {
  const requested = options.hashAlgorithm ?? defaultHashAlgorithm
  let stored = await options.meta.read((tx) => tx.get(formatKey))
  if (stored === undefined) {
    const existing = await hashCodeOfExistingPacks(options.io, tierPaths)
    if (existing !== undefined && mode === 'open') {
      throw new StoreError(
        'ALREADY_EXISTS',
        `the tier directories (${tierPaths.hot}, ${tierPaths.cold}) hold pack files but the metadata has no chunk store: ` +
          'point at the metadata that belongs to them, or run the index rebuild',
      )
    }
    const created = encodeFormat({ hashAlgorithmCode: existing ?? hashAlgorithmCodes[requested], createdMs: options.clock.nowMs() })
    stored = await options.meta.transact(async (tx) => {
      const raced = await tx.get(formatKey)
      if (raced !== undefined) return raced
      tx.put(formatKey, created)
      return created
    })
  }
  const recorded = decodeFormat(stored)
  let algorithm: HashAlgorithm
  try {
    algorithm = hashAlgorithmFromCode(recorded.hashAlgorithmCode)
  } catch (error) {
    throw new StoreError('IO_ERROR', `metadata record ('sys','format') is corrupt: hash algorithm code ${recorded.hashAlgorithmCode}`, { cause: error })
  }
  if (options.hashAlgorithm !== undefined && algorithm !== requested) {
    log('store.hash-algorithm-kept', { recorded: algorithm, requested })
  }
  return algorithm
}

/** The hash algorithm code in the header of some pack file in the tiers, if any has one. */
async function hashCodeOfExistingPacks(io: Io, tierPaths: Record<Tier, string>): Promise<number | undefined> {
  for (const tier of tiers) {
    for (const entry of await io.readdir(tierPaths[tier])) {
      if (!entry.isFile || packIdFromFileName(entry.name) === undefined) continue
      const handle = await io.open(join(tierPaths[tier], entry.name), 'r')
      try {
        const header = await readPackHeader(handle)
        if (header !== undefined) return header.hashAlgorithmCode
      } finally {
        await handle.close()
      }
    }
  }
  return undefined
}

async function openContext(options: ChunkStoreOptions, mode: 'open' | 'rebuild'): Promise<StoreContext> {
  const tierPaths = checkTierPaths(options.tierPaths)
  const packTargetBytes = options.packTargetBytes ?? limits.packTargetBytes
  if (!Number.isSafeInteger(packTargetBytes) || packTargetBytes < 4096 || packTargetBytes > limits.packTargetBytes * 2) {
    throw new StoreError('INVALID_ARGUMENT', `packTargetBytes must be 4096..${limits.packTargetBytes * 2}`)
  }
  const gcGraceMs = options.gcGraceMs ?? limits.gcGraceMsDefault
  if (!Number.isSafeInteger(gcGraceMs) || gcGraceMs < 0) throw new StoreError('INVALID_ARGUMENT', 'gcGraceMs must be a non-negative integer')
  const log: Logger = options.logger ?? (() => {})
  for (const tier of tiers) await options.io.mkdirp(tierPaths[tier])
  const algorithm = await ensureFormat(options, tierPaths, mode, log)
  const catalog = new PackCatalog(options.meta, options.clock, tierPaths)
  await catalog.load()
  const hashAlgorithmCode = hashAlgorithmCodes[algorithm]
  const writer = (tier: Tier): PackWriter => new PackWriter({ io: options.io, tier, catalog, hashAlgorithmCode, packTargetBytes, log })
  return {
    io: options.io,
    meta: options.meta,
    clock: options.clock,
    random: options.random,
    keyRing: options.keyRing,
    hasher: createChunkHasher(algorithm),
    hashAlgorithmCode,
    catalog,
    handles: new PackHandleCache(options.io, limits.packReadHandlesMax, log),
    writers: { hot: writer('hot'), cold: writer('cold') },
    counters: newCounters(),
    log,
    gcGraceMs,
    compression: options.compression ?? true,
    held: new HeldChunks(),
  }
}
