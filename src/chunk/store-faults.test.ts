import t, { type Test } from 'tap'
import { FaultyIo, nodeIo, type FaultRule } from '../io/index.ts'
import { StoreError, type ChunkId } from '../lib/index.ts'
import { MemoryMetaStore, type MetaStore } from '../meta/index.ts'
import { seededRandom, testStoreSetup } from './store-testing.ts'
import type { ChunkStore } from './store.ts'

const seed = Number(process.env.CAIRN_TEST_SEED ?? Date.now() % 1_000_000)
t.comment(`seed ${seed} (set CAIRN_TEST_SEED to repeat)`)
const random = seededRandom(seed)
const packFiles = /\.pack$/

async function faultyStore(t: Test, packTargetBytes = 1024 * 1024) {
  const io = new FaultyIo(nodeIo)
  const events: Array<{ event: string; fields: object }> = []
  const setup = await testStoreSetup({ io, packTargetBytes, logger: (event, fields) => events.push({ event, fields }) }, seed)
  t.teardown(setup.cleanup)
  const store = await setup.open()
  return { io, setup, store, events }
}

/** Put each chunk concurrently; returns the acknowledged ones and the error codes of the rest. */
async function putAll(store: ChunkStore, chunks: Buffer[]): Promise<{ acked: Map<ChunkId, Buffer>; codes: string[] }> {
  const settled = await Promise.allSettled(chunks.map((chunk) => store.put(chunk)))
  const acked = new Map<ChunkId, Buffer>()
  const codes: string[] = []
  settled.forEach((result, at) => {
    if (result.status === 'fulfilled') acked.set(result.value.id, chunks[at] as Buffer)
    else codes.push((result.reason as { code?: string }).code ?? String(result.reason))
  })
  return { acked, codes }
}

async function checkReadable(t: Test, store: ChunkStore, chunks: Map<ChunkId, Buffer>): Promise<void> {
  let intact = 0
  for (const [id, plain] of chunks) if ((await store.get(id)).equals(plain)) intact += 1
  t.equal(intact, chunks.size, `all ${chunks.size} acknowledged chunks read back`)
  t.same((await store.scrub()).corrupt, [], 'nothing indexed is unreadable')
}

const scenarios: Array<{ name: string; rule: FaultRule; code: string | undefined }> = [
  { name: 'EIO on write', rule: { operation: 'write', kind: 'EIO', path: packFiles, times: 1 }, code: 'IO_ERROR' },
  { name: 'ENOSPC on write', rule: { operation: 'write', kind: 'ENOSPC', path: packFiles, times: 1 }, code: 'NO_SPACE' },
  { name: 'EIO on fsync', rule: { operation: 'sync', kind: 'EIO', path: packFiles, times: 1 }, code: 'IO_ERROR' },
  { name: 'ENOSPC creating a pack', rule: { operation: 'open', kind: 'ENOSPC', path: packFiles, times: 1 }, code: 'NO_SPACE' },
  { name: 'short writes', rule: { operation: 'write', kind: 'short-write', path: packFiles, times: 5 }, code: undefined },
]

for (const { name, rule, code } of scenarios) {
  t.test(`${name}: the batch fails with ${code ?? 'nothing'}, the store keeps working, reopen recovers`, async (t) => {
    const { io, setup, store, events } = await faultyStore(t)
    const before = await putAll(store, Array.from({ length: 5 }, () => random.bytes(3000)))
    t.same(before.codes, [])
    if (rule.operation === 'open') {
      // Make the next put need a new pack: roll the current one over by closing and reopening.
      await store.close()
    }
    const active = rule.operation === 'open' ? await setup.open() : store
    io.addRule(rule)
    const during = await putAll(active, Array.from({ length: 20 }, () => random.bytes(2000)))
    io.clearRules()
    t.ok(io.injected > 0, `${io.injected} faults injected`)
    if (code === undefined) {
      t.same(during.codes, [], 'short writes are finished by the writer')
    } else {
      t.ok(during.codes.length >= 1, `${during.codes.length} puts failed`)
      t.same([...new Set(during.codes)], [code], `failed with ${code}`)
      t.ok(events.some(({ event }) => event === 'pack.abandoned') || rule.operation === 'open', 'the pack was abandoned')
    }
    const after = await putAll(active, Array.from({ length: 10 }, () => random.bytes(2500)))
    t.same(after.codes, [], 'later puts succeed')
    const acked = new Map([...before.acked, ...during.acked, ...after.acked])
    await checkReadable(t, active, acked)
    await active.close()
    const reopened = await setup.open({ io: nodeIo })
    t.teardown(() => reopened.close())
    if (code !== undefined && rule.operation !== 'open') {
      t.ok(reopened.recovery.packs.length >= 1, 'the abandoned pack was recovered')
    }
    t.same(reopened.recovery.damaged, [])
    await checkReadable(t, reopened, acked)
  })
}

t.test('a failed seal leaves the frames readable and the pack to recovery', async (t) => {
  const { io, setup, store, events } = await faultyStore(t, 16 * 1024)
  const first = await putAll(store, [random.bytes(6000), random.bytes(6000)])
  t.same(first.codes, [])
  // The next batch fills the pack: its data fsync passes, the seal's fsync fails.
  io.addRule({ operation: 'sync', kind: 'EIO', path: packFiles, after: 1, times: 1 })
  const filling = await putAll(store, [random.bytes(6000)])
  t.same(filling.codes, [], 'the data was durable before the seal failed')
  // The seal runs after the batch's waiters were told; the next put queues behind it.
  const more = await putAll(store, [random.bytes(3000)])
  io.clearRules()
  t.equal(io.injected, 1)
  t.ok(events.some(({ event }) => event === 'pack.abandoned'))
  const acked = new Map([...first.acked, ...filling.acked, ...more.acked])
  await checkReadable(t, store, acked)
  await store.close()
  const reopened = await setup.open({ io: nodeIo })
  t.teardown(() => reopened.close())
  t.ok(reopened.recovery.packs.some((pack) => pack.sealed && pack.framesIndexed === 0))
  await checkReadable(t, reopened, acked)
})

t.test('a failed metadata commit fails its batch; the frames are recovered as GC candidates', async (t) => {
  const inner = new MemoryMetaStore()
  let failNext = false
  const meta: MetaStore = {
    capabilities: inner.capabilities,
    transact: (fn, options) => {
      if (!failNext) return inner.transact(fn, options)
      failNext = false
      return Promise.reject(new StoreError('IO_ERROR', 'injected commit failure'))
    },
    read: (fn) => inner.read(fn),
    close: () => inner.close(),
  }
  const setup = await testStoreSetup({ meta }, seed)
  t.teardown(setup.cleanup)
  const store = await setup.open()
  const first = await putAll(store, [random.bytes(1000)])
  failNext = true
  const failed = await putAll(store, [random.bytes(1000), random.bytes(1000)])
  t.ok(failed.codes.length >= 1)
  t.same([...new Set(failed.codes)], ['IO_ERROR'])
  const after = await putAll(store, [random.bytes(1000)])
  t.same(after.codes, [])
  const acked = new Map([...first.acked, ...failed.acked, ...after.acked])
  await checkReadable(t, store, acked)
  await store.close()
  const reopened = await setup.open()
  t.teardown(() => reopened.close())
  const indexed = reopened.recovery.packs.reduce((sum, pack) => sum + pack.framesIndexed, 0)
  t.equal(indexed, failed.codes.length, 'the unacknowledged frames are indexed (refcount 0) at the next open')
  await checkReadable(t, reopened, acked)
})

t.test('a failed pack creation leaves no record behind', async (t) => {
  const { io, store } = await faultyStore(t)
  t.teardown(() => store.close())
  io.addRule({ operation: 'open', kind: 'ENOSPC', path: packFiles, times: 1 })
  await t.rejects(store.put(random.bytes(100)), { code: 'NO_SPACE' })
  t.same(store.stats().packs, { hot: 0, cold: 0 })
  t.same((await store.scrub()).missingPacks, [])
  io.addRule({ operation: 'sync', kind: 'EIO', path: packFiles, times: 1 })
  await t.rejects(store.put(random.bytes(100)), { code: 'IO_ERROR' }, 'the header fsync failed')
  t.same(store.stats().packs, { hot: 0, cold: 0 }, 'the half-made file and its record are gone')
  t.ok((await store.put(random.bytes(100))).id)
})

t.test('a moveToTier that rejects has settled every copy', async (t) => {
  const { io, store } = await faultyStore(t)
  t.teardown(() => store.close())
  const { acked } = await putAll(store, Array.from({ length: 20 }, () => random.bytes(1000)))
  const ids = [...acked.keys()]
  io.addRule({ operation: 'open', kind: 'ENOSPC', path: /cold/, times: 1 })
  await t.rejects(store.moveToTier(ids, 'cold'), { code: 'NO_SPACE' })
  const tiersAt = () => Promise.all(ids.map(async (id) => (await store.locate(id))?.tier))
  const atRejection = await tiersAt()
  await new Promise((resolve) => setTimeout(resolve, 100))
  t.same(await tiersAt(), atRejection, 'no chunk changed tier after the rejection')
  const moved = await store.moveToTier(ids, 'cold')
  t.equal(moved.movedChunks + moved.alreadyInTier, ids.length)
  await checkReadable(t, store, acked)
})
