// Unit tests of the small parts: extent sets, locks, group commit, manifest pages, head files.
import t from 'tap'
import { randomBytes } from 'node:crypto'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { plainDomainKeys } from '../crypto/index.ts'
import { nodeIo } from '../io/index.ts'
import { chunkIdFrom, keyDomainIdFrom, type ChunkId } from '../lib/index.ts'
import { ExtentSet } from './extent-set.ts'
import { GroupCommit } from './group-commit.ts'
import { HeadFile } from './head.ts'
import { headKeyOf } from './head-key.ts'
import { ExtentLocks } from './locks.ts'
import { decodeManifestPage, encodeManifestPage } from './manifest.ts'

t.test('extent sets: membership, size, ascending ranges', async (t) => {
  const set = new ExtentSet(100)
  for (const extent of [99, 3, 64, 3, 0]) set.add(extent)
  t.equal(set.size, 4)
  t.same([...set], [0, 3, 64, 99])
  t.same([...set.range(1, 64)], [3])
  t.ok(set.delete(3))
  t.notOk(set.delete(3))
  t.notOk(set.has(200))
  const copy = set.copy()
  copy.add(50)
  t.same([[...set], [...copy]], [[0, 64, 99], [0, 50, 64, 99]])
  t.equal(ExtentSet.where(1000, (extent) => extent % 7 === 0).size, 143)
})

t.test('locks: shared holders together, exclusive alone, in arrival order', async (t) => {
  const locks = new ExtentLocks()
  const order: string[] = []
  const first = await locks.acquire(5, false)
  const second = await locks.acquire(5, false)
  const writer = locks.acquire(5, true).then((release) => {
    order.push('exclusive')
    return release
  })
  const lateReader = locks.acquire(5, false).then((release) => {
    order.push('late shared')
    return release
  })
  await new Promise((resolve) => setImmediate(resolve))
  t.same(order, [], 'the exclusive waits for both shared holders; the late reader waits behind it')
  first()
  second()
  second() // idempotent
  const releaseWriter = await writer
  t.same(order, ['exclusive'])
  releaseWriter()
  ;(await lateReader)()
  t.same(order, ['exclusive', 'late shared'])
  t.equal(locks.activeCount, 0, 'no entries left behind')
  const range = await locks.acquireRange(1, 4, true)
  t.equal(locks.activeCount, 4)
  range()
  t.equal(locks.activeCount, 0)
})

t.test('group commit: requests during a round share the next one', async (t) => {
  const rounds: number[][] = []
  let release!: () => void
  const gate = new Promise<void>((resolve) => (release = resolve))
  const commit = new GroupCommit<number>(async (items) => {
    rounds.push([...items])
    if (rounds.length === 1) await gate
  })
  const a = commit.request(1)
  await new Promise((resolve) => setImmediate(resolve))
  const b = commit.request(2)
  const c = commit.request(3)
  release()
  await Promise.all([a, b, c])
  t.same(rounds, [[1], [2, 3]])
  const failing = new GroupCommit<number>(async () => {
    throw new Error('disk on fire')
  })
  await t.rejects(failing.request(1), /disk on fire/)
  await failing.idle()
})

t.test('manifest pages round-trip and reject damage', async (t) => {
  const id = (byte: number): ChunkId => chunkIdFrom(Buffer.alloc(32, byte))
  const page = [null, id(1), null, null, id(2), id(1), null, null, null, id(3)]
  const encoded = encodeManifestPage(page)
  t.equal(encoded.length, 1 + 4 + 2 + 4 * 32)
  t.same(decodeManifestPage(encoded, 'test'), page)
  t.throws(() => decodeManifestPage(encoded.subarray(0, encoded.length - 1), 'test'), { code: 'IO_ERROR' })
  t.throws(() => decodeManifestPage(Buffer.concat([encoded, Buffer.alloc(1)]), 'test'), { code: 'IO_ERROR' })
  t.throws(() => decodeManifestPage(Buffer.from([2, 0, 0, 0, 0]), 'test'), { code: 'IO_ERROR' })
})

t.test('encrypted head: ciphertext on disk, zero sectors read as zeroes', async (t) => {
  const directory = await mkdtemp(join(tmpdir(), 'cairn-head-'))
  t.teardown(() => rm(directory, { recursive: true, force: true }))
  const keys = { domain: keyDomainIdFrom(7), idKey: randomBytes(32), cipherKey: randomBytes(32) }
  const key = headKeyOf(keys)
  t.equal(key.length, 64)
  t.throws(() => headKeyOf(plainDomainKeys), { code: 'KEY_UNAVAILABLE' })
  const path = join(directory, 'x.head')
  const head = await HeadFile.create(nodeIo, path, 1 << 20, key)
  const plain = Buffer.alloc(8192, 0x41)
  await head.write(4096, plain)
  await head.sync()
  const raw = await readFile(path)
  t.notOk(raw.includes(Buffer.alloc(64, 0x41)), 'no plaintext in the file')
  t.ok((await head.read(4096, 8192)).equals(plain))
  t.ok((await head.read(0, 4096)).equals(Buffer.alloc(4096)), 'a hole reads as zeroes')
  await head.zeroRange(4096, 4096)
  t.ok((await head.read(0, 12288)).equals(Buffer.concat([Buffer.alloc(8192), Buffer.alloc(4096, 0x41)])))
  await head.write(0, Buffer.alloc(4096)) // written zeroes are encrypted like any data
  t.notOk((await readFile(path)).subarray(0, 4096).equals(Buffer.alloc(4096)))
  await t.rejects(head.read(100, 4096), /whole sectors/)
  await head.close()
  const reopened = await HeadFile.open(nodeIo, path, 2 << 20, key)
  t.ok((await reopened.read((2 << 20) - 4096, 4096)).equals(Buffer.alloc(4096)), 'a short head is extended')
  await reopened.close()
})
