// A FIFO async mutex for one file's flushes and size changes. Every lock() result is released
// exactly once (callers release in `finally`).
export class Mutex {
  #tail: Promise<void> = Promise.resolve()
  #holders = 0

  /** Whether someone holds or waits for the lock. */
  get busy(): boolean {
    return this.#holders > 0
  }

  async lock(): Promise<() => void> {
    let release!: () => void
    const released = new Promise<void>((resolve) => {
      release = resolve
    })
    const previous = this.#tail
    this.#tail = previous.then(() => released)
    this.#holders += 1
    await previous
    let done = false
    return () => {
      if (done) return
      done = true
      this.#holders -= 1
      release()
    }
  }
}
