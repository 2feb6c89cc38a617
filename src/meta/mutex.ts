// A FIFO async mutex: serializes write transactions inside one process.
// Invariant: every lock() result is released exactly once (callers release in `finally`); a
// waiter that gives up (its signal fired) releases its turn as soon as the turn comes.
import { StoreError, throwIfAborted } from '../lib/index.ts'

export class Mutex {
  #tail: Promise<void> = Promise.resolve()

  /**
   * Wait for the lock; resolves to the release function. When signal fires first, rejects with
   * StoreError ABORTED at once and the abandoned turn is passed on when it arrives.
   */
  async lock(signal?: AbortSignal): Promise<() => void> {
    throwIfAborted(signal)
    const turn = this.#enqueue()
    if (signal === undefined) return turn
    let onAbort!: () => void
    const aborted = new Promise<never>((_, reject) => {
      onAbort = () => reject(signal.reason)
      signal.addEventListener('abort', onAbort, { once: true })
    })
    try {
      return await Promise.race([turn, aborted])
    } catch (error) {
      // Only `aborted` rejects (a turn never does); give the turn away when it comes.
      void turn.then((release) => release())
      throw new StoreError('ABORTED', 'operation aborted while waiting for the write lock', { cause: error })
    } finally {
      signal.removeEventListener('abort', onAbort)
    }
  }

  async #enqueue(): Promise<() => void> {
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
