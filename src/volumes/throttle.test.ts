import t from 'tap'
import { GiB, KiB, MiB } from '../lib/index.ts'
import { realThrottleClock, TokenBucket, VolumeThrottle, type ThrottleClock } from './throttle.ts'
import { volumeTestSetup } from './testing.ts'
import { performanceOf, validateVolumeSpec } from './volume-types.ts'

/** Virtual time: a sleep wakes at call time + ms, and time jumps to the latest wake-up. */
function virtualClock(): ThrottleClock & { now: number } {
  const clock = {
    now: 0,
    nowMs: () => clock.now,
    sleep: async (ms: number) => {
      clock.now = Math.max(clock.now, clock.now + ms)
    },
  }
  return clock
}

t.test('a bucket grants capacity + rate * time, requests larger than the capacity included', async (t) => {
  const bucket = new TokenBucket({ ratePerSecond: 100, capacity: 10 }, 0)
  t.equal(bucket.spend(10, 0), 0, 'the initial capacity is free')
  t.equal(bucket.spend(1, 0), 10, 'one more token waits 10 ms')
  t.equal(bucket.spend(50, 0), 510, 'debt accumulates in order')
  t.equal(Math.round(bucket.level(300)), -21, '0.3 s later 30 tokens came in: 21 still owed')
  t.equal(Math.round(bucket.level(10_000)), 10, 'never above capacity')
})

t.test('gp3 baseline (3,000 IOPS, 125 MiB/s) holds on virtual time within 1%', async (t) => {
  const clock = virtualClock()
  const throttle = new VolumeThrottle(performanceOf(validateVolumeSpec({ sizeBytes: 100 * GiB })), clock)
  const signal = new AbortController().signal
  for (let op = 0; op < 30_000; op += 1) await throttle.take(4 * KiB, signal)
  const iops = 30_000 / (clock.now / 1000)
  t.ok(Math.abs(iops - 3000) / 3000 < 0.01, `${iops.toFixed(0)} IOPS`)
  const start = clock.now
  for (let op = 0; op < 1250; op += 1) await throttle.take(1 * MiB, signal)
  const mibps = 1250 / ((clock.now - start) / 1000)
  t.ok(Math.abs(mibps - 125) / 125 < 0.01, `${mibps.toFixed(1)} MiB/s`)
})

t.test('limits change online; gp2 bursts, then falls to its baseline', async (t) => {
  const clock = virtualClock()
  const signal = new AbortController().signal
  const throttle = new VolumeThrottle(performanceOf(validateVolumeSpec({ sizeBytes: 100 * GiB })), clock)
  throttle.reconfigure(performanceOf(validateVolumeSpec({ sizeBytes: 100 * GiB, iops: 6000 })))
  for (let op = 0; op < 60_000; op += 1) await throttle.take(4 * KiB, signal)
  t.ok(Math.abs(60_000 / (clock.now / 1000) - 6000) < 60, 'provisioned IOPS after modify')

  const burstClock = virtualClock()
  const burst = new VolumeThrottle(performanceOf(validateVolumeSpec({ sizeBytes: 100 * GiB, type: 'gp2' })), burstClock)
  for (let op = 0; op < 30_000; op += 1) await burst.take(4 * KiB, signal)
  t.ok(Math.abs(30_000 / (burstClock.now / 1000) - 3000) < 30, 'a full credit bucket bursts at 3,000 IOPS')
  // The same two buckets with 3,000 credits instead of 5.4 million: burst, then the baseline.
  const small = performanceOf(validateVolumeSpec({ sizeBytes: 100 * GiB, type: 'gp2' }))
  const smallClock = virtualClock()
  const drained = new VolumeThrottle({ ...small, ioBuckets: [{ ratePerSecond: 300, capacity: 3000 }, small.ioBuckets[1]!] }, smallClock)
  for (let op = 0; op < 3000; op += 1) await drained.take(4 * KiB, signal)
  t.ok(smallClock.now < 1200, `the credits go at the burst rate (${smallClock.now.toFixed(0)} ms)`)
  for (let op = 0; op < 600; op += 1) await drained.take(4 * KiB, signal) // what accrued meanwhile
  const start = smallClock.now
  for (let op = 0; op < 3000; op += 1) await drained.take(4 * KiB, signal)
  t.ok(Math.abs(3000 / ((smallClock.now - start) / 1000) - 300) < 3, 'then 300 IOPS (3 per GiB)')
})

t.test('a gp3 volume holds 3,000 IOPS and 125 MiB/s within 10% (real time)', async (t) => {
  const setup = await volumeTestSetup({ throttleClock: realThrottleClock })
  t.teardown(() => setup.cleanup())
  const volume = await setup.service.createVolume({ sizeBytes: 10 * GiB })
  const exported = await setup.service.open(volume.volumeId, 'bench')
  const signal = new AbortController().signal
  const measure = async (lengthBytes: number, durationMs: number): Promise<number> => {
    let ops = 0
    const start = performance.now()
    const worker = async (): Promise<void> => {
      while (performance.now() - start < durationMs) {
        await exported.read(Math.floor(Math.random() * 1000) * lengthBytes, lengthBytes, signal)
        ops += 1
      }
    }
    await Promise.all(Array.from({ length: 32 }, worker))
    return ops / ((performance.now() - start) / 1000)
  }
  // The limit must never be exceeded; reaching it needs CPU, so a loaded machine gets three tries.
  const holds = async (lengthBytes: number, limit: number, unit: (rate: number) => number, what: string): Promise<void> => {
    const rates: number[] = []
    for (let attempt = 0; attempt < 3; attempt += 1) {
      await measure(lengthBytes, 200) // spend what the bucket saved up meanwhile
      const rate = unit(await measure(lengthBytes, 2000))
      rates.push(rate)
      t.ok(rate <= limit * 1.1, `${rate.toFixed(1)} ${what} is at most 110% of ${limit}`)
      if (rate >= limit * 0.9) break
    }
    t.ok(rates.some((rate) => rate >= limit * 0.9 && rate <= limit * 1.1), `${what} within 10% of ${limit} (${rates.map((rate) => rate.toFixed(1)).join(', ')})`)
  }
  await holds(4 * KiB, 3000, (rate) => rate, 'IOPS of 4 KiB')
  await holds(1 * MiB, 125, (rate) => rate, 'MiB/s in 1 MiB reads')
  await exported.release()
})
