// The pack writer of one tier: appends frames to the tier's current pack with group commit.
//
// Contract: append() resolves only after the frame's bytes were fsynced AND its location was
// committed (or it was found not to need one: see WrittenFrame.replaces), so a resolved append
// is durable. Frames queued while a batch is being written form the next batch: one writev at
// the pack's tail, ONE fsync, ONE metadata transaction, then every waiter is told. Two stages
// overlap: batch N+1 is written and fsynced while batch N's transaction commits (the pack fsync
// and the metadata fsync are different files, measured ~2x faster together than in turn).
// Committed frames always form a prefix of the pack (header + the record's frameBytes): after a
// failed commit, later batches of that pack fail too.
// Failure: a failed write, fsync or commit fails every frame of its batch with the StoreError
// (NO_SPACE for ENOSPC/EDQUOT, IO_ERROR otherwise) and abandons the pack: after a failed fsync
// the page-cache state is unknowable, so the file is never written or fsynced again by this
// process; later frames go to a fresh pack. Recovery at the next open treats its tail like a
// crash tail. Queued bytes are bounded (writeQueueMaxBytes): appenders wait for room.
// Never: index a frame before its fsync; retry an fsync; write to a pack after a failure.
import { dirname } from 'node:path'
import { writeAll, writevAll, type FileHandle, type Io } from '../io/index.ts'
import { assert, fromSystemError, limits, StoreError, throwIfAborted, type PackId } from '../lib/index.ts'
import type { PackCatalog, WrittenFrame } from './pack-catalog.ts'
import { encodePackHeader, encodeSeal, packHeaderBytes, type IndexEntry } from './pack-format.ts'
import type { Location, Tier } from './location.ts'
import type { EncodedFrame } from './store-codec.ts'

export interface AppendResult {
  location: Location
  /** False when the frame was written but not indexed (its chunk moved on meanwhile). */
  indexed: boolean
}

interface PendingFrame {
  frame: EncodedFrame
  replaces: Location | undefined
  resolve(result: AppendResult): void
  reject(error: unknown): void
}

interface OpenPack {
  packId: PackId
  path: string
  handle: FileHandle
  tailBytes: number
  entries: IndexEntry[]
  /** Why the pack was abandoned; nothing is written or indexed into it afterwards. */
  abandoned: StoreError | undefined
}

interface WrittenBatch {
  pack: OpenPack
  batch: PendingFrame[]
  frames: WrittenFrame[]
}

export interface PackWriterOptions {
  io: Io
  tier: Tier
  catalog: PackCatalog
  hashAlgorithmCode: number
  packTargetBytes: number
  writeQueueMaxBytes?: number
  log: (event: string, fields: object) => void
}

export interface PackWriterCounters {
  batches: number
  syncs: number
  packsCreated: number
  packsSealed: number
  packsAbandoned: number
}

export class PackWriter {
  readonly #options: PackWriterOptions
  readonly #queueMaxBytes: number
  #queue: PendingFrame[] = []
  #queuedBytes = 0
  #roomWaiters: Array<() => void> = []
  #running: Promise<void> | undefined
  #current: OpenPack | undefined
  #closed = false
  readonly counters: PackWriterCounters = { batches: 0, syncs: 0, packsCreated: 0, packsSealed: 0, packsAbandoned: 0 }

  constructor(options: PackWriterOptions) {
    this.#options = options
    this.#queueMaxBytes = options.writeQueueMaxBytes ?? limits.writeQueueMaxBytes
    assert(options.packTargetBytes > packHeaderBytes, 'packs hold at least one frame')
  }

  /** The pack frames are appended to now, if one is open. */
  get currentPackId(): PackId | undefined {
    return this.#current?.packId
  }

  /** Queue a frame; resolves once it is durable and indexed (or known not to need indexing). */
  async append(frame: EncodedFrame, replaces: Location | undefined, signal?: AbortSignal): Promise<AppendResult> {
    this.#checkOpen()
    throwIfAborted(signal)
    while (this.#queuedBytes > 0 && this.#queuedBytes + frame.frameBytes > this.#queueMaxBytes) {
      await this.#waitForRoom(signal)
      this.#checkOpen()
    }
    this.#queuedBytes += frame.frameBytes
    const done = new Promise<AppendResult>((resolve, reject) => {
      this.#queue.push({ frame, replaces, resolve, reject })
    })
    this.#running ??= this.#run()
    return done
  }

  /** Wait for queued frames to finish, then close the current pack's handle (without sealing). */
  async close(): Promise<void> {
    this.#closed = true
    await this.#running
    const pack = this.#current
    this.#current = undefined
    if (pack) await pack.handle.close()
    for (const wake of this.#roomWaiters.splice(0)) wake()
  }

  #checkOpen(): void {
    if (this.#closed) throw new StoreError('CLOSED', 'the chunk store is closed')
  }

  #waitForRoom(signal: AbortSignal | undefined): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const onAbort = (): void => {
        this.#roomWaiters = this.#roomWaiters.filter((waiter) => waiter !== wake)
        reject(new StoreError('ABORTED', 'operation aborted', { cause: signal?.reason }))
      }
      const wake = (): void => {
        signal?.removeEventListener('abort', onAbort)
        resolve()
      }
      this.#roomWaiters.push(wake)
      signal?.addEventListener('abort', onAbort, { once: true })
    })
  }

  /**
   * The writer loop, a two-stage pipeline: batch N+1 is written and fsynced while batch N's
   * metadata commit runs (at most one commit in flight). A full pack is sealed only after its
   * last commit finished.
   */
  async #run(): Promise<void> {
    let committing: Promise<void> = Promise.resolve()
    try {
      for (;;) {
        if (this.#queue.length === 0) {
          await committing
          // Checked again with no await before returning, so no append is left unserved.
          if (this.#queue.length === 0) return
        }
        const batch = this.#takeBatch()
        const written = await this.#writeBatch(batch)
        await committing
        if (written === undefined) continue
        committing = this.#commitBatch(written)
        const { pack } = written
        if (pack.tailBytes >= this.#options.packTargetBytes && this.#current === pack) {
          await committing
          if (this.#current === pack) await this.#seal(pack)
        }
      }
    } finally {
      this.#running = undefined
    }
  }

  #takeBatch(): PendingFrame[] {
    let bytes = 0
    let count = 0
    for (const pending of this.#queue) {
      if (count > 0 && (count >= limits.groupCommitMaxFrames || bytes + pending.frame.frameBytes > limits.groupCommitMaxBytes)) break
      bytes += pending.frame.frameBytes
      count += 1
    }
    return this.#queue.splice(0, count)
  }

  /** Frames leave the queue's byte budget once they are settled. */
  #release(batch: readonly PendingFrame[]): void {
    this.#queuedBytes -= batch.reduce((sum, pending) => sum + pending.frame.frameBytes, 0)
    for (const wake of this.#roomWaiters.splice(0)) wake()
  }

  /** Write and fsync one batch at the pack's tail. On failure, fails its waiters. Never throws. */
  async #writeBatch(batch: PendingFrame[]): Promise<WrittenBatch | undefined> {
    let pack: OpenPack
    try {
      pack = this.#current ?? (await this.#createPack())
    } catch (error) {
      this.#fail(batch, fromSystemError(error, `create a pack in tier ${this.#options.tier}`))
      return undefined
    }
    const frames: WrittenFrame[] = []
    let offset = pack.tailBytes
    for (const { frame, replaces } of batch) {
      frames.push({ info: frame.info, location: { ...frame.info, packId: pack.packId, offset }, replaces })
      offset += frame.frameBytes
    }
    try {
      await writevAll(pack.handle, batch.flatMap((pending) => pending.frame.parts), pack.tailBytes)
      this.counters.batches += 1
      this.counters.syncs += 1
      await pack.handle.sync()
    } catch (error) {
      const failure = fromSystemError(error, `append to pack ${pack.path}`)
      await this.#abandon(pack, failure)
      this.#fail(batch, failure)
      return undefined
    }
    pack.entries.push(...frames.map(({ info, location }) => ({ ...info, offset: location.offset })))
    pack.tailBytes = offset
    return { pack, batch, frames }
  }

  /** Index a fsynced batch, then tell its waiters. Never throws. */
  async #commitBatch({ pack, batch, frames }: WrittenBatch): Promise<void> {
    if (pack.abandoned !== undefined) {
      // The previous batch's commit failed: keep the committed frames a prefix of the pack, so
      // recovery knows exactly which bytes were acknowledged (header + the record's frameBytes).
      this.#fail(batch, pack.abandoned)
      return
    }
    let indexed: boolean[]
    try {
      indexed = await this.#options.catalog.commitFrames(pack.packId, frames)
    } catch (error) {
      const failure = fromSystemError(error, `index frames of pack ${pack.path}`)
      await this.#abandon(pack, failure)
      this.#fail(batch, failure)
      return
    }
    batch.forEach((pending, at) => pending.resolve({ location: (frames[at] as WrittenFrame).location, indexed: indexed[at] === true }))
    this.#release(batch)
  }

  #fail(batch: readonly PendingFrame[], error: StoreError): void {
    for (const pending of batch) pending.reject(error)
    this.#release(batch)
  }

  /**
   * Record first, then file: a pack file without a record is only ever a deletion's leftover.
   * When the file cannot be made, it is removed and then its record, so nothing reports a pack
   * that never held data; if that cleanup fails too, recovery at the next open finishes it.
   */
  async #createPack(): Promise<OpenPack> {
    const { io, tier, catalog } = this.#options
    const { packId, createdMs } = await catalog.createPack(tier)
    const path = catalog.packPath(packId, tier)
    let handle: FileHandle | undefined
    try {
      handle = await io.open(path, 'wx+')
      await writeAll(handle, encodePackHeader({ packId, hashAlgorithmCode: this.#options.hashAlgorithmCode, createdMs }), 0)
      await handle.sync()
      await io.syncDir(dirname(path))
    } catch (error) {
      await this.#undoCreate(packId, path, handle)
      throw error
    }
    this.counters.packsCreated += 1
    this.#current = { packId, path, handle, tailBytes: packHeaderBytes, entries: [], abandoned: undefined }
    this.#options.log('pack.created', { packId, tier, path })
    return this.#current
  }

  async #undoCreate(packId: PackId, path: string, handle: FileHandle | undefined): Promise<void> {
    try {
      await handle?.close()
      if (handle !== undefined) await this.#options.io.unlink(path)
      await this.#options.catalog.dropEmptyPack(packId)
    } catch (error) {
      this.#options.log('pack.create-cleanup-failed', { packId, path, message: String(error) })
    }
  }

  /** Append the index and trailer, fsync, mark the record sealed; frames go to a new pack next. */
  async #seal(pack: OpenPack): Promise<void> {
    try {
      await writevAll(pack.handle, encodeSeal(pack.entries, pack.tailBytes), pack.tailBytes)
      await pack.handle.sync()
      await this.#options.catalog.markSealed(pack.packId)
    } catch (error) {
      // The frames are durable and indexed; only the seal failed. Recovery seals it later.
      await this.#abandon(pack, fromSystemError(error, `seal pack ${pack.path}`))
      return
    }
    this.#current = undefined
    this.counters.packsSealed += 1
    this.#options.log('pack.sealed', { packId: pack.packId, tier: this.#options.tier, frames: pack.entries.length, frameBytes: pack.tailBytes - packHeaderBytes })
    await closeLogged(pack, this.#options.log)
  }

  async #abandon(pack: OpenPack, error: StoreError): Promise<void> {
    if (this.#current === pack) this.#current = undefined
    if (pack.abandoned !== undefined) return
    pack.abandoned = error
    this.counters.packsAbandoned += 1
    this.#options.log('pack.abandoned', { packId: pack.packId, tier: this.#options.tier, code: error.code, message: error.message })
    await closeLogged(pack, this.#options.log)
  }
}

/** Close a pack handle we are done with; a failing close is logged (the data is fsynced). */
async function closeLogged(pack: OpenPack, log: (event: string, fields: object) => void): Promise<void> {
  try {
    await pack.handle.close()
  } catch (error) {
    log('pack.close-failed', { packId: pack.packId, message: String(error) })
  }
}
