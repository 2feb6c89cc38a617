import t from 'tap'
import { createChecksum, toBase64 } from '../lib/checksum/index.ts'
import { prefixRange } from '../meta/index.ts'
import { bodyOf, collect, digestsFor, md5Hex, objectsTestSetup, randomBytesFrom, referencedChunks, type ObjectsTestSetup } from './testing.ts'
import type { CopyObjectInput } from './api.ts'

async function putBytes(setup: ObjectsTestSetup, bucket: string, key: string, bytes: Buffer, extra = {}) {
  return setup.objects.putObject({ bucket, key, principal: setup.root, body: bodyOf(bytes), sizeBytes: bytes.length, digests: digestsFor(bytes), contentHeaders: { contentType: 'text/plain' }, userMetadata: { a: '1' }, tags: [{ key: 't', value: 'v' }], signal: setup.signal, ...extra })
}


function copyInput(setup: ObjectsTestSetup, from: { bucket: string; key: string; versionId?: string; conditions?: object }, to: { bucket: string; key: string }, extra: Partial<CopyObjectInput> = {}): CopyObjectInput {
  return { source: from, bucket: to.bucket, key: to.key, principal: setup.root, metadataDirective: 'COPY', taggingDirective: 'COPY', signal: setup.signal, ...extra }
}

t.test('copy references the same chunks; directives; self-copy rules', async (t) => {
  const setup = await objectsTestSetup()
  t.teardown(setup.cleanup)
  const { objects, root, signal } = setup
  await objects.createBucket(root, 'source')
  await objects.createBucket(root, 'target')
  const data = randomBytesFrom(5, 3 * 1024 * 1024)
  const put = await putBytes(setup, 'source', 'k', data)
  const refs = await referencedChunks(setup.store.meta)
  const copied = await objects.copyObject(copyInput(setup, { bucket: 'source', key: 'k' }, { bucket: 'target', key: 'copy' }))
  t.equal(copied.etag, put.etag)
  t.equal(copied.sourceVersionId, undefined, 'no source version id from an unversioned bucket')
  t.equal(await referencedChunks(setup.store.meta), refs, 'no new chunk: the copy references the source chunks')
  const got = await objects.getObject({ bucket: 'target', key: 'copy', principal: root, signal })
  t.ok((await collect(got.body)).equals(data))
  t.same(got.version.userMetadata, { a: '1' })
  t.equal(got.version.contentHeaders.contentType, 'text/plain')
  t.equal(got.version.tagCount, 1)

  const replaced = await objects.copyObject(copyInput(setup, { bucket: 'source', key: 'k' }, { bucket: 'target', key: 'replaced' }, {
    metadataDirective: 'REPLACE', contentHeaders: { contentType: 'image/png' }, userMetadata: { b: '2' }, taggingDirective: 'REPLACE', tags: [], storageClass: 'STANDARD_IA',
  }))
  t.ok(replaced.lastModifiedMs > 0)
  const head = await objects.headObject({ bucket: 'target', key: 'replaced', principal: root, signal })
  t.same([head.version.userMetadata, head.version.contentHeaders.contentType, head.version.tagCount, head.version.storageClass], [{ b: '2' }, 'image/png', 0, 'STANDARD_IA'])

  await t.rejects(objects.copyObject(copyInput(setup, { bucket: 'source', key: 'k' }, { bucket: 'source', key: 'k' })), { code: 'INVALID_ARGUMENT', message: /^InvalidRequest: This copy request is illegal/ })
  await t.resolves(objects.copyObject(copyInput(setup, { bucket: 'source', key: 'k' }, { bucket: 'source', key: 'k' }, { metadataDirective: 'REPLACE', userMetadata: { c: '3' } })), 'copying onto itself with new metadata')
  await t.rejects(objects.copyObject(copyInput(setup, { bucket: 'source', key: 'missing' }, { bucket: 'target', key: 'x' })), { code: 'NOT_FOUND', subject: 'key' })
  await t.rejects(objects.copyObject(copyInput(setup, { bucket: 'source', key: 'k', conditions: { ifMatch: '"nope"' } }, { bucket: 'target', key: 'x' })), { code: 'PRECONDITION_FAILED', message: /x-amz-copy-source-if-match/ })
  await t.rejects(objects.copyObject(copyInput(setup, { bucket: 'source', key: 'k', conditions: { ifNoneMatch: put.etag } }, { bucket: 'target', key: 'x' })), { code: 'PRECONDITION_FAILED' }, 'copy turns 304s into 412s')
  await t.rejects(objects.copyObject(copyInput(setup, { bucket: 'source', key: 'k' }, { bucket: 'target', key: 'x' }, { metadataDirective: 'REPLACE', tags: [], taggingDirective: 'REPLACE', userMetadata: { big: 'x'.repeat(3000) } })), { message: /^MetadataTooLarge/ })

  const alice = await objects.users.createUser('alice')
  const asAlice = (await objects.users.lookupAccessKey(alice.accessKeyId))!.principal
  await objects.createBucket(asAlice, 'alice-bucket')
  await t.rejects(objects.copyObject({ ...copyInput(setup, { bucket: 'source', key: 'k' }, { bucket: 'alice-bucket', key: 'stolen' }), principal: asAlice }), { code: 'ACCESS_DENIED' })

  await objects.deleteObject({ bucket: 'source', key: 'k', principal: root, signal })
  const survivor = await objects.getObject({ bucket: 'target', key: 'copy', principal: root, signal })
  t.ok((await collect(survivor.body)).equals(data), 'the copy outlives its source')
  for (const key of ['copy', 'replaced']) await objects.deleteObject({ bucket: 'target', key, principal: root, signal })
  t.equal(await referencedChunks(setup.store.meta), 0)
})

t.test('copy by version id, delete markers, checksums, archived sources', async (t) => {
  const setup = await objectsTestSetup()
  t.teardown(setup.cleanup)
  const { objects, root, signal } = setup
  await objects.createBucket(root, 'versions')
  await objects.putBucketVersioning(root, 'versions', 'Enabled')
  const old = await putBytes(setup, 'versions', 'k', Buffer.from('old'))
  await putBytes(setup, 'versions', 'k', Buffer.from('new'))
  const restored = await objects.copyObject(copyInput(setup, { bucket: 'versions', key: 'k', versionId: old.versionId as string }, { bucket: 'versions', key: 'k' }))
  t.equal(restored.sourceVersionId, old.versionId)
  t.not(restored.versionId, old.versionId)
  const now = await objects.getObject({ bucket: 'versions', key: 'k', principal: root, signal })
  t.equal((await collect(now.body)).toString(), 'old', 'an old version copied onto its key restores it')
  const marker = await objects.deleteObject({ bucket: 'versions', key: 'k', principal: root, signal })
  await t.rejects(objects.copyObject(copyInput(setup, { bucket: 'versions', key: 'k' }, { bucket: 'versions', key: 'x' })), { code: 'NOT_FOUND', subject: 'key' })
  await t.rejects(objects.copyObject(copyInput(setup, { bucket: 'versions', key: 'k', versionId: marker.versionId as string }, { bucket: 'versions', key: 'x' })), { code: 'INVALID_ARGUMENT', message: /^InvalidRequest/ })

  const data = Buffer.from('checksum me')
  await putBytes(setup, 'versions', 'sum', data)
  const withSum = await objects.copyObject(copyInput(setup, { bucket: 'versions', key: 'sum' }, { bucket: 'versions', key: 'sum2' }, { checksumAlgorithm: 'CRC32' }))
  t.same(withSum.checksum, { algorithm: 'CRC32', type: 'FULL_OBJECT', value: toBase64(createChecksum('CRC32').update(data).digest()) })
  t.equal(withSum.etag, `"${md5Hex(data)}"`)

  await putBytes(setup, 'versions', 'cold', Buffer.from('zzz'), { storageClass: 'DEEP_ARCHIVE' })
  await t.rejects(objects.copyObject(copyInput(setup, { bucket: 'versions', key: 'cold' }, { bucket: 'versions', key: 'warm' })), { code: 'INVALID_STATE', message: /^InvalidObjectState/ })
})

t.test('large objects keep their manifest in segments: read, copy, delete, collect', async (t) => {
  // Small chunks so that a 1 MiB object has thousands of chunks (> manifestEmbeddedChunksMax).
  const setup = await objectsTestSetup({ chunking: { minBytes: 128, averageBytes: 512, maxBytes: 2048 } })
  t.teardown(setup.cleanup)
  const { objects, root, signal } = setup
  await objects.createBucket(root, 'large')
  const data = randomBytesFrom(77, 1024 * 1024)
  await putBytes(setup, 'large', 'big', data)
  const segments = await setup.store.meta.read((tx) => tx.scan({ ...prefixRange('s3', 'seg'), limit: 100 }))
  t.ok(segments.length >= 2, `${segments.length} segment records`)
  const got = await objects.getObject({ bucket: 'large', key: 'big', principal: root, signal })
  t.ok((await collect(got.body)).equals(data))
  const ranged = await objects.getObject({ bucket: 'large', key: 'big', principal: root, range: { first: 400_000, last: 900_000 }, signal })
  t.ok((await collect(ranged.body)).equals(data.subarray(400_000, 900_001)), 'a range across segments')
  const refs = await referencedChunks(setup.store.meta)
  await objects.copyObject(copyInput(setup, { bucket: 'large', key: 'big' }, { bucket: 'large', key: 'copy' }))
  t.equal(await referencedChunks(setup.store.meta), refs, 'the copy shares every chunk')
  t.equal((await setup.store.meta.read((tx) => tx.scan({ ...prefixRange('s3', 'seg'), limit: 100 }))).length, segments.length * 2, 'the copy has its own segment records')
  await objects.deleteObject({ bucket: 'large', key: 'big', principal: root, signal })
  const copy = await objects.getObject({ bucket: 'large', key: 'copy', principal: root, signal })
  t.ok((await collect(copy.body)).equals(data))
  await objects.deleteObject({ bucket: 'large', key: 'copy', principal: root, signal })
  t.equal(await referencedChunks(setup.store.meta), 0)
  t.same(await setup.store.meta.read((tx) => tx.scan({ ...prefixRange('s3', 'seg'), limit: 1 })), [])
  setup.store.clock.advance(10_000)
  await setup.chunkStore.collectGarbage()
  t.same(await setup.store.meta.read((tx) => tx.scan({ ...prefixRange('chunk', 'loc'), limit: 1 })), [], 'GC past the grace period leaves the chunk store empty')
})
