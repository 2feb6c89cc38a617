// Concurrent uploads stay inside the ingest budget, and no body is held whole: checked by counting
// bytes (what was handed to the chunk store and not yet durable; what the bodies yielded and did not
// yet reach the chunk store), never by timing or by process memory.
import t from 'tap'
import { createHash } from 'node:crypto'
import type { ChunkStore } from '../chunk/index.ts'
import { KiB, MiB } from '../lib/index.ts'
import { ByteBudget } from './context.ts'
import { objectsTestSetup } from './testing.ts'

const chunking = { minBytes: 4 * KiB, averageBytes: 16 * KiB, maxBytes: 64 * KiB }
const budgetBytes = 256 * KiB
const uploads = 12
const bodyBytes = 3 * MiB
const pieceBytes = 64 * KiB

/** Wraps put() to count chunk bytes handed to the store and not yet resolved (the live frames). */
function countInFlight(store: ChunkStore): { readonly maxBytes: () => number; readonly putBytes: () => number } {
  const put = store.put.bind(store)
  let inFlightBytes = 0
  let maxBytes = 0
  let putBytes = 0
  store.put = async (plain, options) => {
    inFlightBytes += plain.length
    putBytes += plain.length
    maxBytes = Math.max(maxBytes, inFlightBytes)
    try {
      return await put(plain, options)
    } finally {
      inFlightBytes -= plain.length
    }
  }
  return { maxBytes: () => maxBytes, putBytes: () => putBytes }
}

t.test('12 concurrent uploads: chunk bytes in flight never exceed the budget, bodies stream', async (t) => {
  const setup = await objectsTestSetup({ ingestBytesInFlightMax: budgetBytes, chunking })
  t.teardown(setup.cleanup)
  const { objects, root, signal } = setup
  await objects.createBucket(root, 'budget')
  const counter = countInFlight(setup.chunkStore)
  let yieldedBytes = 0
  let unputMaxBytes = 0
  const sent = new Map<number, ReturnType<typeof createHash>>()
  async function* body(seed: number): AsyncGenerator<Uint8Array> {
    const piece = Buffer.alloc(pieceBytes)
    const digest = createHash('sha256')
    sent.set(seed, digest)
    for (let sent = 0; sent < bodyBytes; sent += pieceBytes) {
      // Unique, deterministic bytes (no dedup); the piece is reused, as the S3 edge may.
      for (let at = 0; at < pieceBytes; at += 32) createHash('sha256').update(`${seed}/${sent + at}`).digest().copy(piece, at)
      unputMaxBytes = Math.max(unputMaxBytes, yieldedBytes - counter.putBytes())
      yieldedBytes += pieceBytes
      digest.update(piece)
      yield piece
    }
  }
  const digests = async () => ({ md5Hex: '0'.repeat(32) })
  const puts = await Promise.all(
    Array.from({ length: uploads }, (_, index) =>
      objects.putObject({ bucket: 'budget', key: `k${index}`, principal: root, body: body(index), sizeBytes: bodyBytes, digests, contentHeaders: {}, userMetadata: {}, signal }),
    ),
  )
  for (const put of puts) t.equal(put.sizeBytes, bodyBytes)
  t.equal(counter.putBytes(), uploads * bodyBytes, 'every byte went to the chunk store')
  t.ok(counter.maxBytes() > 0 && counter.maxBytes() <= budgetBytes, `chunk bytes in flight peaked at ${counter.maxBytes()} <= budget ${budgetBytes}`)
  // Per body at most: one carry (< maxBytes), the chunks cut from the piece in hand waiting for the
  // budget (<= one piece) and the piece being pushed. Across bodies: that times the uploads.
  const unputBoundBytes = uploads * (chunking.maxBytes + 2 * pieceBytes)
  // Twelve bodies interleaved through one budget: every object reads back as sent.
  for (let index = 0; index < uploads; index++) {
    const got = await objects.getObject({ bucket: 'budget', key: `k${index}`, principal: root, signal })
    const digest = createHash('sha256')
    for await (const piece of got.body ?? []) digest.update(piece)
    t.equal(digest.digest('hex'), sent.get(index)?.digest('hex'), `k${index} reads back as sent`)
  }
  t.ok(unputMaxBytes <= unputBoundBytes, `bytes yielded but not yet put peaked at ${unputMaxBytes} <= ${unputBoundBytes} (of ${uploads * bodyBytes} in all)`)
})

t.test('ByteBudget: FIFO grants, the high-water mark never passes the capacity', async (t) => {
  const budget = new ByteBudget(100)
  const signal = new AbortController().signal
  await budget.acquire(60, signal)
  const granted: number[] = []
  const second = budget.acquire(60, signal).then(() => granted.push(60))
  const third = budget.acquire(30, signal).then(() => granted.push(30)) // fits, but waits its turn
  await new Promise((resolve) => setImmediate(resolve))
  t.same(granted, [], 'both wait while 60 of 100 are held')
  t.equal(budget.highWaterBytes, 60)
  budget.release(60)
  await Promise.all([second, third])
  t.same(granted, [60, 30], 'in order')
  t.equal(budget.highWaterBytes, 90)
  budget.release(60)
  budget.release(30)
  t.equal(budget.availableBytes, 100)
  t.ok(budget.highWaterBytes <= budget.capacityBytes)
})
