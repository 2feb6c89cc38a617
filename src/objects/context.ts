// What every operation of the objects layer shares: the stores, the injected world, the
// ingest budget and the chunker pool. Built once by openObjects.
import { ContentDefinedChunker, type ChunkStore, type ContentDefinedChunkerOptions, type Tier } from '../chunk/index.ts'
import { assert, objectLimits, StoreError, throwIfAborted, type Clock, type Random } from '../lib/index.ts'
import type { MetaStore } from '../meta/index.ts'
import type { StorageClass } from './api.ts'
import type { KeyManagement } from './kms.ts'
import type { AccessLog } from './intelligent-tiering.ts'
import type { DataManagementSettings } from './lifecycle-settings.ts'

export interface ObjectsContext {
  readonly meta: MetaStore
  readonly chunkStore: ChunkStore
  readonly clock: Clock
  readonly random: Random
  /** Region recorded for buckets created without one. */
  readonly defaultRegion: string
  readonly budget: ByteBudget
  readonly chunkers: ChunkerPool
  /** Lifecycle day, restore delays, key domains for SSE (lifecycle-settings.ts). */
  readonly dataManagement: DataManagementSettings
  /** The built-in KMS: customer managed keys of SSE-KMS (kms.ts). */
  readonly kms: KeyManagement
  /** Reads of INTELLIGENT_TIERING versions not yet written to metadata (intelligent-tiering.ts). */
  readonly accessLog: AccessLog
}

/**
 * Where a storage class keeps new chunks: archive classes in the cold tier. A version's data may
 * sit elsewhere by its access tier (INTELLIGENT_TIERING: intelligent-tiering.ts versionTier).
 */
export function tierOf(storageClass: StorageClass): Tier {
  return storageClass === 'GLACIER' || storageClass === 'DEEP_ARCHIVE' ? 'cold' : 'hot'
}

/**
 * A byte budget shared by all uploads: a chunk waits for room before it goes to the chunk
 * store, so the body is not read on while the budget is spent (backpressure to the client).
 * Waiters are served in FIFO order; an aborted waiter leaves the queue.
 */
export class ByteBudget {
  readonly capacityBytes: number
  #availableBytes: number
  #highWaterBytes = 0
  readonly #waiters: Array<{ bytes: number; grant: () => void }> = []

  constructor(capacityBytes: number) {
    assert(Number.isSafeInteger(capacityBytes) && capacityBytes > 0, 'a budget has room')
    this.capacityBytes = capacityBytes
    this.#availableBytes = capacityBytes
  }

  get availableBytes(): number {
    return this.#availableBytes
  }

  /** The most bytes ever held at once (never above capacityBytes): for tests and metrics. */
  get highWaterBytes(): number {
    return this.#highWaterBytes
  }

  #take(bytes: number): void {
    this.#availableBytes -= bytes
    assert(this.#availableBytes >= 0, 'a budget never lends more than it has')
    this.#highWaterBytes = Math.max(this.#highWaterBytes, this.capacityBytes - this.#availableBytes)
  }

  async acquire(bytes: number, signal: AbortSignal): Promise<void> {
    assert(bytes > 0 && bytes <= this.capacityBytes, 'a request fits the budget')
    throwIfAborted(signal)
    if (this.#waiters.length === 0 && this.#availableBytes >= bytes) {
      this.#take(bytes)
      return
    }
    await new Promise<void>((resolve, reject) => {
      const waiter = {
        bytes,
        grant: () => {
          signal.removeEventListener('abort', onAbort)
          resolve()
        },
      }
      const onAbort = () => {
        const at = this.#waiters.indexOf(waiter)
        if (at >= 0) this.#waiters.splice(at, 1)
        reject(new StoreError('ABORTED', 'operation aborted', { cause: signal.reason }))
        this.#grantWaiting()
      }
      signal.addEventListener('abort', onAbort, { once: true })
      this.#waiters.push(waiter)
    })
  }

  release(bytes: number): void {
    this.#availableBytes += bytes
    assert(this.#availableBytes <= this.capacityBytes, 'released no more than acquired')
    this.#grantWaiting()
  }

  #grantWaiting(): void {
    for (;;) {
      const next = this.#waiters[0]
      if (next === undefined || next.bytes > this.#availableBytes) return
      this.#waiters.shift()
      this.#take(next.bytes)
      next.grant()
    }
  }
}

/** Idle content-defined chunkers for reuse: each keeps a carry buffer, allocated once. */
export class ChunkerPool {
  readonly options: Readonly<ContentDefinedChunkerOptions>
  readonly #idle: ContentDefinedChunker[] = []

  constructor(options: Readonly<ContentDefinedChunkerOptions>) {
    this.options = options
  }

  take(): ContentDefinedChunker {
    return this.#idle.pop() ?? new ContentDefinedChunker(this.options)
  }

  /** Give a chunker back; finish() resets it, so a stream abandoned midway leaves no state. */
  give(chunker: ContentDefinedChunker): void {
    chunker.finish()
    if (this.#idle.length < objectLimits.idleChunkersMax) this.#idle.push(chunker)
  }
}
