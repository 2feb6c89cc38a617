import t from 'tap'
import { StoreError } from '../lib/index.ts'
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

async function putText(setup: Awaited<ReturnType<typeof objectsTestSetup>>, bucket: string, key: string, text: string, extra: Partial<Parameters<typeof setup.objects.putObject>[0]> = {}) {
  const bytes = Buffer.from(text)
  return setup.objects.putObject({ bucket, key, principal: setup.root, body: bodyOf(bytes), sizeBytes: bytes.length, digests: digestsFor(bytes), contentHeaders: {}, userMetadata: {}, signal: setup.signal, ...extra })
}

t.test('read conditions in S3 order; write conditions atomically', async (t) => {
  const setup = await objectsTestSetup()
  t.teardown(setup.cleanup)
  const { objects, root, signal } = setup
  await objects.createBucket(root, 'conditions')
  const put = await putText(setup, 'conditions', 'k', 'hello')
  const lastModifiedMs = setup.store.clock.nowMs()
  const get = (conditions: object) => objects.getObject({ bucket: 'conditions', key: 'k', principal: root, conditions, signal })
  await t.resolves(get({ ifMatch: put.etag }))
  await t.resolves(get({ ifMatch: `"other", ${put.etag}` }), 'a list matches any of its ETags')
  await t.resolves(get({ ifMatch: '*' }))
  await t.rejects(get({ ifMatch: '"other"' }), { code: 'PRECONDITION_FAILED', message: /If-Match/ })
  await t.rejects(get({ ifUnmodifiedSinceMs: lastModifiedMs - 5000 }), { code: 'PRECONDITION_FAILED', message: /If-Unmodified-Since/ })
  await t.resolves(get({ ifMatch: put.etag, ifUnmodifiedSinceMs: lastModifiedMs - 5000 }), 'If-Match true overrides If-Unmodified-Since')
  await t.rejects(get({ ifNoneMatch: put.etag }), { code: 'NOT_MODIFIED' })
  await t.rejects(get({ ifNoneMatch: `W/${put.etag}` }), { code: 'NOT_MODIFIED' }, 'weak comparison')
  await t.rejects(get({ ifModifiedSinceMs: lastModifiedMs + 5000 }), { code: 'NOT_MODIFIED' })
  await t.resolves(get({ ifModifiedSinceMs: lastModifiedMs - 5000 }))
  await t.resolves(get({ ifNoneMatch: '"other"', ifModifiedSinceMs: lastModifiedMs + 5000 }), 'If-None-Match false overrides If-Modified-Since')
  await t.rejects(get({ ifMatch: '"other"', ifNoneMatch: put.etag }), { code: 'PRECONDITION_FAILED' }, '412 before 304')

  await t.rejects(putText(setup, 'conditions', 'k', 'again', { ifNoneMatch: '*' }), { code: 'PRECONDITION_FAILED', message: /If-None-Match/ })
  await t.resolves(putText(setup, 'conditions', 'new', 'fresh', { ifNoneMatch: '*' }))
  await t.rejects(putText(setup, 'conditions', 'k', 'again', { ifMatch: '"0123"' }), { code: 'PRECONDITION_FAILED' })
  await t.rejects(putText(setup, 'conditions', 'missing', 'x', { ifMatch: put.etag }), { code: 'NOT_FOUND', subject: 'key' })
  const replaced = await putText(setup, 'conditions', 'k', 'again', { ifMatch: put.etag })
  t.not(replaced.etag, put.etag)

  // Two racing conditional creates: exactly one wins (the check runs in the commit transaction).
  const racers = await Promise.allSettled([putText(setup, 'conditions', 'race', 'one', { ifNoneMatch: '*' }), putText(setup, 'conditions', 'race', 'two', { ifNoneMatch: '*' })])
  t.same(racers.map((result) => result.status).sort(), ['fulfilled', 'rejected'])
})

t.test('versioned GET, HEAD and DELETE; delete markers', async (t) => {
  const setup = await objectsTestSetup()
  t.teardown(setup.cleanup)
  const { objects, root, signal } = setup
  await objects.createBucket(root, 'versioned')
  const unversioned = await putText(setup, 'versioned', 'k', 'null version')
  t.equal(unversioned.versionId, undefined)
  await objects.putBucketVersioning(root, 'versioned', 'Enabled')
  const v1 = await putText(setup, 'versioned', 'k', 'one')
  t.match(v1.versionId, /^[0-9a-f]{30}$/)
  const marker = await objects.deleteObject({ bucket: 'versioned', key: 'k', principal: root, signal })
  t.equal(marker.deleteMarker, true)
  t.match(marker.versionId, /^[0-9a-f]{30}$/)
  const latest = objects.getObject({ bucket: 'versioned', key: 'k', principal: root, signal })
  await t.rejects(latest, { code: 'NOT_FOUND', subject: 'key', deleteMarker: { versionId: marker.versionId } })
  await t.rejects(objects.headObject({ bucket: 'versioned', key: 'k', principal: root, signal }), { code: 'NOT_FOUND', subject: 'key' })
  await t.rejects(objects.getObject({ bucket: 'versioned', key: 'k', principal: root, versionId: marker.versionId as string, signal }), { code: 'INVALID_STATE', subject: 'version', message: /^MethodNotAllowed: / })
  const old = await objects.getObject({ bucket: 'versioned', key: 'k', principal: root, versionId: 'null', signal })
  t.equal((await collect(old.body)).toString(), 'null version')
  t.equal(old.version.isLatest, false)
  const head = await objects.headObject({ bucket: 'versioned', key: 'k', principal: root, versionId: v1.versionId as string, signal })
  t.equal(head.body, undefined, 'HEAD has no body')
  t.equal(head.version.sizeBytes, 3)
  await t.rejects(objects.getObject({ bucket: 'versioned', key: 'k', principal: root, versionId: 'not-a-version', signal }), { code: 'INVALID_ARGUMENT' })
  await t.rejects(objects.getObject({ bucket: 'versioned', key: 'k', principal: root, versionId: '0'.repeat(30), signal }), { code: 'NOT_FOUND', subject: 'version' })
  // A guessed id with a real version's order but another random part.
  const forged = `${(v1.versionId as string).slice(0, 14)}${'0'.repeat(16)}`
  await t.rejects(objects.getObject({ bucket: 'versioned', key: 'k', principal: root, versionId: forged, signal }), { code: 'NOT_FOUND', subject: 'version' })
  // Removing the marker makes v1 current again.
  t.same(await objects.deleteObject({ bucket: 'versioned', key: 'k', principal: root, versionId: marker.versionId as string, signal }), { versionId: marker.versionId, deleteMarker: true })
  const back = await objects.getObject({ bucket: 'versioned', key: 'k', principal: root, signal })
  t.equal((await collect(back.body)).toString(), 'one')
  t.same(await objects.deleteObject({ bucket: 'versioned', key: 'k', principal: root, versionId: '1'.repeat(30), signal }), { versionId: '1'.repeat(30), deleteMarker: false }, 'deleting a missing version is a no-op')

  await objects.putBucketVersioning(root, 'versioned', 'Suspended')
  const suspended = await putText(setup, 'versioned', 'k', 'suspended')
  t.equal(suspended.versionId, 'null')
  const versions = await objects.listObjectVersions({ bucket: 'versioned', principal: root, maxKeys: 10 })
  t.same(versions.versions.map((info) => [info.versionId, info.isLatest]), [['null', true], [v1.versionId, false]], 'the suspended put replaced the old null version')
  const suspendedDelete = await objects.deleteObject({ bucket: 'versioned', key: 'k', principal: root, signal })
  t.same(suspendedDelete, { versionId: 'null', deleteMarker: true })
  const afterDelete = await objects.listObjectVersions({ bucket: 'versioned', principal: root, maxKeys: 10 })
  t.same(afterDelete.versions.map((info) => [info.versionId, info.isDeleteMarker]), [['null', true], [v1.versionId, false]])
  await t.rejects(objects.putBucketVersioning(root, 'versioned', 'Unversioned' as 'Enabled'), { code: 'INVALID_ARGUMENT' })
})

t.test('partNumber reads of single-part objects; archived objects need a restore', async (t) => {
  const setup = await objectsTestSetup()
  t.teardown(setup.cleanup)
  const { objects, root, signal } = setup
  await objects.createBucket(root, 'parts')
  await putText(setup, 'parts', 'single', 'abcdef')
  const part = await objects.getObject({ bucket: 'parts', key: 'single', principal: root, partNumber: 1, signal })
  t.same(part.range, { first: 0, last: 5, totalBytes: 6 })
  t.equal(part.version.partSizesBytes, undefined)
  await t.rejects(objects.getObject({ bucket: 'parts', key: 'single', principal: root, partNumber: 2, signal }), { code: 'INVALID_RANGE', message: /^InvalidPartNumber/ })
  await t.rejects(objects.getObject({ bucket: 'parts', key: 'single', principal: root, partNumber: 1, range: { first: 0 }, signal }), { code: 'INVALID_ARGUMENT', message: /^InvalidRequest/ })
  await putText(setup, 'parts', 'empty', '')
  const empty = await objects.getObject({ bucket: 'parts', key: 'empty', principal: root, range: { suffixBytes: 5 }, signal })
  t.equal(empty.range, undefined, 'a suffix range of an empty object is the whole (empty) object')
  await t.rejects(objects.getObject({ bucket: 'parts', key: 'empty', principal: root, range: { first: 0 }, signal }), { code: 'INVALID_RANGE' })
  await putText(setup, 'parts', 'cold', 'frozen', { storageClass: 'GLACIER' })
  await t.rejects(objects.getObject({ bucket: 'parts', key: 'cold', principal: root, signal }), { code: 'INVALID_STATE', subject: 'key', message: /^InvalidObjectState/ })
  t.equal((await objects.headObject({ bucket: 'parts', key: 'cold', principal: root, signal })).version.storageClass, 'GLACIER')
})

t.test('input validation: keys, metadata, tags, storage class, sizes', async (t) => {
  const setup = await objectsTestSetup()
  t.teardown(setup.cleanup)
  const { objects, root } = setup
  await objects.createBucket(root, 'validate')
  await t.rejects(putText(setup, 'validate', 'x'.repeat(1025), 'a'), { code: 'INVALID_ARGUMENT', message: /^KeyTooLongError/ })
  await t.resolves(putText(setup, 'validate', 'é'.repeat(512), 'a'), '1024 bytes of UTF-8 is allowed')
  await t.rejects(putText(setup, 'validate', 'bad\uD800', 'a'), { code: 'INVALID_ARGUMENT' })
  await t.rejects(putText(setup, 'validate', 'k', 'a', { userMetadata: { big: 'x'.repeat(2046) } }), { code: 'INVALID_ARGUMENT', message: /^MetadataTooLarge/ })
  const tags = (count: number) => Array.from({ length: count }, (_, at) => ({ key: `k${at}`, value: 'v' }))
  await t.resolves(putText(setup, 'validate', 'k', 'a', { tags: tags(10) }))
  await t.rejects(putText(setup, 'validate', 'k', 'a', { tags: tags(11) }), { code: 'INVALID_ARGUMENT', message: /^InvalidTag/ })
  await t.rejects(putText(setup, 'validate', 'k', 'a', { tags: [{ key: 'k'.repeat(129), value: '' }] }), { message: /^InvalidTag/ })
  await t.rejects(putText(setup, 'validate', 'k', 'a', { tags: [{ key: 'k', value: 'v'.repeat(257) }] }), { message: /^InvalidTag/ })
  await t.rejects(putText(setup, 'validate', 'k', 'a', { tags: [{ key: 'k', value: '1' }, { key: 'k', value: '2' }] }), { message: /^InvalidTag/ })
  await t.rejects(putText(setup, 'validate', 'k', 'a', { tags: [{ key: 'aws:x', value: '1' }] }), { message: /^InvalidTag/ })
  await t.rejects(putText(setup, 'validate', 'k', 'a', { tags: [{ key: 'a<b', value: '1' }] }), { message: /^InvalidTag/ })
  await t.rejects(putText(setup, 'validate', 'k', 'a', { storageClass: 'REDUCED' as 'STANDARD' }), { message: /^InvalidStorageClass/ })
  await t.rejects(putText(setup, 'validate', 'k', 'abc', { sizeBytes: 4 }), { code: 'INVALID_ARGUMENT', message: /^IncompleteBody/ })
  await t.rejects(putText(setup, 'validate', 'k', 'abc', { sizeBytes: 6 * 1024 * 1024 * 1024 }), { code: 'LIMIT_EXCEEDED', message: /^EntityTooLarge/ })
})

t.test('an aborted or badly digested PUT commits nothing', async (t) => {
  const setup = await objectsTestSetup()
  t.teardown(setup.cleanup)
  const { objects, root } = setup
  await objects.createBucket(root, 'aborts')
  await putText(setup, 'aborts', 'k', 'original')
  const data = randomBytesFrom(7, 2 * 1024 * 1024)
  const bad = objects.putObject({
    bucket: 'aborts', key: 'k', principal: root, body: bodyOf(data), digests: async () => {
      throw new StoreError('BAD_DIGEST', 'Content-MD5 mismatch')
    },
    contentHeaders: {}, userMetadata: {}, signal: setup.signal,
  })
  await t.rejects(bad, { code: 'BAD_DIGEST' })
  const controller = new AbortController()
  async function* slowBody() {
    yield data.subarray(0, 1024 * 1024)
    controller.abort()
    yield data.subarray(1024 * 1024)
  }
  await t.rejects(objects.putObject({ bucket: 'aborts', key: 'k', principal: root, body: slowBody(), digests: digestsFor(data), contentHeaders: {}, userMetadata: {}, signal: controller.signal }), { code: 'ABORTED' })
  async function* failingBody() {
    yield data.subarray(0, 512 * 1024)
    throw new Error('client went away')
  }
  await t.rejects(objects.putObject({ bucket: 'aborts', key: 'k', principal: root, body: failingBody(), digests: digestsFor(data), contentHeaders: {}, userMetadata: {}, signal: setup.signal }), { message: 'client went away' })
  const got = await objects.getObject({ bucket: 'aborts', key: 'k', principal: root, signal: setup.signal })
  t.equal((await collect(got.body)).toString(), 'original', 'the object is unchanged')
})

t.test('object tagging', async (t) => {
  const setup = await objectsTestSetup()
  t.teardown(setup.cleanup)
  const { objects, root, signal } = setup
  await objects.createBucket(root, 'tagging')
  await putText(setup, 'tagging', 'k', 'a', { tags: [{ key: 'color', value: 'red' }] })
  t.same(await objects.getObjectTagging({ bucket: 'tagging', key: 'k', principal: root }), { tags: [{ key: 'color', value: 'red' }] })
  t.same(await objects.putObjectTagging({ bucket: 'tagging', key: 'k', principal: root, tags: [{ key: 'a', value: '1' }, { key: 'b', value: '' }] }), {})
  const head = await objects.headObject({ bucket: 'tagging', key: 'k', principal: root, signal })
  t.equal(head.version.tagCount, 2)
  const listed = await objects.listObjects({ bucket: 'tagging', principal: root, maxKeys: 10 })
  t.equal(listed.contents[0]?.tagCount, 2, 'the current entry follows tag changes')
  await objects.deleteObjectTagging({ bucket: 'tagging', key: 'k', principal: root })
  t.same((await objects.getObjectTagging({ bucket: 'tagging', key: 'k', principal: root })).tags, [])
  await t.rejects(objects.putObjectTagging({ bucket: 'tagging', key: 'k', principal: root, tags: Array.from({ length: 11 }, (_, at) => ({ key: `${at}`, value: '' })) }), { message: /^InvalidTag/ })
  await t.rejects(objects.getObjectTagging({ bucket: 'tagging', key: 'missing', principal: root }), { code: 'NOT_FOUND', subject: 'key' })
  await objects.putBucketVersioning(root, 'tagging', 'Enabled')
  const v2 = await putText(setup, 'tagging', 'k', 'b')
  const tagged = await objects.putObjectTagging({ bucket: 'tagging', key: 'k', principal: root, versionId: 'null', tags: [{ key: 'old', value: 'yes' }] })
  t.same(tagged, { versionId: 'null' })
  t.same((await objects.getObjectTagging({ bucket: 'tagging', key: 'k', principal: root })).tags, [], 'tagging the old version left the current one alone')
  t.same(await objects.getObjectTagging({ bucket: 'tagging', key: 'k', principal: root, versionId: 'null' }), { tags: [{ key: 'old', value: 'yes' }], versionId: 'null' })
  t.equal((await objects.getObjectTagging({ bucket: 'tagging', key: 'k', principal: root })).versionId, v2.versionId)
})
