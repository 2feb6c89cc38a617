// A keyed FIFO async mutex: callers with the same key run one at a time, in arrival order.
// Entries disappear when their last holder releases, so the map is bounded by the callers waiting.
// Invariant: every acquired release() runs exactly once (callers release in `finally`).

export class KeyedMutex {
  readonly #tails = new Map<string, { tail: Promise<void>; waiters: number }>()

  async lock(key: string): Promise<() => void> {
    const entry = this.#tails.get(key) ?? { tail: Promise.resolve(), waiters: 0 }
    entry.waiters += 1
    this.#tails.set(key, entry)
    let release!: () => void
    const released = new Promise<void>((resolve) => {
      release = resolve
    })
    const previous = entry.tail
    entry.tail = previous.then(() => released)
    await previous
    let done = false
    return () => {
      if (done) return
      done = true
      entry.waiters -= 1
      if (entry.waiters === 0 && this.#tails.get(key) === entry) this.#tails.delete(key)
      release()
    }
  }

  async run<T>(key: string, body: () => Promise<T>): Promise<T> {
    const release = await this.lock(key)
    try {
      return await body()
    } finally {
      release()
    }
  }
}
