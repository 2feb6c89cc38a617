// Per-extent reader/writer locks for a live volume.
//
// Shared holders: plain reads and writes into DATA extents (the fast path; concurrent writes to
// one extent are fine, NBD orders nothing between in-flight requests). Exclusive holders: every
// change of an extent's state or of bytes a snapshot still needs (hydration, copy-on-write,
// zero-fill, trim, hole punching, a snapshot reading the extent).
// Invariants: waiters are served in arrival order (no writer starvation); an entry exists only
// while the extent is held or waited for. Callers take several extents in ascending order only,
// so lock order is global and there is no deadlock.
// Never: release twice (the release function is idempotent to make `finally` safe).
type Waiter = { exclusive: boolean; grant: () => void }
type Entry = { shared: number; exclusive: boolean; waiters: Waiter[] }

export type Release = () => void

export class ExtentLocks {
  readonly #entries = new Map<number, Entry>()

  /** Number of extents currently held or waited for (tests). */
  get activeCount(): number {
    return this.#entries.size
  }

  acquire(extent: number, exclusive: boolean): Promise<Release> {
    let entry = this.#entries.get(extent)
    if (entry === undefined) {
      entry = { shared: 0, exclusive: false, waiters: [] }
      this.#entries.set(extent, entry)
    }
    const free = !entry.exclusive && entry.waiters.length === 0 && (exclusive ? entry.shared === 0 : true)
    if (free) {
      this.#take(entry, exclusive)
      return Promise.resolve(this.#releaser(extent, exclusive))
    }
    return new Promise((resolve) => {
      entry.waiters.push({ exclusive, grant: () => resolve(this.#releaser(extent, exclusive)) })
    })
  }

  /** Take extents first..last (inclusive) in ascending order; one release for all. */
  async acquireRange(first: number, last: number, exclusive: boolean): Promise<Release> {
    const releases: Release[] = []
    try {
      for (let extent = first; extent <= last; extent += 1) releases.push(await this.acquire(extent, exclusive))
    } catch (error) {
      for (const release of releases.reverse()) release()
      throw error
    }
    return () => {
      for (const release of releases.reverse()) release()
    }
  }

  #take(entry: Entry, exclusive: boolean): void {
    if (exclusive) entry.exclusive = true
    else entry.shared += 1
  }

  #releaser(extent: number, exclusive: boolean): Release {
    let released = false
    return () => {
      if (released) return
      released = true
      const entry = this.#entries.get(extent)
      if (entry === undefined) throw new TypeError(`extent ${extent} released but not held`)
      if (exclusive) entry.exclusive = false
      else entry.shared -= 1
      this.#grant(extent, entry)
    }
  }

  #grant(extent: number, entry: Entry): void {
    while (!entry.exclusive && entry.waiters.length > 0) {
      const next = entry.waiters[0]!
      if (next.exclusive && entry.shared > 0) break
      entry.waiters.shift()
      this.#take(entry, next.exclusive)
      next.grant()
      if (next.exclusive) break
    }
    if (!entry.exclusive && entry.shared === 0 && entry.waiters.length === 0) this.#entries.delete(extent)
  }
}
