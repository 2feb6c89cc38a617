// MemoryMetaStore: the in-memory MetaStore for unit tests of the layers above.
//
// Contract: the same semantics as every MetaStore (compliance.ts), without durability.
// The committed state is an immutable key-sorted array (Buffer.compare order); a commit builds
// a new array by merging in the sorted pending writes (O(n + m)), so a snapshot is just the
// array reference held at its start, and lookups are binary searches.
// Never: mutate a published array, or hand out a stored buffer (callers get copies).
import type { Entry, KeyRange, MetaStoreCapabilities } from './meta-store.ts'
import type { CommittedView, PendingWrite } from './overlay.ts'
import { copyEntry, findIndex, sliceRange } from './range.ts'
import { SerializedMetaStore, type BackendSnapshot } from './serialized-store.ts'

function viewOf(entries: readonly Entry[]): CommittedView {
  const get = (key: Buffer): Buffer | undefined => {
    const at = findIndex(entries, key)
    return at < 0 ? undefined : Buffer.from((entries[at] as Entry).value)
  }
  return {
    get: async (key) => get(key),
    getMany: async (keys) => keys.map(get),
    scan: async (range: KeyRange) => sliceRange(entries, range).map(copyEntry),
  }
}

/** Merge sorted pending writes into a sorted committed array, returning a new array. */
function merged(entries: readonly Entry[], writes: readonly PendingWrite[]): Entry[] {
  const result: Entry[] = []
  let at = 0
  for (const write of writes) {
    while (at < entries.length && Buffer.compare((entries[at] as Entry).key, write.key) < 0) {
      result.push(entries[at] as Entry)
      at += 1
    }
    const existing = entries[at]
    if (existing !== undefined && Buffer.compare(existing.key, write.key) === 0) at += 1
    if (write.value !== undefined) result.push({ key: write.key, value: write.value })
  }
  for (; at < entries.length; at += 1) result.push(entries[at] as Entry)
  return result
}

export class MemoryMetaStore extends SerializedMetaStore {
  readonly capabilities: MetaStoreCapabilities = { snapshots: true, shared: false }
  #entries: readonly Entry[] = []

  /** Number of committed keys (for tests). */
  get size(): number {
    return this.#entries.length
  }

  protected latestView(): CommittedView {
    return viewOf(this.#entries)
  }

  protected async openSnapshot(): Promise<BackendSnapshot> {
    return { view: viewOf(this.#entries), release: async () => {} }
  }

  protected async commitBatch(writes: readonly PendingWrite[]): Promise<void> {
    // Pending writes are owned by the finished transaction (copied on put), so they can be kept.
    this.#entries = merged(this.#entries, writes)
  }

  protected async closeBackend(): Promise<void> {
    this.#entries = []
  }

  protected describe(): string {
    return '(memory)'
  }
}
