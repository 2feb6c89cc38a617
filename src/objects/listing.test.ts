import t from 'tap'
import { MemoryMetaStore, type Entry, type KeyRange, type MetaStore, type ReadTx } from '../meta/index.ts'
import type { ObjectsLayer } from './service.ts'
import type { Principal } from './api.ts'
import { bodyOf, digestsFor, objectsTestSetup } from './testing.ts'

/** A MemoryMetaStore that counts the entries its reads scan (to check listing costs). */
class CountingMetaStore extends MemoryMetaStore {
  scannedEntries = 0
  scans = 0
  override read<T>(fn: (tx: ReadTx) => Promise<T>): Promise<T> {
    return super.read((tx) => fn({
      get: (key) => tx.get(key),
      getMany: (keys) => tx.getMany(keys),
      scan: async (range: KeyRange): Promise<Entry[]> => {
        const entries = await tx.scan(range)
        this.scans += 1
        this.scannedEntries += entries.length
        return entries
      },
    }))
  }
}

async function put(objects: ObjectsLayer, principal: Principal, bucket: string, key: string, content = key): Promise<void> {
  const bytes = Buffer.from(content)
  await objects.putObject({ bucket, key, principal, body: bodyOf(bytes), sizeBytes: bytes.length, digests: digestsFor(bytes), contentHeaders: {}, userMetadata: {}, signal: new AbortController().signal })
}

t.test('keys a and a/b coexist; a delimiter rolls a/ up', async (t) => {
  const { objects, root, cleanup } = await objectsTestSetup()
  t.teardown(cleanup)
  await objects.createBucket(root, 'coexist')
  await put(objects, root, 'coexist', 'a', 'first')
  await put(objects, root, 'coexist', 'a/b', 'second')
  const flat = await objects.listObjects({ bucket: 'coexist', principal: root, maxKeys: 10 })
  t.same(flat.contents.map((info) => info.key), ['a', 'a/b'])
  const rolled = await objects.listObjects({ bucket: 'coexist', principal: root, delimiter: '/', maxKeys: 10 })
  t.same(rolled.contents.map((info) => info.key), ['a'])
  t.same(rolled.commonPrefixes, ['a/'])
  t.equal(rolled.isTruncated, false)
})

t.test('a common prefix with many keys costs one seek; continuations never repeat', async (t) => {
  const meta = new CountingMetaStore() as MetaStore & CountingMetaStore
  const { objects, root, cleanup } = await objectsTestSetup({ meta })
  t.teardown(cleanup)
  await objects.createBucket(root, 'big')
  await put(objects, root, 'big', 'a')
  for (let index = 0; index < 1500; index++) await put(objects, root, 'big', `photos/${String(index).padStart(5, '0')}`)
  await put(objects, root, 'big', 'zebra')
  meta.scannedEntries = 0
  meta.scans = 0
  const page = await objects.listObjects({ bucket: 'big', principal: root, delimiter: '/', maxKeys: 1000 })
  t.same(page.contents.map((info) => info.key), ['a', 'zebra'])
  t.same(page.commonPrefixes, ['photos/'])
  t.ok(meta.scannedEntries < 100, `scanned ${meta.scannedEntries} entries in ${meta.scans} scans for a prefix of 1500 keys`)

  const seen: string[] = []
  let after: string | undefined
  for (let pages = 0; pages < 10; pages++) {
    const next = await objects.listObjects({ bucket: 'big', principal: root, delimiter: '/', maxKeys: 1, ...(after === undefined ? {} : { after }) })
    seen.push(...next.contents.map((info) => info.key), ...next.commonPrefixes)
    if (!next.isTruncated) break
    after = next.nextAfter
  }
  t.same(seen, ['a', 'photos/', 'zebra'], 'page by page, each item once')

  // start-after inside the prefix: the prefix still has keys after it (S3 rolls them up again).
  const inside = await objects.listObjects({ bucket: 'big', principal: root, delimiter: '/', after: 'photos/00010', maxKeys: 10 })
  t.same(inside.commonPrefixes, ['photos/'])
  t.same(inside.contents.map((info) => info.key), ['zebra'])

  const withPrefix = await objects.listObjects({ bucket: 'big', principal: root, prefix: 'photos/', after: 'photos/01490', maxKeys: 1000 })
  t.same(withPrefix.contents.map((info) => info.key), Array.from({ length: 9 }, (_, at) => `photos/0149${at + 1}`))

  meta.scannedEntries = 0
  const deep = await objects.listObjects({ bucket: 'big', principal: root, prefix: 'photos/', maxKeys: 5, after: 'photos/01000' })
  t.same(deep.contents.map((info) => info.key), ['photos/01001', 'photos/01002', 'photos/01003', 'photos/01004', 'photos/01005'])
  t.equal(deep.isTruncated, true)
  t.equal(deep.nextAfter, 'photos/01005')
  t.ok(meta.scannedEntries <= 10, `a page of 5 in the middle reads ${meta.scannedEntries} entries`)
})

t.test('page sizes: 0 is empty, over 1000 is 1000, negative is an error', async (t) => {
  const { objects, root, cleanup } = await objectsTestSetup()
  t.teardown(cleanup)
  await objects.createBucket(root, 'pages')
  await put(objects, root, 'pages', 'k')
  t.same(await objects.listObjects({ bucket: 'pages', principal: root, maxKeys: 0 }), { contents: [], commonPrefixes: [], isTruncated: false })
  t.equal((await objects.listObjects({ bucket: 'pages', principal: root, maxKeys: 5000 })).contents.length, 1)
  await t.rejects(objects.listObjects({ bucket: 'pages', principal: root, maxKeys: -1 }), { code: 'INVALID_ARGUMENT' })
  await t.rejects(objects.listObjectVersions({ bucket: 'pages', principal: root, maxKeys: 5, versionIdMarker: 'null' }), { code: 'INVALID_ARGUMENT' }, 'version-id-marker needs a key marker')
  await t.rejects(objects.listObjects({ bucket: 'nope', principal: root, maxKeys: 5 }), { code: 'NOT_FOUND', subject: 'bucket' })
})

t.test('version listings: markers inside a key with many versions', async (t) => {
  const { objects, root, cleanup } = await objectsTestSetup()
  t.teardown(cleanup)
  await objects.createBucket(root, 'versions')
  await objects.putBucketVersioning(root, 'versions', 'Enabled')
  for (let index = 0; index < 5; index++) await put(objects, root, 'versions', 'k', `v${index}`)
  await objects.deleteObject({ bucket: 'versions', key: 'k', principal: root, signal: new AbortController().signal })
  await put(objects, root, 'versions', 'l')
  const all = await objects.listObjectVersions({ bucket: 'versions', principal: root, maxKeys: 100 })
  t.same(all.versions.map((info) => [info.key, info.isLatest, info.isDeleteMarker]), [
    ['k', true, true], ['k', false, false], ['k', false, false], ['k', false, false], ['k', false, false], ['k', false, false], ['l', true, false],
  ])
  t.ok(all.versions.slice(1, 6).every((info, at, list) => at === 0 || (list[at - 1] as { lastModifiedMs: number }).lastModifiedMs >= info.lastModifiedMs), 'newest first')
  const first = await objects.listObjectVersions({ bucket: 'versions', principal: root, maxKeys: 2 })
  t.equal(first.isTruncated, true)
  t.equal(first.nextKeyMarker, 'k')
  t.equal(first.nextVersionIdMarker, all.versions[1]?.versionId)
  const second = await objects.listObjectVersions({ bucket: 'versions', principal: root, maxKeys: 2, keyMarker: 'k', ...(first.nextVersionIdMarker === undefined ? {} : { versionIdMarker: first.nextVersionIdMarker }) })
  t.same(second.versions.map((info) => info.versionId), [all.versions[2]?.versionId, all.versions[3]?.versionId])
  t.equal(second.versions[0]?.isLatest, false)
  const afterKey = await objects.listObjectVersions({ bucket: 'versions', principal: root, maxKeys: 10, keyMarker: 'k' })
  t.same(afterKey.versions.map((info) => info.key), ['l'], 'a key marker alone skips every version of that key')
  await t.rejects(objects.listObjectVersions({ bucket: 'versions', principal: root, maxKeys: 2, keyMarker: 'k', versionIdMarker: 'junk' }), { code: 'INVALID_ARGUMENT' })
  const listed = await objects.listObjects({ bucket: 'versions', principal: root, maxKeys: 10 })
  t.same(listed.contents.map((info) => info.key), ['l'], 'a key whose latest version is a delete marker is not listed')
})
