// What the volume service's parts share (service.ts, volume-ops.ts, snapshot-ops.ts, exports.ts,
// recovery.ts): the injected world, record reads, open live volumes, running snapshots,
// attachments and per-volume admin locks.
//
// Invariants: at most one LiveVolume per volume id in this process (opened lazily, closed at
// delete and at service close); at most one running snapshot per volume; admin operations that
// change a volume outside the metadata (head file, live state) run under the volume's lock.
import { join } from 'node:path'
import type { ChunkStore } from '../chunk/index.ts'
import type { DomainKeys } from '../crypto/index.ts'
import type { Io } from '../io/index.ts'
import { StoreError, volumeLimits, type Clock, type KeyDomainId, type Random } from '../lib/index.ts'
import type { MetaStore, ReadTx } from '../meta/index.ts'
import { ExtentMap } from './extent-map.ts'
import { fallocatePunchHole, HeadFile, type HolePuncher } from './head.ts'
import { headKeyOf } from './head-key.ts'
import type { SnapshotId, VolumeId } from './ids.ts'
import { LiveVolume } from './live-volume.ts'
import { ManifestReader } from './manifest.ts'
import { decodeSnapshotRecord, decodeVolumeRecord, domainOf, sessionKey, snapshotKey, volumeKey, type SnapshotRecord, type VolumeRecord } from './records.ts'
import type { SnapshotJob } from './snapshot-job.ts'
import { VolumeThrottle, type ThrottleClock } from './throttle.ts'
import { performanceOf } from './volume-types.ts'

/** Key management the volumes need: src/chunk KeyRing satisfies it. */
export interface VolumeKeySource {
  createDomain(): Promise<KeyDomainId>
  keysFor(domain: KeyDomainId): Promise<DomainKeys>
}

export type VolumeLogger = (event: string, fields: Record<string, unknown>) => void

export interface VolumeServiceOptions {
  io: Io
  meta: MetaStore
  chunkStore: ChunkStore
  keyRing: VolumeKeySource
  clock: Clock
  random: Random
  /** Directory of the head files (<data-dir>/volumes). */
  volumesDir: string
  /** Frees trimmed head space; default `fallocate --punch-hole`. */
  punchHole?: HolePuncher
  throttleClock?: ThrottleClock
  log?: VolumeLogger
  /** A bug (AssertionError/TypeError) in background work (snapshots, hydration). */
  onBug?: (error: Error) => void
  /** Manifest pages per snapshot transaction (tests use 1 to exercise pins); default from limits. */
  snapshotPagesPerTransaction?: number
}

export interface RunningSnapshot {
  job: SnapshotJob
  /** Settles when the snapshot completed or failed (never rejects). */
  settled: Promise<void>
}

export interface Hydration {
  readonly doneExtents: number
  readonly totalExtents: number
  stop(): Promise<void>
}

/** Serializes async work per key. */
export class KeyedMutex {
  readonly #tails = new Map<string, Promise<void>>()

  async run<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const previous = this.#tails.get(key) ?? Promise.resolve()
    let release!: () => void
    const mine = new Promise<void>((resolve) => {
      release = resolve
    })
    const tail = previous.then(() => mine)
    this.#tails.set(key, tail)
    await previous
    try {
      return await fn()
    } finally {
      release()
      if (this.#tails.get(key) === tail) this.#tails.delete(key)
    }
  }
}

export class VolumeContext {
  readonly options: VolumeServiceOptions
  readonly log: VolumeLogger
  readonly #open = new Map<VolumeId, Promise<LiveVolume>>()
  readonly #throttles = new Map<VolumeId, VolumeThrottle>()
  readonly snapshots = new Map<VolumeId, RunningSnapshot>()
  readonly hydrations = new Map<VolumeId, Hydration>()
  /** Export name -> client key -> open connections. */
  readonly attachments = new Map<string, Map<string, number>>()
  readonly locks = new KeyedMutex()
  /** Aborted at close: running snapshots and hydrations stop. */
  readonly closing = new AbortController()

  constructor(options: VolumeServiceOptions) {
    this.options = options
    this.log = options.log ?? (() => undefined)
  }

  get meta(): MetaStore {
    return this.options.meta
  }

  get chunkStore(): ChunkStore {
    return this.options.chunkStore
  }

  headPath(id: VolumeId): string {
    return join(this.options.volumesDir, `${id}.head`)
  }

  checkOpen(): void {
    if (this.closing.signal.aborted) throw new StoreError('CLOSED', 'the volume service is closed')
  }

  async readVolume(id: VolumeId, tx?: ReadTx): Promise<VolumeRecord> {
    const bytes = tx === undefined ? await this.meta.read((read) => read.get(volumeKey(id))) : await tx.get(volumeKey(id))
    if (bytes === undefined) throw new StoreError('NOT_FOUND', `The volume '${id}' does not exist.`, { subject: 'volume' })
    return decodeVolumeRecord(bytes, id)
  }

  async readSnapshot(id: SnapshotId, tx?: ReadTx): Promise<SnapshotRecord> {
    const bytes = tx === undefined ? await this.meta.read((read) => read.get(snapshotKey(id))) : await tx.get(snapshotKey(id))
    if (bytes === undefined) throw new StoreError('NOT_FOUND', `The snapshot '${id}' does not exist.`, { subject: 'snapshot' })
    return decodeSnapshotRecord(bytes, id)
  }

  manifestReader(snapshotId: SnapshotId | null): ManifestReader {
    return new ManifestReader(snapshotId, (fn) => this.meta.read(fn))
  }

  /** The live volume, opened on first use. */
  live(record: VolumeRecord): Promise<LiveVolume> {
    this.checkOpen()
    let opening = this.#open.get(record.id)
    if (opening === undefined) {
      opening = this.#openLive(record)
      this.#open.set(record.id, opening)
      opening.catch(() => this.#open.delete(record.id))
    }
    return opening
  }

  /** The live volume if it is open (no open on demand). */
  openedLive(id: VolumeId): Promise<LiveVolume> | undefined {
    return this.#open.get(id)
  }

  throttleOf(id: VolumeId): VolumeThrottle | undefined {
    return this.#throttles.get(id)
  }

  async #openLive(record: VolumeRecord): Promise<LiveVolume> {
    const { io, keyRing, chunkStore } = this.options
    const xtsKey = record.encrypted ? headKeyOf(await keyRing.keysFor(domainOf(record))) : undefined
    const head = await HeadFile.open(io, this.headPath(record.id), record.sizeBytes, xtsKey)
    try {
      const map = await ExtentMap.load(this.meta, record.id, record.sizeBytes / volumeLimits.extentBytes)
      const throttle = new VolumeThrottle(performanceOf(record), this.options.throttleClock)
      this.#throttles.set(record.id, throttle)
      const live = new LiveVolume({
        id: record.id,
        sizeBytes: record.sizeBytes,
        head,
        map,
        base: this.manifestReader(record.baseSnapshotId),
        chunkStore,
        throttle,
        punchHole: this.options.punchHole ?? fallocatePunchHole,
        onBackgroundError: (error, what) => this.log('volume.background-error', { volumeId: record.id, what, message: (error as Error).message }),
      })
      // The session marker says "open": found at open, the last session did not close cleanly.
      if ((await this.meta.read((tx) => tx.get(sessionKey(record.id)))) !== undefined) {
        const converted = await live.recoverUncleanShutdown()
        this.log('volume.unclean-shutdown', { volumeId: record.id, extentsMadeZero: converted })
      } else {
        await this.meta.transact(async (tx) => tx.put(sessionKey(record.id), Buffer.alloc(0)))
      }
      return live
    } catch (error) {
      await head.close().catch(() => undefined)
      throw error
    }
  }

  /** Close and forget a live volume (delete, service close). */
  async closeLive(id: VolumeId): Promise<void> {
    const opening = this.#open.get(id)
    if (opening === undefined) return
    this.#open.delete(id)
    this.#throttles.delete(id)
    const live = await opening.catch(() => undefined)
    if (live === undefined) return
    await live.close()
    // Closed cleanly: every state is durable and the head was fsynced by the last flush.
    await this.meta.transact(async (tx) => tx.delete(sessionKey(id)))
  }

  openIds(): VolumeId[] {
    return [...this.#open.keys()]
  }

  connectionsOf(name: string): number {
    let total = 0
    for (const count of this.attachments.get(name)?.values() ?? []) total += count
    return total
  }
}
