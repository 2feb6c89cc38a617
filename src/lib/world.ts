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
