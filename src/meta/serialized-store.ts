// The transaction machinery shared by single-process backends (memory, LevelDB).
//
// Contract: write transactions run one at a time in this process (FIFO mutex), so fn never
// conflicts and is run exactly once; fn reads the committed view plus its own pending writes;
// commit applies every pending write in one atomic backend batch, or nothing when fn throws or
// options.signal fires first. read(fn) runs against a backend snapshot, concurrently with writers.
// Invariants: after close() starts, new calls reject with StoreError CLOSED; close() waits for
// the running transaction and open reads. A failed commit poisons the store (later transactions
// reject CLOSED with the failure as cause): the backend's state is unknown after it.
// Never: nest transact() inside a transaction of the same store (it would deadlock: TypeError).
import { AsyncLocalStorage } from 'node:async_hooks'
import { StoreError, throwIfAborted } from '../lib/index.ts'
import type { MetaStore, MetaStoreCapabilities, ReadTx, TransactOptions, WriteTx } from './meta-store.ts'
import { Mutex } from './mutex.ts'
import { OverlayTx, type CommittedView, type PendingWrite } from './overlay.ts'

export interface BackendSnapshot {
  view: CommittedView
  release(): Promise<void>
}

export abstract class SerializedMetaStore implements MetaStore {
  abstract readonly capabilities: MetaStoreCapabilities
  readonly #mutex = new Mutex()
  readonly #insideTransaction = new AsyncLocalStorage<boolean>()
  readonly #openReads = new Set<Promise<unknown>>()
  #closing: Promise<void> | undefined
  #failure: unknown

  /** The latest committed state; only read while holding the write lock. */
  protected abstract latestView(): CommittedView
  /** A point-in-time snapshot of the committed state. */
  protected abstract openSnapshot(): Promise<BackendSnapshot>
  /** Apply sorted writes atomically (durably when sync). */
  protected abstract commitBatch(writes: readonly PendingWrite[], sync: boolean): Promise<void>
  /** Release backend resources; called once, after every transaction and read finished. */
  protected abstract closeBackend(): Promise<void>
  /** Describes the store in error messages. */
  protected abstract describe(): string

  async transact<T>(fn: (tx: WriteTx) => Promise<T>, options: TransactOptions = {}): Promise<T> {
    if (this.#insideTransaction.getStore() === true) {
      throw new TypeError('transact() called inside a transaction of the same store would deadlock')
    }
    this.#checkOpen()
    const release = await this.#mutex.lock(options.signal)
    try {
      this.#checkOpen()
      this.#checkHealthy()
      throwIfAborted(options.signal)
      const tx = new OverlayTx(this.latestView(), { readOnly: false })
      let result: T
      try {
        result = await this.#insideTransaction.run(true, () => fn(tx))
      } finally {
        tx.finish()
      }
      throwIfAborted(options.signal)
      const writes = tx.writes()
      if (writes.length > 0) await this.#commit(writes, options.sync ?? true)
      return result
    } finally {
      release()
    }
  }

  async read<T>(fn: (tx: ReadTx) => Promise<T>): Promise<T> {
    this.#checkOpen()
    const running = this.#runRead(fn)
    this.#openReads.add(running)
    try {
      return await running
    } finally {
      this.#openReads.delete(running)
    }
  }

  async close(): Promise<void> {
    this.#closing ??= this.#closeOnce()
    return this.#closing
  }

  async #closeOnce(): Promise<void> {
    await this.#mutex.idle()
    await Promise.allSettled([...this.#openReads])
    await this.closeBackend()
  }

  async #runRead<T>(fn: (tx: ReadTx) => Promise<T>): Promise<T> {
    const snapshot = await this.openSnapshot()
    const tx = new OverlayTx(snapshot.view, { readOnly: true })
    try {
      return await fn(tx)
    } finally {
      tx.finish()
      await snapshot.release()
    }
  }

  async #commit(writes: readonly PendingWrite[], sync: boolean): Promise<void> {
    try {
      await this.commitBatch(writes, sync)
    } catch (error) {
      this.#failure = error
      if (error instanceof StoreError) throw error
      throw new StoreError('IO_ERROR', `metadata store ${this.describe()}: commit failed`, { cause: error })
    }
  }

  #checkOpen(): void {
    if (this.#closing !== undefined) throw new StoreError('CLOSED', `metadata store ${this.describe()} is closed`)
  }

  #checkHealthy(): void {
    if (this.#failure !== undefined) {
      throw new StoreError('CLOSED', `metadata store ${this.describe()} failed a commit earlier`, { cause: this.#failure })
    }
  }
}
