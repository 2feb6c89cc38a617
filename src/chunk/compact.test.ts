import t, { type Test } from 'tap'
import { readdir, stat } from 'node:fs/promises'
import { join } from 'node:path'
import type { ChunkId } from '../lib/index.ts'
import { seededRandom, testStoreSetup } from './store-testing.ts'

const seed = Number(process.env.CAIRN_TEST_SEED ?? Date.now() % 1_000_000)
t.comment(`seed ${seed} (set CAIRN_TEST_SEED to repeat)`)
const random = seededRandom(seed)
const graceMs = 1000

async function directoryBytes(path: string): Promise<number> {
  let total = 0
  for (const name of await readdir(path)) total += (await stat(join(path, name))).size
  return total
}

async function setupStore(t: Test) {
  const setup = await testStoreSetup({ gcGraceMs: graceMs, packTargetBytes: 64 * 1024 }, seed)
  t.teardown(setup.cleanup)
  const store = await setup.open()
  t.teardown(() => store.close())
  return { setup, store }
}

/** Store count random chunks of sizeBytes one after another, all referenced. */
async function fill(setup: Awaited<ReturnType<typeof setupStore>>, count: number, sizeBytes: number) {
  const chunks = new Map<ChunkId, Buffer>()
  for (let at = 0; at < count; at += 1) {
    const plain = random.bytes(sizeBytes)
    chunks.set((await setup.store.put(plain)).id, plain)
  }
  await setup.setup.meta.transact((tx) => setup.store.addRefs(tx, [...chunks.keys()]))
  return chunks
}

t.test('compaction returns space and keeps live chunks readable', async (t) => {
  const context = await setupStore(t)
  const { setup, store } = context
  const chunks = await fill(context, 40, 20_000)
  const ids = [...chunks.keys()]
  const live = ids.filter((_, at) => at % 4 === 0)
  const dead = ids.filter((_, at) => at % 4 !== 0)
  await setup.meta.transact((tx) => store.dropRefs(tx, dead))
  setup.clock.advance(graceMs)
  t.equal((await store.collectGarbage()).collectedChunks, dead.length)
  const before = await directoryBytes(setup.tierPaths.hot)
  const packsBefore = store.stats().packs.hot
  // Readers keep going while compaction moves chunks and deletes packs under them.
  let reading = true
  const reader = (async () => {
    let reads = 0
    while (reading) {
      for (const id of live) t.ok((await store.get(id)).equals(chunks.get(id) as Buffer)) && (reads += 1)
    }
    return reads
  })()
  const report = await store.compact()
  reading = false
  t.ok((await reader) > 0)
  const after = await directoryBytes(setup.tierPaths.hot)
  t.ok(report.packsCompacted >= 5, `${report.packsCompacted} packs compacted`)
  t.ok(after < before / 2, `pack bytes ${before} -> ${after}`)
  t.ok(report.bytesReclaimed > 0 && report.bytesReclaimed <= before - after + 100_000, `reclaimed ${report.bytesReclaimed}`)
  t.ok(store.stats().packs.hot < packsBefore)
  for (const id of live) t.ok((await store.get(id)).equals(chunks.get(id) as Buffer))
  for (const id of dead.slice(0, 3)) await t.rejects(store.get(id), { code: 'NOT_FOUND' })
  t.equal(store.stats().liveBytes, live.length * (56 + 20_000))
  const scrub = await store.scrub()
  t.same(scrub.corrupt, [])
  t.same(scrub.missingPacks, [])
  // Packs sealed while the pass ran (copies fill the open pack) wait for the next pass.
  await store.compact()
  t.ok(store.stats().deadBytes < 90_000, `dead bytes left: ${store.stats().deadBytes} (at most the open pack's)`)
})

t.test('packs with no live chunks are deleted directly', async (t) => {
  const context = await setupStore(t)
  const { setup, store } = context
  const chunks = await fill(context, 12, 30_000)
  await setup.meta.transact((tx) => store.dropRefs(tx, [...chunks.keys()]))
  setup.clock.advance(graceMs)
  await store.collectGarbage()
  const report = await store.compact()
  t.equal(report.framesCopied, 0)
  t.ok(report.packsCompacted >= 3, `${report.packsCompacted} packs deleted`)
  const names = await readdir(setup.tierPaths.hot)
  t.ok(names.length <= 1, `only the open pack is left (${names.join(', ')})`)
  t.equal(store.stats().packs.hot, names.length)
})

t.test('tier moves keep ids and data; dead frames go with compaction', async (t) => {
  const context = await setupStore(t)
  const { setup, store } = context
  const chunks = await fill(context, 20, 15_000)
  const ids = [...chunks.keys()]
  const moving = ids.slice(0, 15)
  const report = await store.moveToTier(moving, 'cold')
  t.same(report, { movedChunks: 15, movedBytes: 15 * 15_000, alreadyInTier: 0, missing: 0 })
  for (const id of ids) {
    const location = await store.locate(id)
    t.equal(location?.tier, moving.includes(id) ? 'cold' : 'hot')
    t.ok((await store.get(id)).equals(chunks.get(id) as Buffer))
  }
  const again = await store.moveToTier([...moving.slice(0, 2), ids[19] as ChunkId], 'cold')
  t.equal(again.alreadyInTier, 2)
  t.equal(again.movedChunks, 1)
  const fresh = await store.put(random.bytes(100), { tier: 'cold' })
  t.equal((await store.locate(fresh.id))?.tier, 'cold', 'put honours the tier')
  const dedup = await store.put(chunks.get(ids[18] as ChunkId) as Buffer, { tier: 'cold' })
  t.equal(dedup.deduplicated, true)
  t.equal((await store.locate(dedup.id))?.tier, 'hot', 'a dedup hit leaves the chunk where it is')
  const hotBefore = await directoryBytes(setup.tierPaths.hot)
  await store.compact()
  t.ok((await directoryBytes(setup.tierPaths.hot)) < hotBefore, 'the moved chunks left dead bytes behind, now reclaimed')
  await store.close()
  const reopened = await setup.open()
  t.teardown(() => reopened.close())
  for (const id of ids) t.ok((await reopened.get(id)).equals(chunks.get(id) as Buffer))
  t.same((await reopened.scrub()).corrupt, [])
})
