// The transaction machinery shared by single-process backends (memory, LevelDB).
//
// Contract: write transactions run one at a time in this process (FIFO mutex), so fn never
// conflicts and is run exactly once; fn reads the committed view plus the queued writes of
// earlier transactions plus its own pending writes. Group commit: when fn returns, its writes
// join the next group and the lock passes on at once; one backend batch per group (synced when
// any member asked for sync) commits every transaction in it atomically, and each transact()
// resolves only once its group is in the backend. Groups reach the backend one at a time, in
// order, so a transaction that read an earlier one's queued writes never lands before it.
// Isolation stays serializable (fns still run one at a time, each seeing all earlier ones);
// durability is unchanged (no promise resolves before its batch is durable), and a transaction
// that wrote nothing but ran while writes were queued waits for them, so nobody acts on a value
// that could still vanish in a crash. read(fn) runs against a backend snapshot, concurrently
// with writers, and never sees queued writes (only committed ones).
// Invariants: after close() starts, new calls reject with StoreError CLOSED; close() waits for
// the running transaction, the queued groups and open reads. A failed commit poisons the store
// (the failed group, every group queued behind it and later transactions reject, CLOSED with
// the failure as cause for the latter): the backend's state is unknown after it.
// Never: nest transact() inside a transaction of the same store (it would deadlock: TypeError).
import { AsyncLocalStorage } from 'node:async_hooks'
import { StoreError, throwIfAborted } from '../lib/index.ts'
import type { MetaStore, MetaStoreCapabilities, ReadTx, TransactOptions, WriteTx } from './meta-store.ts'
import { Mutex } from './mutex.ts'
import { OverlayTx, type CommittedView, type PendingWrite } from './overlay.ts'
import { UncommittedWrites } from './uncommitted.ts'

export interface BackendSnapshot {
  view: CommittedView
  release(): Promise<void>
}

/** Transactions that commit together in one backend batch. */
interface CommitGroup {
  readonly number: number
  /** Every member's writes by key (latin1), the newest winning. */
  readonly writes: Map<string, PendingWrite>
  sync: boolean
  readonly durable: Promise<void>
  resolve(): void
  reject(error: unknown): void
}

function newGroup(number: number): CommitGroup {
  let resolve!: () => void
  let reject!: (error: unknown) => void
  const durable = new Promise<void>((resolveDurable, rejectDurable) => {
    resolve = resolveDurable
    reject = rejectDurable
  })
  // Members await it; one that gave up (a throwing caller) must not turn it into an unhandled rejection.
  durable.catch(() => undefined)
  return { number, writes: new Map(), sync: false, durable, resolve, reject }
}

export abstract class SerializedMetaStore implements MetaStore {
  abstract readonly capabilities: MetaStoreCapabilities
  readonly #mutex = new Mutex()
  readonly #insideTransaction = new AsyncLocalStorage<boolean>()
  readonly #openReads = new Set<Promise<unknown>>()
  readonly #uncommitted = new UncommittedWrites()
  /** The group new transactions join (not yet handed to the backend). */
  #forming: CommitGroup | undefined
  /** The group whose batch is in the backend's hands. */
  #landing: CommitGroup | undefined
  #flushing: Promise<void> | undefined
  #groupCount = 0
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
    let result: T
    let durable: Promise<void> | undefined
    try {
      this.#checkOpen()
      this.#checkHealthy()
      throwIfAborted(options.signal)
      const view = this.#uncommitted.size === 0 ? this.latestView() : this.#uncommitted.view(this.latestView())
      const tx = new OverlayTx(view, { readOnly: false })
      try {
        result = await this.#insideTransaction.run(true, () => fn(tx))
      } finally {
        tx.finish()
      }
      throwIfAborted(options.signal)
      this.#checkHealthy() // a group that failed while fn ran took the writes fn read with it
      const writes = tx.writes()
      // Past this point the transaction is committed as far as later ones can tell.
      durable = writes.length > 0 ? this.#enqueue(writes, options.sync ?? true) : this.#queuedDurable()
    } finally {
      release()
    }
    if (durable !== undefined) await durable
    return result
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
    await this.#flushing
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

  /** Queue writes into the forming group (starting the flusher if idle); resolves when durable. */
  #enqueue(writes: readonly PendingWrite[], sync: boolean): Promise<void> {
    if (this.#forming === undefined) {
      this.#groupCount += 1
      this.#forming = newGroup(this.#groupCount)
    }
    const group = this.#forming
    for (const write of writes) group.writes.set(write.key.toString('latin1'), write)
    group.sync ||= sync
    this.#uncommitted.add(writes, group.number)
    this.#flushing ??= this.#flush()
    return group.durable
  }

  /** Durability of everything queued so far (a transaction that wrote nothing waits on it). */
  #queuedDurable(): Promise<void> | undefined {
    return (this.#forming ?? this.#landing)?.durable
  }

  /** Hand groups to the backend one at a time, in order, until none is forming. */
  async #flush(): Promise<void> {
    // Let the requests already in this turn of the event loop join the first group (with
    // synchronous backend reads a whole transaction can run within one turn).
    await new Promise((resolve) => setImmediate(resolve))
    try {
      while (this.#forming !== undefined) {
        const group = this.#forming
        this.#forming = undefined
        this.#landing = group
        const writes = [...group.writes.values()].sort((a, b) => Buffer.compare(a.key, b.key))
        try {
          await this.#commit(writes, group.sync)
        } catch (error) {
          group.reject(error)
          // Transactions that joined while this batch was landing may have read its writes.
          ;(this.#forming as CommitGroup | undefined)?.reject(new StoreError('CLOSED', `metadata store ${this.describe()} failed a commit earlier`, { cause: error }))
          this.#forming = undefined
          this.#uncommitted.clear()
          return
        }
        this.#uncommitted.remove(writes, group.number)
        group.resolve()
      }
    } finally {
      this.#landing = undefined
      this.#flushing = undefined
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
