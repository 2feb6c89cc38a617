// A set of extent indexes of one volume as a bitmap: 1 bit per extent, so the frozen set of a
// snapshot of a 64 TiB volume (every extent, when it is re-hashed) takes 64 MiB, not an array of
// half a billion numbers. Iteration is ascending and skips empty bytes.
import { assert } from '../lib/index.ts'

export class ExtentSet {
  readonly capacity: number
  readonly #bits: Uint8Array
  #size = 0

  constructor(capacity: number) {
    assert(Number.isSafeInteger(capacity) && capacity >= 0, 'capacity is a count of extents')
    this.capacity = capacity
    this.#bits = new Uint8Array(Math.ceil(capacity / 8))
  }

  /** A set of every extent in [0, capacity) that passes the test. */
  static where(capacity: number, test: (extent: number) => boolean): ExtentSet {
    const set = new ExtentSet(capacity)
    for (let extent = 0; extent < capacity; extent += 1) if (test(extent)) set.add(extent)
    return set
  }

  get size(): number {
    return this.#size
  }

  has(extent: number): boolean {
    if (extent < 0 || extent >= this.capacity) return false
    return ((this.#bits[extent >> 3]! >> (extent & 7)) & 1) === 1
  }

  add(extent: number): void {
    assert(extent >= 0 && extent < this.capacity, 'extent in range')
    if (this.has(extent)) return
    this.#bits[extent >> 3]! |= 1 << (extent & 7)
    this.#size += 1
  }

  delete(extent: number): boolean {
    if (!this.has(extent)) return false
    this.#bits[extent >> 3]! &= ~(1 << (extent & 7))
    this.#size -= 1
    return true
  }

  copy(): ExtentSet {
    const copy = new ExtentSet(this.capacity)
    copy.#bits.set(this.#bits)
    copy.#size = this.#size
    return copy
  }

  /** Members in [from, to), ascending. */
  *range(from = 0, to = this.capacity): Generator<number> {
    const end = Math.min(to, this.capacity)
    let extent = Math.max(0, from)
    while (extent < end) {
      const byte = this.#bits[extent >> 3]!
      if (byte === 0) {
        extent = ((extent >> 3) + 1) << 3
        continue
      }
      if (((byte >> (extent & 7)) & 1) === 1) yield extent
      extent += 1
    }
  }

  [Symbol.iterator](): Generator<number> {
    return this.range()
  }
}
