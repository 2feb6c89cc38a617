// The change attribute and timestamps (docs/format/files.md 2.1).
//
// Change values are (boot << 44) | sequence: the boot number is persisted and incremented at
// every open, the sequence counts in memory. Values handed out by one process grow strictly, and
// every value of a later process is above every value of an earlier one, so `change` never goes
// back, even when acknowledged unstable writes (and the change values reported for them) were
// lost in a crash: a stored value from an earlier boot is reported as the boot's floor.
import { assert, type Clock } from '../lib/index.ts'
import type { MetaStore } from '../meta/index.ts'
import type { Timestamp } from './api.ts'
import { bootKey } from './keys.ts'
import { decodeCounter, encodeCounter } from './records.ts'

const sequenceBits = 44n
const bootMax = 2 ** 20 - 1
const sequenceMax = 2 ** 44 - 1

export class ChangeCounter {
  readonly boot: number
  /** Every value reported in this process is at least this. */
  readonly floor: bigint
  #sequence = 0

  constructor(boot: number) {
    assert(Number.isSafeInteger(boot) && boot >= 1 && boot <= bootMax, 'boot numbers fit 20 bits')
    this.boot = boot
    this.floor = BigInt(boot) << sequenceBits
  }

  /** Increment the persisted boot counter and start counting changes above it. */
  static async open(meta: MetaStore): Promise<ChangeCounter> {
    const boot = await meta.transact(async (tx) => {
      const stored = await tx.get(bootKey)
      const next = (stored === undefined ? 0 : decodeCounter(stored, "('fs','boot')")) + 1
      tx.put(bootKey, encodeCounter(next))
      return next
    })
    return new ChangeCounter(boot)
  }

  next(): bigint {
    this.#sequence += 1
    assert(this.#sequence <= sequenceMax, 'change sequence fits 44 bits (restart the process)')
    return this.floor | BigInt(this.#sequence)
  }

  /** The value to report for a stored change (see the module comment). */
  report(stored: bigint, pending?: bigint): bigint {
    let value = stored > this.floor ? stored : this.floor
    if (pending !== undefined && pending > value) value = pending
    return value
  }
}

export function timestampOf(ms: number): Timestamp {
  const seconds = Math.floor(ms / 1000)
  return { seconds, nanoseconds: Math.min(999_999_999, Math.floor((ms - seconds * 1000) * 1_000_000)) }
}

export function msOf(time: Timestamp): number {
  return time.seconds * 1000 + Math.floor(time.nanoseconds / 1_000_000)
}

export function nowTimestamp(clock: Clock): Timestamp {
  return timestampOf(clock.nowMs())
}
