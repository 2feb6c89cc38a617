import t from 'tap'
import { bodyOf, collect, digestsFor, md5Hex, objectsTestSetup, randomBytesFrom } from './testing.ts'

t.test('put and get: inline, one chunk, many chunks; ranges', async (t) => {
  const { objects, root, signal, cleanup } = await objectsTestSetup()
  t.teardown(cleanup)
  await objects.createBucket(root, 'photos')
  for (const sizeBytes of [0, 1, 4096, 4097, 300 * 1024, 3 * 1024 * 1024 + 17]) {
    const data = randomBytesFrom(sizeBytes, sizeBytes)
    const key = `object-${sizeBytes}`
    const put = await objects.putObject({ bucket: 'photos', key, principal: root, body: bodyOf(data), sizeBytes, digests: digestsFor(data), contentHeaders: { contentType: 'application/x-test' }, userMetadata: { size: String(sizeBytes) }, signal })
    t.equal(put.etag, `"${md5Hex(data)}"`)
    t.equal(put.versionId, undefined, 'unversioned buckets report no version id')
    const got = await objects.getObject({ bucket: 'photos', key, principal: root, signal })
    t.ok((await collect(got.body)).equals(data), `${sizeBytes} bytes read back`)
    t.equal(got.version.versionId, 'null')
    t.equal(got.version.contentHeaders.contentType, 'application/x-test')
    t.same(got.version.userMetadata, { size: String(sizeBytes) })
    t.equal(got.bucketVersioning, 'Unversioned')
    if (sizeBytes < 10) continue
    const ranged = await objects.getObject({ bucket: 'photos', key, principal: root, range: { first: 3, last: sizeBytes - 5 }, signal })
    t.same(ranged.range, { first: 3, last: sizeBytes - 5, totalBytes: sizeBytes })
    t.ok((await collect(ranged.body)).equals(data.subarray(3, sizeBytes - 4)), 'range')
    const suffix = await objects.getObject({ bucket: 'photos', key, principal: root, range: { suffixBytes: 7 }, signal })
    t.ok((await collect(suffix.body)).equals(data.subarray(sizeBytes - 7)), 'suffix range')
    const open = await objects.getObject({ bucket: 'photos', key, principal: root, range: { first: sizeBytes - 2 }, signal })
    t.ok((await collect(open.body)).equals(data.subarray(sizeBytes - 2)), 'open range')
    await t.rejects(objects.getObject({ bucket: 'photos', key, principal: root, range: { first: sizeBytes }, signal }), { code: 'INVALID_RANGE' })
  }
})
