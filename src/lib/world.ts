// The world outside the process, injected so tests can control it (TigerBeetle style):
// time and randomness. The disk is in src/io.
import { randomBytes } from 'node:crypto'

export interface Clock {
  /** Wall-clock milliseconds since the epoch. */
  nowMs(): number
}

export interface Random {
  bytes(length: number): Buffer
}

export const systemClock: Clock = { nowMs: () => Date.now() }
export const systemRandom: Random = { bytes: (length) => randomBytes(length) }

/** A clock that only moves when told to: for tests of grace periods and lifecycle. */
export class ManualClock implements Clock {
  #nowMs: number
  constructor(startMs = 1_700_000_000_000) {
    this.#nowMs = startMs
  }
  nowMs(): number {
    return this.#nowMs
  }
  advance(deltaMs: number): void {
    this.#nowMs += deltaMs
  }
}

/**
 * A seeded, reproducible Random for tests and fuzzers (mulberry32): print the seed on failure
 * and the run replays. Never for keys or nonces.
 */
export class SeededRandom implements Random {
  readonly seed: number
  #state: number
  constructor(seed: number) {
    this.seed = seed
    this.#state = seed | 0
  }
  /** Uniform in [0, 1). */
  next(): number {
    this.#state = (this.#state + 0x6d2b79f5) | 0
    let value = Math.imul(this.#state ^ (this.#state >>> 15), 1 | this.#state)
    value = (value + Math.imul(value ^ (value >>> 7), 61 | value)) ^ value
    return ((value ^ (value >>> 14)) >>> 0) / 2 ** 32
  }
  /** Uniform integer in [0, bound). */
  int(bound: number): number {
    return Math.floor(this.next() * bound)
  }
  bytes(length: number): Buffer {
    const out = Buffer.allocUnsafe(length)
    for (let at = 0; at < length; at += 4) {
      const word = (this.next() * 2 ** 32) >>> 0
      for (let byte = 0; byte < 4 && at + byte < length; byte += 1) out[at + byte] = (word >>> (byte * 8)) & 0xff
    }
    return out
  }
}

/** A seed from CAIRN_TEST_SEED-style env text, or a fresh random one. */
export function seedFrom(text: string | undefined): number {
  const parsed = text === undefined ? Number.NaN : Number(text)
  return Number.isSafeInteger(parsed) ? parsed : Math.floor(Math.random() * 2 ** 31)
}
