// Reusable payload buffers for the request loop: READ data (filled by the export) and WRITE
// payloads that span several received socket chunks.
//
// Why: a fresh Buffer per request is a fresh ArrayBuffer (Node's own pool only serves < 4 KiB),
// and V8 counts those bytes towards its heap limits: at a few hundred MB/s it ran a full
// mark-compact every ~100 ms, which cost more CPU than the I/O itself (1 MiB reads: ~1.8 ms of
// server CPU per request before pooling, ~0.4 ms after; bench/nbd.ts, docs/benchmarks.md).
//
// Contract: acquire(length) leases a Buffer of exactly `length` bytes (a view of a pooled
// buffer of the next power-of-two size from 4 KiB; contents undefined). release(lease) gives it
// back once nothing reads or writes it any more (the socket took it, or the export's write
// settled); releasing twice is a bug (asserted). Free buffers kept for reuse total at most
// retainBytesMax across all size classes; beyond that released buffers go to the GC.
// Never: hand out a buffer that another lease still uses.
import { assert } from '../lib/index.ts'

const smallestClassBytes = 4096

export interface PooledBuffer {
  /** The leased bytes: exactly the length asked for. */
  readonly bytes: Buffer
  /** @internal The pooled buffer behind `bytes`. */
  readonly whole: Buffer
  released: boolean
}

export class BufferPool {
  readonly #retainBytesMax: number
  /** Free buffers by size class (bytes). */
  readonly #free = new Map<number, Buffer[]>()
  #retainedBytes = 0

  constructor(retainBytesMax: number) {
    assert(Number.isSafeInteger(retainBytesMax) && retainBytesMax >= 0, 'pool retention is a byte count')
    this.#retainBytesMax = retainBytesMax
  }

  /** Bytes of free buffers kept for reuse now. */
  get retainedBytes(): number {
    return this.#retainedBytes
  }

  acquire(lengthBytes: number): PooledBuffer {
    assert(Number.isSafeInteger(lengthBytes) && lengthBytes > 0, 'a pooled buffer is not empty')
    const classBytes = sizeClassOf(lengthBytes)
    let whole = this.#free.get(classBytes)?.pop()
    if (whole === undefined) whole = Buffer.allocUnsafeSlow(classBytes)
    else this.#retainedBytes -= classBytes
    return { bytes: whole.length === lengthBytes ? whole : whole.subarray(0, lengthBytes), whole, released: false }
  }

  release(lease: PooledBuffer): void {
    assert(!lease.released, 'a pooled buffer is released once')
    lease.released = true
    const { whole } = lease
    if (this.#retainedBytes + whole.length > this.#retainBytesMax) return
    let free = this.#free.get(whole.length)
    if (free === undefined) {
      free = []
      this.#free.set(whole.length, free)
    }
    free.push(whole)
    this.#retainedBytes += whole.length
  }
}

/** The power of two (at least 4 KiB) a request of lengthBytes is served from. */
export function sizeClassOf(lengthBytes: number): number {
  let classBytes = smallestClassBytes
  while (classBytes < lengthBytes) classBytes *= 2
  return classBytes
}
