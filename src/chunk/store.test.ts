import t from 'tap'
import { randomBytes } from 'node:crypto'
import { join } from 'node:path'
import { masterKeyFromBytes } from '../crypto/index.ts'
import { nodeIo, type FileHandle, type Io } from '../io/index.ts'
import { chunkIdFrom, limits, type KeyDomainId } from '../lib/index.ts'
import { LevelMetaStore } from '../meta/index.ts'
import { KeyRing } from './keyring.ts'
import { codecCompressed, codecSealed } from './pack-format.ts'
import { seededRandom, testStoreSetup } from './store-testing.ts'

const seed = Number(process.env.CAIRN_TEST_SEED ?? Date.now() % 1_000_000)
t.comment(`seed ${seed} (set CAIRN_TEST_SEED to repeat)`)
const random = seededRandom(seed)

function textChunk(sizeBytes: number, salt: string): Buffer {
  const line = Buffer.from(`cairn chunk store test line ${salt} `)
  const out = Buffer.alloc(sizeBytes)
  for (let at = 0; at < sizeBytes; at += line.length) line.copy(out, at)
  return out
}

/** An Io that counts fsyncs of files. */
function countingIo(inner: Io): Io & { syncs: number } {
  const io = {
    syncs: 0,
    async open(path: string, flags: Parameters<Io['open']>[1], mode?: number): Promise<FileHandle> {
      const handle = await inner.open(path, flags, mode)
      return new Proxy(handle, {
        get(target, name, receiver) {
          if (name === 'sync') {
            return async () => {
              io.syncs += 1
              await target.sync()
            }
          }
          const value = Reflect.get(target, name, receiver)
          return typeof value === 'function' ? value.bind(target) : value
        },
      })
    },
    syncDir: (path: string) => inner.syncDir(path),
    rename: (from: string, to: string) => inner.rename(from, to),
    unlink: (path: string) => inner.unlink(path),
    mkdirp: (path: string, mode?: number) => inner.mkdirp(path, mode),
    readdir: (path: string) => inner.readdir(path),
    sizeBytesOf: (path: string) => inner.sizeBytesOf(path),
    freeBytes: (path: string) => inner.freeBytes(path),
  }
  return io
}

t.test('put/get round trip: plain, compressible, incompressible', async (t) => {
  const setup = await testStoreSetup({}, seed)
  t.teardown(setup.cleanup)
  const store = await setup.open()
  t.teardown(() => store.close())
  const incompressible = random.bytes(100_000)
  const compressible = textChunk(200_000, 'a')
  const tiny = Buffer.from('x')
  const results = []
  for (const plain of [incompressible, compressible, tiny]) {
    const result = await store.put(plain)
    t.equal(result.deduplicated, false)
    t.equal(result.plainBytes, plain.length)
    t.ok((await store.get(result.id)).equals(plain), 'reads back the same bytes')
    results.push(result)
  }
  const [raw, packed] = results as [(typeof results)[0], (typeof results)[0]]
  t.equal(raw.storedBytes, incompressible.length, 'incompressible data is stored raw')
  t.ok(packed.storedBytes < compressible.length / 10, `compressible data shrinks (${packed.storedBytes} bytes)`)
  t.equal((await store.locate(packed.id))?.codec, codecCompressed)
  t.equal((await store.locate(raw.id))?.codec, 0)
  t.equal((await store.locate(raw.id))?.tier, 'hot')
})

t.test('the same bytes twice are stored once', async (t) => {
  const setup = await testStoreSetup({}, seed)
  t.teardown(setup.cleanup)
  const store = await setup.open()
  t.teardown(() => store.close())
  const plain = random.bytes(50_000)
  const first = await store.put(plain)
  const second = await store.put(Buffer.from(plain))
  t.equal(second.deduplicated, true)
  t.same(second.id, first.id)
  const [a, b] = await Promise.all([store.put(textChunk(10_000, 'z')), store.put(textChunk(10_000, 'z'))])
  t.same(a.id, b.id)
  t.equal(Number(a.deduplicated) + Number(b.deduplicated), 1, 'concurrent identical puts share one write')
  const stats = store.stats()
  t.equal(stats.puts, 4)
  t.equal(stats.dedupHits, 2)
  t.equal(stats.liveBytes, 2 * 56 + 50_000 + a.storedBytes, 'two frames are live')
})

t.test('encrypted domains: sealed frames, keyed ids, no cross-domain dedup', async (t) => {
  const setup = await testStoreSetup({}, seed)
  t.teardown(setup.cleanup)
  const keyRing = await KeyRing.open({ meta: setup.meta, masterKey: masterKeyFromBytes(randomBytes(32)), random: setup.random })
  const domain = await keyRing.createDomain()
  const other = await keyRing.createDomain()
  const store = await setup.open({ keyRing })
  t.teardown(() => store.close())
  const plain = textChunk(100_000, 'secret')
  const sealed = await store.put(plain, { domain })
  const elsewhere = await store.put(plain, { domain: other })
  const open = await store.put(plain)
  t.notSame(sealed.id, elsewhere.id, 'ids are keyed per domain')
  t.notSame(sealed.id, open.id)
  t.equal(elsewhere.deduplicated, false)
  t.same(await store.idOf(plain, domain), sealed.id)
  const location = await store.locate(sealed.id)
  t.equal(location?.codec, codecSealed | codecCompressed)
  t.equal(location?.domain, domain)
  t.ok((await store.get(sealed.id)).equals(plain))
  t.ok((await store.get(elsewhere.id)).equals(plain))
  const random100k = random.bytes(100_000)
  const raw = await store.put(random100k, { domain })
  t.equal(raw.storedBytes, 100_000 + 28, 'nonce and tag')
  t.ok((await store.get(raw.id)).equals(random100k))
  await t.rejects(store.put(plain, { domain: 99 as KeyDomainId }), { code: 'NOT_FOUND' }, 'unknown domains are refused')
})

t.test('200 concurrent puts share fsyncs', async (t) => {
  const io = countingIo(nodeIo)
  const setup = await testStoreSetup({ io }, seed)
  t.teardown(setup.cleanup)
  const store = await setup.open()
  t.teardown(() => store.close())
  const syncsBefore = io.syncs
  const chunks = Array.from({ length: 200 }, () => random.bytes(4096))
  const results = await Promise.all(chunks.map((chunk) => store.put(chunk)))
  const syncs = io.syncs - syncsBefore
  t.ok(syncs <= 20, `${syncs} fsyncs for 200 puts`)
  t.ok(store.stats().batches < 20, `${store.stats().batches} batches`)
  for (const [at, result] of results.entries()) t.ok((await store.get(result.id)).equals(chunks[at] as Buffer))
})

t.test('reopen on LevelDB reads everything back; packs roll over', async (t) => {
  const directory = t.testdir()
  const meta = await LevelMetaStore.open(join(directory, 'meta'))
  const setup = await testStoreSetup({ meta, packTargetBytes: 64 * 1024 }, seed)
  t.teardown(setup.cleanup)
  let store = await setup.open()
  const chunks = Array.from({ length: 60 }, (_, at) => (at % 2 === 0 ? random.bytes(9000 + at) : textChunk(9000, String(at))))
  const ids = []
  for (let at = 0; at < chunks.length; at += 10) {
    const results = await Promise.all(chunks.slice(at, at + 10).map((chunk) => store.put(chunk)))
    ids.push(...results.map((result) => result.id))
  }
  t.ok(store.stats().packsSealed >= 2, `${store.stats().packsSealed} packs sealed`)
  await store.put(Buffer.from('the last chunk goes to an open pack'))
  const openPack = store.currentPackIds().hot
  t.ok(openPack !== undefined)
  await store.close()
  await t.rejects(store.get(ids[0] as never), { code: 'CLOSED' })
  await t.rejects(store.put(Buffer.from('late')), { code: 'CLOSED' })
  store = await setup.open()
  t.same(store.recovery.packs.map((pack) => pack.packId), [openPack], 'the open pack is recovered and sealed')
  t.equal(store.recovery.packs[0]?.truncatedBytes, 0)
  t.equal(store.recovery.packs[0]?.framesIndexed, 0, 'every frame was already indexed')
  for (const [at, id] of ids.entries()) t.ok((await store.get(id)).equals(chunks[at] as Buffer))
  await store.close()
  await meta.close()
})

t.test('bad input and missing chunks', async (t) => {
  const setup = await testStoreSetup({}, seed)
  t.teardown(setup.cleanup)
  const store = await setup.open()
  t.teardown(() => store.close())
  await t.rejects(store.put(Buffer.alloc(0)), { code: 'INVALID_ARGUMENT' })
  await t.rejects(store.put(Buffer.alloc(limits.chunkMaxBytes + 1)), { code: 'INVALID_ARGUMENT' })
  await t.rejects(store.put(Buffer.from('a'), { tier: 'warm' as never }), { code: 'INVALID_ARGUMENT' })
  await t.rejects(store.get(chunkIdFrom(Buffer.alloc(32, 7))), { code: 'NOT_FOUND' })
  const controller = new AbortController()
  controller.abort()
  await t.rejects(store.put(Buffer.from('a'), { signal: controller.signal }), { code: 'ABORTED' })
  t.equal(await store.locate(chunkIdFrom(Buffer.alloc(32, 7))), undefined)
})

t.test('the recorded hash algorithm wins on reopen', async (t) => {
  const setup = await testStoreSetup({ hashAlgorithm: 'sha256' }, seed)
  t.teardown(setup.cleanup)
  let store = await setup.open()
  t.equal(store.hashAlgorithm, 'sha256')
  const { id } = await store.put(Buffer.from('hello'))
  await store.close()
  const events: string[] = []
  store = await setup.open({ hashAlgorithm: 'blake3', logger: (event) => events.push(event) })
  t.equal(store.hashAlgorithm, 'sha256')
  t.ok(events.includes('store.hash-algorithm-kept'))
  t.ok((await store.get(id)).equals(Buffer.from('hello')))
  await store.close()
})
