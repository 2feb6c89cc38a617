import t from 'tap'
import { randomBytes } from 'node:crypto'
import { open, unlink } from 'node:fs/promises'
import { join } from 'node:path'
import { masterKeyFromBytes, plainDomainKeys } from '../crypto/index.ts'
import type { ChunkId } from '../lib/index.ts'
import { KeyRing } from './keyring.ts'
import { encodeFrameHeader, packFileName } from './pack-format.ts'
import { seededRandom, testStoreSetup } from './store-testing.ts'

const seed = Number(process.env.CAIRN_TEST_SEED ?? Date.now() % 1_000_000)
t.comment(`seed ${seed} (set CAIRN_TEST_SEED to repeat)`)
const random = seededRandom(seed)

async function writeAt(path: string, bytes: Uint8Array, position: number): Promise<void> {
  const handle = await open(path, 'r+')
  try {
    await handle.write(bytes, 0, bytes.length, position)
  } finally {
    await handle.close()
  }
}

async function readAt(path: string, length: number, position: number): Promise<Buffer> {
  const handle = await open(path, 'r')
  try {
    const buffer = Buffer.alloc(length)
    await handle.read(buffer, 0, length, position)
    return buffer
  } finally {
    await handle.close()
  }
}

t.test('a flipped byte: get rejects CHUNK_CORRUPT, scrub reports exactly that chunk', async (t) => {
  const setup = await testStoreSetup({ packTargetBytes: 32 * 1024 }, seed)
  t.teardown(setup.cleanup)
  const keyRing = await KeyRing.open({ meta: setup.meta, masterKey: masterKeyFromBytes(randomBytes(32)), random: setup.random })
  const domain = await keyRing.createDomain()
  const store = await setup.open({ keyRing })
  t.teardown(() => store.close())
  const chunks = new Map<ChunkId, Buffer>()
  for (let at = 0; at < 20; at += 1) {
    const plain = random.bytes(4000)
    chunks.set((await store.put(plain, at % 2 === 0 ? {} : { domain })).id, plain)
  }
  const ids = [...chunks.keys()]
  const victims = [ids[3], ids[4]] as ChunkId[] // one plain, one sealed
  for (const id of victims) {
    const location = (await store.locate(id))!
    const path = join(setup.tierPaths[location.tier], packFileName(location.packId))
    const position = location.offset + 56 + 100
    const [byte] = await readAt(path, 1, position)
    await writeAt(path, Buffer.from([(byte as number) ^ 0x01]), position)
    await t.rejects(store.get(id), { code: 'CHUNK_CORRUPT', message: new RegExp(`${id.toString('hex')}.*${packFileName(location.packId)}.*frame CRC mismatch`) })
  }
  t.equal(store.stats().corrupt, 2)
  const progress: number[] = []
  const report = await store.scrub({ onProgress: ({ checkedChunks }) => progress.push(checkedChunks) })
  t.equal(report.checkedChunks, 20)
  t.equal(report.checkedBytes, 20 * 4000)
  t.same(report.corrupt.map((entry) => entry.id).sort(), victims.map((id) => id.toString('hex')).sort())
  t.match(report.corrupt[0], { packId: Number, offset: Number, reason: /CRC/ })
  t.same(progress, [20])
  for (const id of ids.filter((id) => !victims.includes(id))) t.ok((await store.get(id)).equals(chunks.get(id) as Buffer))
})

t.test('a frame with a valid CRC but other content fails the id check', async (t) => {
  const setup = await testStoreSetup({ compression: false }, seed)
  t.teardown(setup.cleanup)
  const store = await setup.open()
  t.teardown(() => store.close())
  const plain = random.bytes(1000)
  const { id } = await store.put(plain)
  const location = (await store.locate(id))!
  const forged = random.bytes(1000)
  const header = encodeFrameHeader({ id, codec: 0, domain: plainDomainKeys.domain, plainBytes: 1000, storedBytes: 1000 }, [forged])
  const path = join(setup.tierPaths.hot, packFileName(location.packId))
  await writeAt(path, Buffer.concat([header, forged]), location.offset)
  await t.rejects(store.get(id), { code: 'CHUNK_CORRUPT', message: /content hashes to/ })
  const report = await store.scrub()
  t.equal(report.corrupt.length, 1)
  t.match(report.corrupt[0]?.reason, /content hashes to/)
})

t.test('a missing pack file is reported by scrub and is CHUNK_CORRUPT on get', async (t) => {
  const setup = await testStoreSetup({ packTargetBytes: 16 * 1024 }, seed)
  t.teardown(setup.cleanup)
  const store = await setup.open()
  t.teardown(() => store.close())
  const ids: ChunkId[] = []
  for (let at = 0; at < 10; at += 1) ids.push((await store.put(random.bytes(5000))).id)
  const location = (await store.locate(ids[0] as ChunkId))!
  await unlink(join(setup.tierPaths.hot, packFileName(location.packId)))
  await t.rejects(store.get(ids[0] as ChunkId), { code: 'CHUNK_CORRUPT', message: /pack file or record is missing/ })
  const report = await store.scrub()
  t.same(report.missingPacks, [location.packId])
  t.ok(report.corrupt.length >= 1)
  t.ok(report.corrupt.every((entry) => entry.packId === location.packId))
  const controller = new AbortController()
  controller.abort()
  await t.rejects(store.scrub({ signal: controller.signal }), { code: 'ABORTED' })
})
