import t, { type Test } from 'tap'
import { AssertionError } from 'node:assert'
import { chunkIdFrom, limits, type ChunkId } from '../lib/index.ts'
import { MemoryMetaStore, prefixRange, type MetaStore } from '../meta/index.ts'
import type { ChunkStoreOptions } from './store.ts'
import { seededRandom, testStoreSetup } from './store-testing.ts'

const seed = Number(process.env.CAIRN_TEST_SEED ?? Date.now() % 1_000_000)
t.comment(`seed ${seed} (set CAIRN_TEST_SEED to repeat)`)
const random = seededRandom(seed)
const graceMs = 1000

async function setupStore(t: Test, overrides: Partial<ChunkStoreOptions> = {}) {
  const setup = await testStoreSetup({ gcGraceMs: graceMs, ...overrides }, seed)
  t.teardown(setup.cleanup)
  const store = await setup.open()
  t.teardown(() => store.close())
  const refs = (id: ChunkId) => setup.meta.read((tx) => store.refCount(tx, id))
  const queued = () => setup.meta.read(async (tx) => (await tx.scan({ ...prefixRange('chunk', 'gc'), limit: 10_000 })).length)
  return { setup, store, refs, queued, clock: setup.clock }
}

t.test('refcounts: add, drop, duplicates, missing chunks', async (t) => {
  const { setup, store, refs, queued } = await setupStore(t)
  const a = (await store.put(random.bytes(1000))).id
  t.equal(await refs(a), 0, 'a new chunk has no references')
  t.equal(await queued(), 1, 'and waits in the GC queue')
  await setup.meta.transact((tx) => store.addRefs(tx, [a, a, a]))
  t.equal(await refs(a), 3, 'each occurrence counts')
  t.equal(await queued(), 0, 'a referenced chunk leaves the queue')
  await setup.meta.transact((tx) => store.dropRefs(tx, [a, a]))
  t.equal(await refs(a), 1)
  t.equal(await queued(), 0)
  await setup.meta.transact((tx) => store.dropRefs(tx, [a]))
  t.equal(await refs(a), 0)
  t.equal(await queued(), 1, 'back in the queue at zero')
  await t.rejects(
    setup.meta.transact((tx) => store.dropRefs(tx, [a])),
    AssertionError,
    'dropping a reference nobody holds is a bug',
  )
  const missing = chunkIdFrom(Buffer.alloc(32, 1))
  await t.rejects(setup.meta.transact((tx) => store.addRefs(tx, [a, missing])), { code: 'CHUNK_MISSING' })
  t.equal(await refs(a), 0, 'the failed transaction changed nothing')
})

t.test('GC honours the grace period and references', async (t) => {
  const { setup, store, clock } = await setupStore(t)
  const kept = (await store.put(random.bytes(2000))).id
  const dropped = (await store.put(random.bytes(3000))).id
  await setup.meta.transact((tx) => store.addRefs(tx, [kept, dropped]))
  await setup.meta.transact((tx) => store.dropRefs(tx, [dropped]))
  const unreferenced = (await store.put(random.bytes(4000))).id
  t.same(await store.collectGarbage(), { collectedChunks: 0, collectedBytes: 0 }, 'nothing is due inside the grace period')
  clock.advance(graceMs - 1)
  t.same(await store.collectGarbage(), { collectedChunks: 0, collectedBytes: 0 })
  clock.advance(1)
  t.same(await store.collectGarbage(), { collectedChunks: 2, collectedBytes: 7000 })
  await t.rejects(store.get(dropped), { code: 'NOT_FOUND' })
  await t.rejects(store.get(unreferenced), { code: 'NOT_FOUND' })
  t.equal((await store.get(kept)).length, 2000)
  t.equal(store.stats().liveBytes, 56 + 2000, 'the pack lost the collected frames')
  t.equal(store.stats().deadBytes, 2 * 56 + 7000)
  await t.rejects(setup.meta.transact((tx) => store.addRefs(tx, [dropped])), { code: 'CHUNK_MISSING' })
})

t.test('a re-reference before the grace period ends cancels GC', async (t) => {
  const { setup, store, clock, refs } = await setupStore(t)
  const id = (await store.put(random.bytes(1000))).id
  await setup.meta.transact((tx) => store.addRefs(tx, [id]))
  await setup.meta.transact((tx) => store.dropRefs(tx, [id]))
  clock.advance(graceMs / 2)
  await setup.meta.transact((tx) => store.addRefs(tx, [id]))
  clock.advance(graceMs * 10)
  t.same(await store.collectGarbage(), { collectedChunks: 0, collectedBytes: 0 })
  t.equal(await refs(id), 1)
  t.equal((await store.get(id)).length, 1000)
})

t.test('dedup against a zero-ref chunk re-arms its grace period (the GC race)', async (t) => {
  const { setup, store, clock } = await setupStore(t)
  const plain = random.bytes(5000)
  const first = await store.put(plain)
  clock.advance(graceMs * 2) // the chunk is due...
  const again = await store.put(plain) // ...but a writer dedups against it before GC runs
  t.equal(again.deduplicated, true)
  t.same(await store.collectGarbage(), { collectedChunks: 0, collectedBytes: 0 }, 'the dedup hit restarted the grace period')
  await setup.meta.transact((tx) => store.addRefs(tx, [first.id]))
  clock.advance(graceMs * 2)
  t.same(await store.collectGarbage(), { collectedChunks: 0, collectedBytes: 0 })
  t.ok((await store.get(first.id)).equals(plain))
})

t.test('GC first, then put: the chunk is written again', async (t) => {
  const { setup, store, clock } = await setupStore(t)
  const plain = random.bytes(5000)
  const first = await store.put(plain)
  clock.advance(graceMs * 2)
  t.equal((await store.collectGarbage()).collectedChunks, 1)
  const again = await store.put(plain)
  t.equal(again.deduplicated, false, 'the collected chunk is stored anew')
  await setup.meta.transact((tx) => store.addRefs(tx, [first.id]))
  t.ok((await store.get(first.id)).equals(plain))
})

t.test('GC between the dedup lookup and the re-arm: put writes the chunk again', async (t) => {
  const inner = new MemoryMetaStore()
  let afterRead: (() => Promise<void>) | undefined
  const meta: MetaStore = {
    capabilities: inner.capabilities,
    transact: (fn, options) => inner.transact(fn, options),
    read: async (fn) => {
      const result = await inner.read(fn)
      const hook = afterRead
      afterRead = undefined
      await hook?.()
      return result
    },
    close: () => inner.close(),
  }
  const { setup, store, clock } = await setupStore(t, { meta })
  const plain = random.bytes(3000)
  await store.put(plain)
  clock.advance(graceMs * 2)
  let collected = 0
  afterRead = async () => {
    collected = (await store.collectGarbage()).collectedChunks
  }
  const again = await store.put(plain)
  t.equal(collected, 1, 'GC took the chunk right after put looked it up')
  t.equal(again.deduplicated, false, 'put noticed and wrote it again')
  await setup.meta.transact((tx) => store.addRefs(tx, [again.id]))
  clock.advance(graceMs * 2)
  await store.collectGarbage()
  t.ok((await store.get(again.id)).equals(plain))
})

t.test('concurrent put and GC never lose a chunk the caller then references', async (t) => {
  const { setup, store, clock } = await setupStore(t)
  for (let round = 0; round < 30; round += 1) {
    const plain = random.bytes(1000 + round)
    await store.put(plain)
    clock.advance(graceMs * 2)
    // Interleave in different orders: start the GC before, with, or after the put.
    const delays = [0, 1, 2, 3, 5, 8].map((ticks) => ticks * (round % 3))
    const gc = (async () => {
      for (let tick = 0; tick < (delays[round % delays.length] ?? 0); tick += 1) await Promise.resolve()
      return store.collectGarbage()
    })()
    const [put] = await Promise.all([store.put(plain), gc])
    await setup.meta.transact((tx) => store.addRefs(tx, [put.id]))
    t.ok((await store.get(put.id)).equals(plain), `round ${round}: referenced chunk is readable`)
  }
  clock.advance(graceMs * 2)
  await store.collectGarbage()
  t.equal(store.stats().liveBytes > 0, true)
})

t.test('a held chunk outlives the grace period until its hold is released (a slow writer)', async (t) => {
  const { setup, store, refs, clock } = await setupStore(t)
  const hold = store.hold()
  const early = (await store.put(random.bytes(2000), { hold })).id
  clock.advance(graceMs * 5) // the body keeps arriving for five grace periods
  const late = (await store.put(random.bytes(3000), { hold })).id
  t.same(await store.collectGarbage(), { collectedChunks: 0, collectedBytes: 0 }, 'held chunks are not collected')
  clock.advance(graceMs * 5)
  t.same(await store.collectGarbage(), { collectedChunks: 0, collectedBytes: 0 })
  await setup.meta.transact((tx) => store.addRefs(tx, [early, late]))
  hold.release()
  t.equal(await refs(early), 1, 'the commit found both chunks')
  const abandoned = store.hold()
  const orphan = (await store.put(random.bytes(1000), { hold: abandoned })).id
  clock.advance(graceMs)
  t.same(await store.collectGarbage(), { collectedChunks: 0, collectedBytes: 0 })
  abandoned.release()
  abandoned.release() // idempotent
  clock.advance(graceMs)
  t.same(await store.collectGarbage(), { collectedChunks: 1, collectedBytes: 1000 }, 'a released hold leaves an ordinary zero-ref chunk')
  await t.rejects(store.get(orphan), { code: 'NOT_FOUND' })
})

t.test('with a zero grace period a page of held chunks ends the GC run', async (t) => {
  const { store } = await setupStore(t, { gcGraceMs: 0 })
  const hold = store.hold()
  for (let index = 0; index < limits.gcBatchChunksMax + 3; index += 1) await store.put(random.bytes(64), { hold })
  t.same(await store.collectGarbage(), { collectedChunks: 0, collectedBytes: 0 })
  hold.release()
  t.equal((await store.collectGarbage()).collectedChunks, limits.gcBatchChunksMax + 3)
})

t.test('GC works through the queue in bounded batches', async (t) => {
  const { store, clock, queued } = await setupStore(t)
  const count = limits.gcBatchChunksMax + 100
  const chunks = Array.from({ length: count }, (_, at) => Buffer.from(`chunk number ${at}`))
  await Promise.all(chunks.map((chunk) => store.put(chunk)))
  t.equal(await queued(), count)
  clock.advance(graceMs)
  const report = await store.collectGarbage()
  t.equal(report.collectedChunks, count)
  t.equal(await queued(), 0)
  t.equal(store.stats().liveBytes, 0)
  const controller = new AbortController()
  controller.abort()
  await t.rejects(store.collectGarbage({ signal: controller.signal }), { code: 'ABORTED' })
})

t.test('repeated dedup hits on a fresh zero-ref chunk cost no commit; an older one is re-armed', async (t) => {
  const inner = new MemoryMetaStore()
  let transactions = 0
  const meta: MetaStore = {
    capabilities: inner.capabilities,
    transact: (fn, options) => {
      transactions += 1
      return inner.transact(fn, options)
    },
    read: (fn) => inner.read(fn),
    close: () => inner.close(),
  }
  const { store, clock } = await setupStore(t, { meta })
  const plain = random.bytes(2000)
  await store.put(plain)
  const before = transactions
  for (let at = 0; at < 50; at += 1) t.equal((await store.put(plain)).deduplicated, true)
  t.equal(transactions, before, 'no commits for dedup hits inside the first half of the grace period')
  clock.advance(graceMs * 0.6)
  await store.put(plain)
  t.equal(transactions, before + 1, 'past half the grace period, the dedup hit re-arms the entry')
  clock.advance(graceMs * 0.6)
  t.same(await store.collectGarbage(), { collectedChunks: 0, collectedBytes: 0 }, 'the re-armed chunk survives its first due time')
  clock.advance(graceMs * 0.4)
  t.same((await store.collectGarbage()).collectedChunks, 1, 'and goes a grace period after the re-arm')
})
