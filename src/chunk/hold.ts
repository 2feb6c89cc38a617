// Holds: chunks a writer has put but not yet referenced, kept from GC for as long as it takes.
//
// Why: a new chunk has refcount 0 until the record that uses it commits; GC may take a zero-ref
// chunk once its grace period passed. A writer that commits within half the grace period needs
// nothing, but a slow client (a 5 GiB PUT at 2 MB/s takes 45 minutes, past half the default
// hour) would otherwise find its first chunks collected at commit (CHUNK_MISSING).
//
// Contract: ids added to a hold are not collected until release(); GC re-arms their grace
// period instead (gc.ts), so they stay collectable later if the writer never references them.
// Holds live in memory: after a restart the writer is gone too, and its chunks are ordinary
// zero-ref chunks. release() is idempotent; add() after release() is a bug (asserted).
import { assert, chunkIdHex, type ChunkId } from '../lib/index.ts'

/** Every hold of one store: how many holds name each chunk (hex id). */
export class HeldChunks {
  readonly #counts = new Map<string, number>()

  has(id: ChunkId): boolean {
    return this.#counts.has(chunkIdHex(id))
  }

  get size(): number {
    return this.#counts.size
  }

  /** @internal ChunkHold's bookkeeping. */
  change(hex: string, delta: 1 | -1): void {
    const count = (this.#counts.get(hex) ?? 0) + delta
    assert(count >= 0, 'a held chunk is released at most as often as it was held')
    if (count === 0) this.#counts.delete(hex)
    else this.#counts.set(hex, count)
  }
}

export class ChunkHold {
  readonly #held: HeldChunks
  readonly #ids = new Set<string>()
  #released = false

  constructor(held: HeldChunks) {
    this.#held = held
  }

  add(id: ChunkId): void {
    assert(!this.#released, 'no chunk is added to a released hold')
    const hex = chunkIdHex(id)
    if (this.#ids.has(hex)) return
    this.#ids.add(hex)
    this.#held.change(hex, 1)
  }

  /** `using hold = store.hold()` releases it when the scope ends. */
  [Symbol.dispose](): void {
    this.release()
  }

  release(): void {
    if (this.#released) return
    this.#released = true
    for (const hex of this.#ids) this.#held.change(hex, -1)
    this.#ids.clear()
  }
}
