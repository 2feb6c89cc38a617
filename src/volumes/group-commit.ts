// Group commit: many callers share one round of expensive work (an fsync, a metadata commit).
//
// Contract: request(item) resolves when a round that STARTED after the request was made has
// finished successfully (and rejects with that round's error). At most one round runs at a
// time; requests made while one runs join the next round, which starts as soon as the running
// one ends, with every item requested meanwhile. So a caller's earlier effects are always
// covered by the round it waits for (the round captures them when it starts).
export class GroupCommit<T> {
  readonly #round: (items: ReadonlySet<T>) => Promise<void>
  #running: Promise<void> | undefined
  #next: { items: Set<T>; done: Promise<void> } | undefined

  constructor(round: (items: ReadonlySet<T>) => Promise<void>) {
    this.#round = round
  }

  request(item?: T): Promise<void> {
    if (this.#next === undefined) {
      const items = new Set<T>()
      const previous = this.#running ?? Promise.resolve()
      const done = previous
        .catch(() => undefined)
        .then(() => {
          // From here on, new requests start another round after this one.
          if (this.#next?.items === items) this.#next = undefined
          return this.#round(items)
        })
      this.#next = { items, done }
      this.#running = done
      // Rejections reach the callers through `done`; the chain itself must not be unhandled.
      done.catch(() => undefined)
    }
    if (item !== undefined) this.#next.items.add(item)
    return this.#next.done
  }

  /** Resolves when every round requested so far has ended (successfully or not). */
  async idle(): Promise<void> {
    await this.#running?.catch(() => undefined)
  }
}
