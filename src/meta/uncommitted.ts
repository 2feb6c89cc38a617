// The writes of finished transactions whose group commit has not reached the backend yet.
//
// Contract: SerializedMetaStore runs write transactions one at a time, but lets the next one
// start as soon as the previous one's function returned (its writes queued for the next group
// commit), so the next one must read the queued writes as if they were committed: view(base)
// is the backend's latest state with every queued write layered on top, newest first.
// A queued write leaves this layer only after its batch reached the backend (remove()), so a
// read that misses here and goes to the backend finds the same value either way.
// Invariant: for each key, the layer holds the newest queued write and the group it belongs to.
// Never: hand out a queued buffer (reads get copies).
import type { Entry, KeyRange } from './meta-store.ts'
import { mergePage, type CommittedView, type PendingWrite } from './overlay.ts'
import { sliceRange } from './range.ts'

interface Queued {
  write: PendingWrite
  group: number
}

function copyValue(write: PendingWrite): Buffer | undefined {
  return write.value === undefined ? undefined : Buffer.from(write.value)
}

export class UncommittedWrites {
  // Keyed by the latin1 spelling of the key bytes (a bijection), as in OverlayTx.
  readonly #queued = new Map<string, Queued>()
  #sorted: PendingWrite[] | undefined

  get size(): number {
    return this.#queued.size
  }

  /** Queue a finished transaction's writes as part of group `group`. */
  add(writes: readonly PendingWrite[], group: number): void {
    for (const write of writes) this.#queued.set(write.key.toString('latin1'), { write, group })
    if (writes.length > 0) this.#sorted = undefined
  }

  /** Drop the writes of group `group` that no later group replaced: they are in the backend now. */
  remove(writes: readonly PendingWrite[], group: number): void {
    for (const write of writes) {
      const name = write.key.toString('latin1')
      if (this.#queued.get(name)?.group === group) this.#queued.delete(name)
    }
    this.#sorted = undefined
  }

  clear(): void {
    this.#queued.clear()
    this.#sorted = undefined
  }

  /** The backend's view with the queued writes on top (base itself when nothing is queued). */
  view(base: CommittedView): CommittedView {
    return {
      get: async (key) => {
        const queued = this.#queued.get(key.toString('latin1'))
        return queued === undefined ? base.get(key) : copyValue(queued.write)
      },
      getMany: async (keys) => {
        const results: Array<Buffer | undefined> = new Array(keys.length).fill(undefined)
        const missing: number[] = []
        keys.forEach((key, index) => {
          const queued = this.#queued.get(key.toString('latin1'))
          if (queued === undefined) missing.push(index)
          else results[index] = copyValue(queued.write)
        })
        if (missing.length > 0) {
          const committed = await base.getMany(missing.map((index) => keys[index] as Buffer))
          missing.forEach((index, at) => {
            results[index] = committed[at]
          })
        }
        return results
      },
      scan: async (range: KeyRange): Promise<Entry[]> => {
        // Captured before the backend read starts: a group landing meanwhile shows up in both,
        // and the queued copy (the same value) wins the tie.
        const queued = this.#queued.size === 0 ? [] : sliceRange(this.#sortedWrites(), { ...range, limit: Number.POSITIVE_INFINITY })
        const committed = await base.scan({ ...range, limit: range.limit + queued.length })
        if (queued.length === 0) return committed
        return mergePage(committed, queued, range.reverse === true ? -1 : 1, range.limit)
      },
    }
  }

  #sortedWrites(): PendingWrite[] {
    this.#sorted ??= [...this.#queued.values()].map((queued) => queued.write).sort((a, b) => Buffer.compare(a.key, b.key))
    return this.#sorted
  }
}
