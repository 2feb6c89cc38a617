// MetaStore: ordered binary keys with re-runnable transactions and snapshot reads.
//
// Contract (every implementation runs compliance.ts):
// - Keys are byte strings ordered by memcmp (build them with keys.ts tuple encoding).
// - transact(fn): fn sees its own writes and a consistent view; the whole body commits
//   atomically and durably (fsync at commit unless options.sync === false) or not at all.
//   A backend may re-run fn on conflict, so fn must have no side effects outside tx.
// - read(fn): a consistent snapshot that never sees a later commit.
// - scan returns one bounded page; callers continue from the last key for the next page.
// - Values carry a format version byte as their first byte (codecs in model/ and chunk/ own it).

export type Key = Uint8Array
export type Value = Uint8Array

export interface KeyRange {
  gt?: Key
  gte?: Key
  lt?: Key
  lte?: Key
  /** Page size, at most limits.metaScanPageMax. */
  limit: number
  reverse?: boolean
}

export interface Entry {
  key: Buffer
  value: Buffer
}

export interface ReadTx {
  get(key: Key): Promise<Buffer | undefined>
  getMany(keys: readonly Key[]): Promise<Array<Buffer | undefined>>
  scan(range: KeyRange): Promise<Entry[]>
}

export interface WriteTx extends ReadTx {
  put(key: Key, value: Value): void
  delete(key: Key): void
}

export interface TransactOptions {
  /** fsync the commit (default true). Only tests and rebuildable caches pass false. */
  sync?: boolean
  signal?: AbortSignal
}

export interface MetaStoreCapabilities {
  /** Snapshot reads are served from a real point-in-time snapshot. */
  snapshots: boolean
  /** Several processes can share the store (scale-out backends). */
  shared: boolean
}

export interface MetaStore {
  readonly capabilities: MetaStoreCapabilities
  transact<T>(fn: (tx: WriteTx) => Promise<T>, options?: TransactOptions): Promise<T>
  read<T>(fn: (tx: ReadTx) => Promise<T>): Promise<T>
  close(): Promise<void>
}
