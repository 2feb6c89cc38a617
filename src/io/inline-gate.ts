// InlineGate: small file reads and writes on the event loop's own thread while they are fast.
//
// Why: every FileHandle read/write is served by the libuv thread pool, two thread hand-offs
// (mutex, futex wake, a worker's pread, a wake back) that cost more CPU than a 4 KiB pread from
// the page cache itself: 4 KiB random NBD reads took 26-34 us of server CPU each through the
// pool and 14-21 us inline (bench/nbd, docs/benchmarks.md). But an inline call blocks every
// connection for as long as the disk takes, so the gate measures each inline call and, after
// one slower than slowMs (a cache miss reaching the disk, or dirty-page throttling), sends
// everything through the pool for backoffMs before trying inline again.
//
// Contract: read()/write() behave like handle.read()/handle.write() (same results and errors)
// whichever path they take; calls larger than inlineBytesMax always use the pool.
// Never: block the loop more than once per backoff window for longer than slowMs (one slow
// call is how a miss is detected).
import type { FileHandle } from './io.ts'

export interface InlineGateOptions {
  /** An inline call slower than this (ms) sends calls to the pool for backoffMs. */
  slowMs: number
  backoffMs: number
  inlineBytesMax: number
  /** Monotonic milliseconds (performance.now by default; tests pass a fake). */
  now?: () => number
}

export const inlineGateDefaults: InlineGateOptions = { slowMs: 0.5, backoffMs: 200, inlineBytesMax: 64 * 1024 }

export class InlineGate {
  readonly #options: InlineGateOptions
  readonly #now: () => number
  #poolUntilMs = -Infinity
  /** Counters for tests and metrics. */
  readonly counts = { inline: 0, pool: 0, slow: 0 }

  constructor(options: InlineGateOptions = inlineGateDefaults) {
    this.#options = options
    this.#now = options.now ?? (() => performance.now())
  }

  read(handle: FileHandle, buffer: Uint8Array, offset: number, length: number, position: number): Promise<number> {
    if (!this.#inline(length)) return handle.read(buffer, offset, length, position)
    return this.#timed(() => handle.readInline(buffer, offset, length, position))
  }

  write(handle: FileHandle, buffer: Uint8Array, offset: number, length: number, position: number): Promise<number> {
    if (!this.#inline(length)) return handle.write(buffer, offset, length, position)
    return this.#timed(() => handle.writeInline(buffer, offset, length, position))
  }

  #inline(length: number): boolean {
    const inline = length <= this.#options.inlineBytesMax && this.#now() >= this.#poolUntilMs
    if (inline) this.counts.inline += 1
    else this.counts.pool += 1
    return inline
  }

  async #timed(call: () => number): Promise<number> {
    const startMs = this.#now()
    try {
      return call()
    } finally {
      const endMs = this.#now()
      if (endMs - startMs > this.#options.slowMs) {
        this.counts.slow += 1
        this.#poolUntilMs = endMs + this.#options.backoffMs
      }
    }
  }
}
