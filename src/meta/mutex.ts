// A FIFO async mutex: serializes write transactions inside one process.
// Invariant: every lock() result is released exactly once (callers release in `finally`).

export class Mutex {
  #tail: Promise<void> = Promise.resolve()

  /** Wait for the lock; resolves to the release function. */
  async lock(): Promise<() => void> {
    let release!: () => void
    const released = new Promise<void>((resolve) => {
      release = resolve
    })
    const previous = this.#tail
    this.#tail = previous.then(() => released)
    await previous
    let done = false
    return () => {
      if (done) return
      done = true
      release()
    }
  }

  /** Resolves once every holder and waiter queued so far has released. */
  async idle(): Promise<void> {
    await this.#tail
  }
}
