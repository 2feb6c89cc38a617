// LevelMetaStore: the MetaStore on LevelDB (classic-level through the `level` package).
// This is the only module in Cairn that imports `level`.
//
// Contract: see meta-store.ts and serialized-store.ts. Write transactions are serialized in
// this process, which is the only writer (LevelDB's LOCK file keeps other processes out), so
// reads inside a transaction go to the live database: nothing else can change it meanwhile.
// A commit is one `db.batch` with `{ sync }` (default true): atomic in LevelDB's log, and
// fsynced before the promise resolves. read(fn) reads from an explicit LevelDB snapshot
// (`db.snapshot()`, abstract-level 3 / classic-level 3) passed to every get/getMany/iterator,
// so it never sees a commit that lands while it runs; the snapshot is closed in `finally`.
// Keys and values are raw Buffers (keyEncoding/valueEncoding 'buffer'); no other encoding.
// Never: write outside transact(), or keep an iterator open past one scan page.
import { Level } from 'level'
import { StoreError } from '../lib/index.ts'
import type { Entry, KeyRange, MetaStoreCapabilities } from './meta-store.ts'
import type { CommittedView, PendingWrite } from './overlay.ts'
import { SerializedMetaStore, type BackendSnapshot } from './serialized-store.ts'

type Database = Level<Buffer, Buffer>
type Snapshot = ReturnType<Database['snapshot']>

function errorCode(error: unknown): unknown {
  return (error as { code?: unknown } | undefined)?.code
}

function isLockedError(error: unknown): boolean {
  return errorCode(error) === 'LEVEL_LOCKED' || errorCode((error as { cause?: unknown } | undefined)?.cause) === 'LEVEL_LOCKED'
}

function viewOf(db: Database, snapshot: Snapshot | undefined): CommittedView {
  const options = snapshot === undefined ? {} : { snapshot }
  // Point reads are synchronous (classic-level's getSync): metadata is small and hot, so a read
  // is a memtable or block-cache hit served in microseconds, where an async get costs a round
  // trip through the libuv pool (measured: twice the 4 KiB PUT rate; docs/benchmarks.md). A
  // read that misses the OS page cache blocks the event loop for one disk read.
  // classic-level answers undefined for missing keys; its `level` typings predate that.
  const get = (key: Buffer): Buffer | undefined => (snapshot === undefined ? db.getSync(key) : db.getSync(key, options)) as Buffer | undefined
  return {
    get: async (key) => get(key),
    getMany: async (keys) => keys.map(get),
    scan: async (range: KeyRange): Promise<Entry[]> => {
      const iterator = db.iterator({ ...definedBounds(range), limit: range.limit, reverse: range.reverse === true, ...options })
      try {
        const entries = await iterator.all()
        return entries.map(([key, value]) => ({ key, value }))
      } finally {
        await iterator.close()
      }
    },
  }
}

/** Only the bounds that are set: abstract-level treats a present-but-undefined bound as set. */
function definedBounds(range: KeyRange): { gt?: Buffer; gte?: Buffer; lt?: Buffer; lte?: Buffer } {
  const bounds: { gt?: Buffer; gte?: Buffer; lt?: Buffer; lte?: Buffer } = {}
  if (range.gt !== undefined) bounds.gt = Buffer.from(range.gt)
  if (range.gte !== undefined) bounds.gte = Buffer.from(range.gte)
  if (range.lt !== undefined) bounds.lt = Buffer.from(range.lt)
  if (range.lte !== undefined) bounds.lte = Buffer.from(range.lte)
  return bounds
}

export class LevelMetaStore extends SerializedMetaStore {
  readonly capabilities: MetaStoreCapabilities = { snapshots: true, shared: false }
  readonly path: string
  readonly #db: Database

  private constructor(path: string, db: Database) {
    super()
    this.path = path
    this.#db = db
  }

  /**
   * Open (creating if missing) the LevelDB store in directory `path`.
   * Fails with StoreError LOCKED when another process (or another open in this process) holds
   * it, IO_ERROR (with cause) for any other open failure.
   */
  static async open(path: string): Promise<LevelMetaStore> {
    const db: Database = new Level<Buffer, Buffer>(path, { keyEncoding: 'buffer', valueEncoding: 'buffer' })
    try {
      await db.open()
    } catch (error) {
      if (isLockedError(error)) {
        throw new StoreError('LOCKED', `metadata store ${path} is in use by another process`, { cause: error })
      }
      throw new StoreError('IO_ERROR', `metadata store ${path}: cannot open`, { cause: error })
    }
    return new LevelMetaStore(path, db)
  }

  protected latestView(): CommittedView {
    return viewOf(this.#db, undefined)
  }

  protected async openSnapshot(): Promise<BackendSnapshot> {
    const snapshot = this.#db.snapshot()
    return { view: viewOf(this.#db, snapshot), release: () => snapshot.close() }
  }

  protected async commitBatch(writes: readonly PendingWrite[], sync: boolean): Promise<void> {
    const operations = writes.map((write) =>
      write.value === undefined
        ? { type: 'del' as const, key: write.key }
        : { type: 'put' as const, key: write.key, value: write.value },
    )
    await this.#db.batch(operations, { sync })
  }

  protected async closeBackend(): Promise<void> {
    try {
      await this.#db.close()
    } catch (error) {
      throw new StoreError('IO_ERROR', `metadata store ${this.path}: close failed`, { cause: error })
    }
  }

  protected describe(): string {
    return this.path
  }
}
