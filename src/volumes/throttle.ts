// Token buckets that hold a volume to its type's IOPS and throughput (volume-types.ts).
//
// Contract: take(ioCount, bytes) resolves when every bucket had room: each bucket refills at its
// rate up to its capacity, and a take spends its tokens at once, going into debt when it must,
// so the caller waits until the debt is repaid. Over any interval T the tokens granted are at
// most capacity + rate * T, whatever the request sizes, and waiters are served in arrival order
// (a later take sees the earlier debt). Limits change online with reconfigure(); a bucket keeps
// its level (clamped to the new capacity).
// Never: busy-wait, or hold more than one timer per waiting take.
import { StoreError, throwIfAborted } from '../lib/index.ts'
import type { BucketSpec, VolumePerformance } from './volume-types.ts'

/** Monotonic time and sleeping, injectable for tests. */
export interface ThrottleClock {
  nowMs(): number
  sleep(ms: number, signal: AbortSignal): Promise<void>
}

export const realThrottleClock: ThrottleClock = {
  nowMs: () => performance.now(),
  sleep: (ms, signal) =>
    new Promise<void>((resolve, reject) => {
      if (signal.aborted) {
        reject(new StoreError('ABORTED', 'operation aborted', { cause: signal.reason }))
        return
      }
      const onAbort = (): void => {
        clearTimeout(timer)
        reject(new StoreError('ABORTED', 'operation aborted while throttled', { cause: signal.reason }))
      }
      const timer = setTimeout(() => {
        signal.removeEventListener('abort', onAbort)
        resolve()
      }, ms)
      signal.addEventListener('abort', onAbort, { once: true })
    }),
}

export class TokenBucket {
  #spec: BucketSpec
  #tokens: number
  #updatedMs: number

  constructor(spec: BucketSpec, nowMs: number) {
    this.#spec = spec
    this.#tokens = spec.capacity
    this.#updatedMs = nowMs
  }

  reconfigure(spec: BucketSpec, nowMs: number): void {
    this.#refill(nowMs)
    this.#spec = spec
    this.#tokens = Math.min(this.#tokens, spec.capacity)
  }

  /** Spend tokens now; returns how long the caller must wait for them (0 when they were there). */
  spend(tokens: number, nowMs: number): number {
    this.#refill(nowMs)
    this.#tokens -= tokens
    return this.#tokens >= 0 ? 0 : (-this.#tokens / this.#spec.ratePerSecond) * 1000
  }

  level(nowMs: number): number {
    this.#refill(nowMs)
    return this.#tokens
  }

  #refill(nowMs: number): void {
    const elapsedMs = Math.max(0, nowMs - this.#updatedMs)
    this.#updatedMs = nowMs
    this.#tokens = Math.min(this.#spec.capacity, this.#tokens + (elapsedMs / 1000) * this.#spec.ratePerSecond)
  }
}

/** The buckets of one volume, shared by every connection to it. */
export class VolumeThrottle {
  readonly #clock: ThrottleClock
  #ioBuckets: TokenBucket[] = []
  #byteBuckets: TokenBucket[] = []
  #ioUnitBytes = 1

  constructor(performance: VolumePerformance, clock: ThrottleClock = realThrottleClock) {
    this.#clock = clock
    this.reconfigure(performance)
  }

  reconfigure(performance: VolumePerformance): void {
    const nowMs = this.#clock.nowMs()
    const adopt = (existing: TokenBucket[], specs: BucketSpec[]): TokenBucket[] =>
      specs.map((spec, index) => {
        const bucket = existing[index]
        if (bucket === undefined) return new TokenBucket(spec, nowMs)
        bucket.reconfigure(spec, nowMs)
        return bucket
      })
    this.#ioBuckets = adopt(this.#ioBuckets, performance.ioBuckets)
    this.#byteBuckets = adopt(this.#byteBuckets, performance.byteBuckets)
    this.#ioUnitBytes = performance.ioUnitBytes
  }

  /** Wait until the volume may do one I/O of `bytes` (reads and writes; 0 bytes still counts as one I/O). */
  async take(bytes: number, signal: AbortSignal): Promise<void> {
    throwIfAborted(signal)
    const nowMs = this.#clock.nowMs()
    const ioTokens = Math.max(1, Math.ceil(bytes / this.#ioUnitBytes))
    let waitMs = 0
    for (const bucket of this.#ioBuckets) waitMs = Math.max(waitMs, bucket.spend(ioTokens, nowMs))
    if (bytes > 0) for (const bucket of this.#byteBuckets) waitMs = Math.max(waitMs, bucket.spend(bytes, nowMs))
    if (waitMs > 0) await this.#clock.sleep(waitMs, signal)
  }
}
