// A small seeded PRNG (mulberry32) for reproducible fuzz tests; print the seed on failure.

export class SeededRandom {
  #state: number
  readonly seed: number

  constructor(seed: number) {
    this.seed = seed >>> 0
    this.#state = this.seed
  }

  /** Uniform in [0, 1). */
  next(): number {
    this.#state = (this.#state + 0x6d2b79f5) >>> 0
    let t = this.#state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }

  /** Integer in [0, bound). */
  below(bound: number): number {
    return Math.floor(this.next() * bound)
  }

  pick<T>(items: readonly T[]): T {
    return items[this.below(items.length)] as T
  }

  bytes(length: number): Buffer {
    const out = Buffer.allocUnsafe(length)
    for (let index = 0; index < length; index += 1) out[index] = this.below(256)
    return out
  }
}
