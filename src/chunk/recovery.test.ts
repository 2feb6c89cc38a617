import t, { type Test } from 'tap'
import { appendFile, readFile, stat, unlink, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { plainDomainKeys } from '../crypto/index.ts'
import type { ChunkId, PackId } from '../lib/index.ts'
import { key, MemoryMetaStore, prefixRange } from '../meta/index.ts'
import { encodePackRecord, locationKey, packKey } from './location.ts'
import { createChunkHasher } from './hash.ts'
import { encodeSeal, packFileName, type IndexEntry } from './pack-format.ts'
import { encodeFrame } from './store-codec.ts'
import { seededRandom, testStoreSetup, type TestStoreSetup } from './store-testing.ts'
import { ChunkStore } from './store.ts'

const seed = Number(process.env.CAIRN_TEST_SEED ?? Date.now() % 1_000_000)
t.comment(`seed ${seed} (set CAIRN_TEST_SEED to repeat)`)
const random = seededRandom(seed)
const graceMs = 1000

/** A store with `count` referenced chunks in one open pack, closed again. */
async function storeWithOpenPack(t: Test, count = 5) {
  const setup = await testStoreSetup({ gcGraceMs: graceMs, compression: false }, seed)
  t.teardown(setup.cleanup)
  const store = await setup.open()
  const chunks = new Map<ChunkId, Buffer>()
  for (let at = 0; at < count; at += 1) {
    const plain = random.bytes(3000 + at)
    chunks.set((await store.put(plain)).id, plain)
  }
  await setup.meta.transact((tx) => store.addRefs(tx, [...chunks.keys()]))
  const packId = store.currentPackIds().hot as PackId
  await store.close()
  return { setup, chunks, packId, path: join(setup.tierPaths.hot, packFileName(packId)) }
}

async function readAll(t: Test, store: ChunkStore, chunks: Map<ChunkId, Buffer>): Promise<void> {
  for (const [id, plain] of chunks) t.ok((await store.get(id)).equals(plain), `chunk ${id.toString('hex').slice(0, 8)} intact`)
}

/** A complete frame for a chunk that was never put (as if the crash came before its commit). */
function strayFrame(plain: Buffer): { id: ChunkId; bytes: Buffer } {
  const id = createChunkHasher('blake3').id(plain)
  const frame = encodeFrame(id, plain, plainDomainKeys, { compression: false, random })
  return { id, bytes: Buffer.concat(frame.parts) }
}

t.test('a torn tail of garbage is truncated; earlier chunks are intact', async (t) => {
  const { setup, chunks, packId, path } = await storeWithOpenPack(t)
  const sizeBefore = (await stat(path)).size
  await appendFile(path, random.bytes(777))
  const store = await setup.open()
  t.teardown(() => store.close())
  const [recovered] = store.recovery.packs
  t.equal(recovered?.packId, packId)
  t.equal(recovered?.truncatedBytes, 777)
  t.match(recovered?.tornReason, /bad frame magic/)
  t.equal(recovered?.sealed, true)
  t.ok((await stat(path)).size > sizeBefore, 'truncated, then sealed with an index')
  await readAll(t, store, chunks)
  t.same((await store.scrub()).corrupt, [])
})

t.test('a half-written frame is cut off; a whole unindexed frame becomes a GC candidate', async (t) => {
  const { setup, chunks, path } = await storeWithOpenPack(t)
  const whole = strayFrame(random.bytes(2000))
  const torn = strayFrame(random.bytes(2000))
  await appendFile(path, whole.bytes)
  await appendFile(path, torn.bytes.subarray(0, 1000))
  const store = await setup.open()
  t.teardown(() => store.close())
  t.equal(store.recovery.packs[0]?.truncatedBytes, 1000)
  t.match(store.recovery.packs[0]?.tornReason, /runs past the end/)
  t.equal(store.recovery.packs[0]?.framesIndexed, 1)
  await readAll(t, store, chunks)
  t.equal((await store.get(whole.id)).length, 2000, 'the unacknowledged but complete frame is readable')
  await t.rejects(store.get(torn.id), { code: 'NOT_FOUND' })
  t.equal(await setup.meta.read((tx) => store.refCount(tx, whole.id)), 0)
  setup.clock.advance(graceMs)
  t.same(await store.collectGarbage(), { collectedChunks: 1, collectedBytes: 2000 }, 'and it is collected after the grace period')
  await readAll(t, store, chunks)
})

t.test('a seal written but not recorded is picked up from the index', async (t) => {
  const { setup, chunks, packId, path } = await storeWithOpenPack(t)
  const bytes = await readFile(path)
  const entries: IndexEntry[] = []
  let offset = 36
  for (const [id, plain] of chunks) {
    entries.push({ id, offset, storedBytes: plain.length, plainBytes: plain.length, codec: 0, domain: 0 as never })
    offset += 56 + plain.length
  }
  t.equal(offset, bytes.length)
  await appendFile(path, Buffer.concat(encodeSeal(entries, offset)))
  const store = await setup.open()
  t.teardown(() => store.close())
  t.same(store.recovery.packs.map((pack) => [pack.packId, pack.truncatedBytes, pack.sealed]), [[packId, 0, true]])
  await readAll(t, store, chunks)
})

t.test('a bad frame inside acknowledged data is damage, not a torn tail', async (t) => {
  const { setup, chunks, path } = await storeWithOpenPack(t)
  const bytes = await readFile(path)
  bytes[36 + 56 + 10] = (bytes[36 + 56 + 10] as number) ^ 0xff // first frame's payload
  await writeFile(path, bytes)
  const store = await setup.open()
  t.teardown(() => store.close())
  t.equal(store.recovery.packs.length, 0)
  t.match(store.recovery.damaged[0]?.reason, /inside acknowledged data/)
  t.equal((await stat(path)).size, bytes.length, 'nothing was truncated')
  const [first, ...rest] = [...chunks.keys()]
  await t.rejects(store.get(first as ChunkId), { code: 'CHUNK_CORRUPT' })
  for (const id of rest) t.ok((await store.get(id)).equals(chunks.get(id) as Buffer))
})

t.test('a record without a file is dropped; a file without a record is adopted', async (t) => {
  const { setup, chunks, packId } = await storeWithOpenPack(t)
  // A crash right after a pack id was allocated: the record exists, the file never did.
  await setup.meta.transact(async (tx) => {
    tx.put(packKey(99 as PackId), encodePackRecord({ tier: 'cold', state: 'open', createdMs: 1, frameBytes: 0, liveBytes: 0, liveChunks: 0 }))
    // A crash between dropping a pack record and unlinking its file.
    tx.delete(packKey(packId))
    for (const id of chunks.keys()) tx.delete(locationKey(id))
  })
  const store = await setup.open()
  t.teardown(() => store.close())
  t.same(store.recovery.dropped, [{ packId: 99, tier: 'cold', reason: 'record without a file' }])
  t.same(store.recovery.packs.map((pack) => [pack.packId, pack.adopted, pack.framesIndexed]), [[packId, true, chunks.size]])
  await readAll(t, store, chunks)
  t.equal(await setup.meta.read((tx) => store.refCount(tx, [...chunks.keys()][0] as ChunkId)), 1, 'refcounts are untouched')
  const next = await store.put(random.bytes(100))
  t.ok((await store.locate(next.id))!.packId > 99, 'the pack counter moved past every id in use')
})

t.test('rebuildIndex recreates locations and pack records from the pack files', async (t) => {
  const setup: TestStoreSetup = await testStoreSetup({ gcGraceMs: graceMs, packTargetBytes: 16 * 1024 }, seed)
  t.teardown(setup.cleanup)
  let store = await setup.open()
  const chunks = new Map<ChunkId, Buffer>()
  for (let at = 0; at < 30; at += 1) {
    const plain = random.bytes(2000 + at)
    chunks.set((await store.put(plain, { tier: at % 3 === 0 ? 'cold' : 'hot' })).id, plain)
  }
  const ids = [...chunks.keys()]
  await setup.meta.transact((tx) => store.addRefs(tx, ids))
  const garbage = await store.put(random.bytes(500))
  setup.clock.advance(graceMs)
  t.equal((await store.collectGarbage()).collectedChunks, 1)
  const lost = await store.locate(ids[1] as ChunkId)
  await store.close()
  // Wreck the derived metadata, then lose one pack file outright.
  await setup.meta.transact(async (tx) => {
    for (const entry of await tx.scan({ ...prefixRange('chunk', 'loc'), limit: 10 })) tx.delete(entry.key)
    tx.put(key('chunk', 'loc', Buffer.alloc(32, 9)), Buffer.from([1, 2, 3]))
  })
  await unlink(join(setup.tierPaths.hot, packFileName(lost!.packId)))
  const report = await ChunkStore.rebuildIndex(setup.options)
  const lostIds = []
  store = await setup.open()
  t.teardown(() => store.close())
  for (const [id, plain] of chunks) {
    const location = await store.locate(id)
    if (location === undefined) {
      lostIds.push(id.toString('hex'))
      continue
    }
    t.ok((await store.get(id)).equals(plain))
    t.equal(await setup.meta.read((tx) => store.refCount(tx, id)), 1)
  }
  t.ok(lostIds.includes(ids[1]!.toString('hex')))
  t.equal(report.droppedLocations, lostIds.length)
  t.same(report.missingChunkIds.sort(), lostIds.sort())
  t.equal(report.chunks, chunks.size - lostIds.length + 1, 'the collected chunk is back, as a GC candidate')
  t.equal((await store.get(garbage.id)).length, 500)
  setup.clock.advance(graceMs)
  t.equal((await store.collectGarbage()).collectedChunks, 1)
  t.same((await store.scrub()).corrupt, [])
})

t.test('a torn pack header from a crashed creation is removed', async (t) => {
  const { setup, chunks } = await storeWithOpenPack(t)
  await setup.meta.transact(async (tx) => {
    tx.put(packKey(50 as PackId), encodePackRecord({ tier: 'hot', state: 'open', createdMs: 1, frameBytes: 0, liveBytes: 0, liveChunks: 0 }))
  })
  const path = join(setup.tierPaths.hot, packFileName(50 as PackId))
  await writeFile(path, Buffer.from('CAIRNPAK'))
  const store = await setup.open()
  t.teardown(() => store.close())
  t.same(store.recovery.dropped, [{ packId: 50, tier: 'hot', reason: 'torn pack header, no frames' }])
  await t.rejects(stat(path), { code: 'ENOENT' })
  await readAll(t, store, chunks)
})

t.test('with the metadata lost, open refuses and rebuildIndex recovers every chunk', async (t) => {
  const setup = await testStoreSetup({ gcGraceMs: graceMs, hashAlgorithm: 'sha256', packTargetBytes: 16 * 1024 }, seed)
  t.teardown(setup.cleanup)
  const store = await setup.open()
  const chunks = new Map<ChunkId, Buffer>()
  for (let at = 0; at < 12; at += 1) {
    const plain = random.bytes(3000)
    chunks.set((await store.put(plain)).id, plain)
  }
  await store.close()
  const fresh = new MemoryMetaStore()
  await t.rejects(setup.open({ meta: fresh, hashAlgorithm: undefined }), { code: 'ALREADY_EXISTS' })
  const report = await ChunkStore.rebuildIndex({ ...setup.options, meta: fresh, hashAlgorithm: undefined })
  t.equal(report.chunks, chunks.size)
  t.equal(report.droppedLocations, 0)
  t.same(report.recovery.damaged, [])
  const rebuilt = await setup.open({ meta: fresh, hashAlgorithm: undefined })
  t.teardown(() => rebuilt.close())
  t.equal(rebuilt.hashAlgorithm, 'sha256', 'the algorithm comes from the pack headers')
  await readAll(t, rebuilt, chunks)
})
