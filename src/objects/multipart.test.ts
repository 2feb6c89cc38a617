import t from 'tap'
import { createHash } from 'node:crypto'
import { createChecksum, toBase64 } from '../lib/checksum/index.ts'
import { MiB } from '../lib/index.ts'
import { prefixRange } from '../meta/index.ts'
import type { ChecksumAlgorithm } from './api.ts'
import { bodyOf, collect, md5Hex, objectsTestSetup, randomBytesFrom, referencedChunks, type ObjectsTestSetup } from './testing.ts'

async function uploadBytes(setup: ObjectsTestSetup, key: string, uploadId: string, partNumber: number, bytes: Buffer, algorithm?: ChecksumAlgorithm) {
  const checksum = algorithm === undefined ? undefined : { algorithm, type: 'COMPOSITE' as const, value: toBase64(createChecksum(algorithm).update(bytes).digest()) }
  return setup.objects.uploadPart({
    bucket: 'uploads', key, uploadId, partNumber, principal: setup.root, body: bodyOf(bytes, 256 * 1024), sizeBytes: bytes.length,
    digests: async () => ({ md5Hex: md5Hex(bytes), ...(checksum === undefined ? {} : { checksum }) }), signal: setup.signal,
  })
}

function multipartEtag(parts: Buffer[]): string {
  const md5 = createHash('md5')
  for (const part of parts) md5.update(createHash('md5').update(part).digest())
  return `"${md5.digest('hex')}-${parts.length}"`
}


async function create(setup: ObjectsTestSetup, key: string, extra: { checksumAlgorithm?: ChecksumAlgorithm; checksumType?: 'COMPOSITE' | 'FULL_OBJECT' } = {}) {
  return setup.objects.createMultipartUpload({ bucket: 'uploads', key, principal: setup.root, contentHeaders: { contentType: 'video/mp4' }, userMetadata: { origin: 'test' }, tags: [{ key: 't', value: '1' }], ...extra })
}

t.test('parts in parallel and out of order complete into one object without copying data', async (t) => {
  const setup = await objectsTestSetup()
  t.teardown(setup.cleanup)
  const { objects, root, signal } = setup
  await objects.createBucket(root, 'uploads')
  const upload = await create(setup, 'movie')
  t.match(upload.uploadId, /^[0-9a-f]{32}$/)
  const parts = [randomBytesFrom(1, 5 * MiB), randomBytesFrom(2, 5 * MiB + 123), randomBytesFrom(3, 1000)]
  const infos = await Promise.all([3, 1, 2].map((partNumber) => uploadBytes(setup, 'movie', upload.uploadId, partNumber, parts[partNumber - 1] as Buffer)))
  t.same(infos.map((info) => info.etag), [3, 1, 2].map((partNumber) => `"${md5Hex(parts[partNumber - 1] as Buffer)}"`))
  const listed = await objects.listParts({ bucket: 'uploads', key: 'movie', uploadId: upload.uploadId, principal: root, maxParts: 2 })
  t.same(listed.parts.map((part) => part.partNumber), [1, 2])
  t.equal(listed.isTruncated, true)
  t.equal(listed.nextPartNumberMarker, 2)
  const rest = await objects.listParts({ bucket: 'uploads', key: 'movie', uploadId: upload.uploadId, principal: root, maxParts: 2, partNumberMarker: 2 })
  t.same(rest.parts.map((part) => [part.partNumber, part.sizeBytes]), [[3, 1000]])
  const refsBefore = await referencedChunks(setup.store.meta)
  const done = await objects.completeMultipartUpload({
    bucket: 'uploads', key: 'movie', uploadId: upload.uploadId, principal: root, signal,
    parts: [1, 2, 3].map((partNumber) => ({ partNumber, etag: md5Hex(parts[partNumber - 1] as Buffer) })),
  })
  t.equal(done.etag, multipartEtag(parts))
  t.equal(await referencedChunks(setup.store.meta), refsBefore, 'completion moves references, it adds none')
  const whole = Buffer.concat(parts)
  const got = await objects.getObject({ bucket: 'uploads', key: 'movie', principal: root, signal })
  t.ok((await collect(got.body)).equals(whole))
  t.same(got.version.partSizesBytes, parts.map((part) => part.length))
  t.equal(got.version.contentHeaders.contentType, 'video/mp4')
  t.equal(got.version.tagCount, 1)
  const second = await objects.getObject({ bucket: 'uploads', key: 'movie', principal: root, partNumber: 2, signal })
  t.same(second.range, { first: 5 * MiB, last: 10 * MiB + 122, totalBytes: whole.length })
  t.ok((await collect(second.body)).equals(parts[1] as Buffer))
  await t.rejects(objects.getObject({ bucket: 'uploads', key: 'movie', principal: root, partNumber: 4, signal }), { code: 'INVALID_RANGE' })
  const ranged = await objects.getObject({ bucket: 'uploads', key: 'movie', principal: root, range: { first: 5 * MiB - 10, last: 10 * MiB + 200 }, signal })
  t.ok((await collect(ranged.body)).equals(whole.subarray(5 * MiB - 10, 10 * MiB + 201)), 'a range across part boundaries')
  t.same((await objects.listMultipartUploads({ bucket: 'uploads', principal: root, maxUploads: 10 })).uploads, [], 'the upload is gone')
  await t.rejects(objects.uploadPart({ bucket: 'uploads', key: 'movie', uploadId: upload.uploadId, partNumber: 1, principal: root, body: bodyOf(Buffer.from('x')), digests: async () => ({ md5Hex: md5Hex(Buffer.from('x')) }), signal }), { code: 'NOT_FOUND', subject: 'upload' })

  await objects.deleteObject({ bucket: 'uploads', key: 'movie', principal: root, signal })
  t.equal(await referencedChunks(setup.store.meta), 0, 'deleting the object drops every reference')
  setup.store.clock.advance(10_000)
  await setup.chunkStore.collectGarbage()
  t.same(await setup.store.meta.read((tx) => tx.scan({ ...prefixRange('chunk', 'loc'), limit: 1 })), [], 'GC leaves no chunk')
  t.same(await setup.store.meta.read((tx) => tx.scan({ ...prefixRange('s3', 'seg'), limit: 1 })), [], 'no segment is left')
})

t.test('completion rules and errors', async (t) => {
  const setup = await objectsTestSetup()
  t.teardown(setup.cleanup)
  const { objects, root, signal } = setup
  await objects.createBucket(root, 'uploads')
  const upload = await create(setup, 'k')
  const small = Buffer.from('small part')
  const big = randomBytesFrom(9, 5 * MiB)
  await uploadBytes(setup, 'k', upload.uploadId, 1, small)
  await uploadBytes(setup, 'k', upload.uploadId, 2, big)
  const complete = (parts: Array<{ partNumber: number; etag: string }>, extra = {}) =>
    objects.completeMultipartUpload({ bucket: 'uploads', key: 'k', uploadId: upload.uploadId, principal: root, parts, signal, ...extra })
  await t.rejects(complete([]), { code: 'INVALID_ARGUMENT', message: /^MalformedXML/ })
  await t.rejects(complete([{ partNumber: 2, etag: md5Hex(big) }, { partNumber: 1, etag: md5Hex(small) }]), { code: 'INVALID_ARGUMENT', message: /^InvalidPartOrder/ })
  await t.rejects(complete([{ partNumber: 1, etag: md5Hex(small) }, { partNumber: 2, etag: md5Hex(big) }]), { code: 'INVALID_ARGUMENT', message: /^EntityTooSmall/ })
  await t.rejects(complete([{ partNumber: 3, etag: md5Hex(small) }]), { code: 'INVALID_STATE', subject: 'part', message: /^InvalidPart/ })
  await t.rejects(complete([{ partNumber: 1, etag: md5Hex(big) }]), { code: 'INVALID_STATE', subject: 'part' })
  await t.rejects(complete([{ partNumber: 0, etag: 'x' }]), { code: 'INVALID_ARGUMENT' })
  await t.rejects(objects.completeMultipartUpload({ bucket: 'uploads', key: 'k', uploadId: 'f'.repeat(32), principal: root, parts: [{ partNumber: 1, etag: 'x' }], signal }), { code: 'NOT_FOUND', subject: 'upload' })
  await t.rejects(objects.completeMultipartUpload({ bucket: 'uploads', key: 'other', uploadId: upload.uploadId, principal: root, parts: [{ partNumber: 1, etag: 'x' }], signal }), { code: 'NOT_FOUND', subject: 'upload' }, 'an upload id belongs to its key')
  await t.rejects(objects.listParts({ bucket: 'uploads', key: 'k', uploadId: 'garbage', principal: root, maxParts: 10 }), { code: 'NOT_FOUND', subject: 'upload' })
  await t.rejects(uploadBytes(setup, 'k', upload.uploadId, 10_001, small), { code: 'INVALID_ARGUMENT' })
  // The object exists now, so a conditional create fails, and nothing is consumed by the failure.
  const existing = Buffer.from('existing')
  await objects.putObject({ bucket: 'uploads', key: 'k', principal: root, body: bodyOf(existing), digests: async () => ({ md5Hex: md5Hex(existing) }), contentHeaders: {}, userMetadata: {}, signal })
  await t.rejects(complete([{ partNumber: 2, etag: `"${md5Hex(big)}"` }], { ifNoneMatch: '*' }), { code: 'PRECONDITION_FAILED' })
  // Re-uploading part 1 replaces it; completing with part 2 alone (quoted ETag) drops part 1.
  const refs = await referencedChunks(setup.store.meta)
  await uploadBytes(setup, 'k', upload.uploadId, 1, randomBytesFrom(10, 300 * 1024))
  t.equal(await referencedChunks(setup.store.meta), refs, 'the replaced part dropped its chunk (one new, one gone)')
  const done = await complete([{ partNumber: 2, etag: `"${md5Hex(big)}"` }])
  t.equal(done.etag, multipartEtag([big]))
  const got = await objects.getObject({ bucket: 'uploads', key: 'k', principal: root, signal })
  t.ok((await collect(got.body)).equals(big))
  t.same(got.version.partSizesBytes, [big.length])
  const afterRefs = await referencedChunks(setup.store.meta)
  await objects.deleteObject({ bucket: 'uploads', key: 'k', principal: root, signal })
  t.ok(afterRefs > 0)
  t.equal(await referencedChunks(setup.store.meta), 0, 'part 1 of the upload was dropped at completion')
})

t.test('abort drops everything; uploads block bucket deletion; listing uploads', async (t) => {
  const setup = await objectsTestSetup()
  t.teardown(setup.cleanup)
  const { objects, root } = setup
  await objects.createBucket(root, 'uploads')
  const ids: string[] = []
  for (const key of ['a/1', 'a/2', 'b', 'a/1']) {
    ids.push((await create(setup, key)).uploadId)
    setup.store.clock.advance(5)
  }
  await uploadBytes(setup, 'b', ids[2] as string, 1, randomBytesFrom(4, 600 * 1024))
  await t.rejects(objects.deleteBucket(root, 'uploads'), { code: 'NOT_EMPTY', subject: 'bucket' })
  const all = await objects.listMultipartUploads({ bucket: 'uploads', principal: root, maxUploads: 10 })
  t.same(all.uploads.map((upload) => [upload.key, upload.uploadId]), [['a/1', ids[0]], ['a/1', ids[3]], ['a/2', ids[1]], ['b', ids[2]]], 'by key, then by age')
  const rolled = await objects.listMultipartUploads({ bucket: 'uploads', principal: root, delimiter: '/', maxUploads: 10 })
  t.same(rolled.commonPrefixes, ['a/'])
  t.same(rolled.uploads.map((upload) => upload.key), ['b'])
  const page = await objects.listMultipartUploads({ bucket: 'uploads', principal: root, maxUploads: 1, keyMarker: 'a/1', uploadIdMarker: ids[0] as string })
  t.same(page.uploads.map((upload) => upload.uploadId), [ids[3]])
  t.equal(page.isTruncated, true)
  t.equal(page.nextKeyMarker, 'a/1')
  t.equal(page.nextUploadIdMarker, ids[3])
  const prefixed = await objects.listMultipartUploads({ bucket: 'uploads', principal: root, prefix: 'a/', keyMarker: 'a/1', maxUploads: 10 })
  t.same(prefixed.uploads.map((upload) => upload.key), ['a/2'])
  for (const [at, key] of ['a/1', 'a/2', 'b', 'a/1'].entries()) await objects.abortMultipartUpload({ bucket: 'uploads', key, uploadId: ids[at] as string, principal: root })
  await t.rejects(objects.abortMultipartUpload({ bucket: 'uploads', key: 'b', uploadId: ids[2] as string, principal: root }), { code: 'NOT_FOUND', subject: 'upload' })
  t.equal(await referencedChunks(setup.store.meta), 0)
  await objects.deleteBucket(root, 'uploads')
})

t.test('UploadPartCopy references whole chunks and re-puts only the edges', async (t) => {
  const setup = await objectsTestSetup()
  t.teardown(setup.cleanup)
  const { objects, root, signal } = setup
  await objects.createBucket(root, 'uploads')
  const source = randomBytesFrom(21, 12 * MiB)
  await objects.putObject({ bucket: 'uploads', key: 'source', principal: root, body: bodyOf(source), digests: async () => ({ md5Hex: md5Hex(source) }), contentHeaders: {}, userMetadata: {}, signal })
  const chunksOfSource = await referencedChunks(setup.store.meta)
  t.ok(chunksOfSource >= 4, `the source has ${chunksOfSource} chunks`)
  const upload = await create(setup, 'assembled')
  const first = await objects.uploadPartCopy({ bucket: 'uploads', key: 'assembled', uploadId: upload.uploadId, partNumber: 1, principal: root, source: { bucket: 'uploads', key: 'source', range: { first: 100, last: 6 * MiB } }, signal })
  t.equal(first.etag, `"${md5Hex(source.subarray(100, 6 * MiB + 1))}"`)
  t.ok(await referencedChunks(setup.store.meta) <= chunksOfSource + 2, 'at most two new chunks (the cut edges)')
  const whole = await objects.uploadPartCopy({ bucket: 'uploads', key: 'assembled', uploadId: upload.uploadId, partNumber: 2, principal: root, source: { bucket: 'uploads', key: 'source' }, signal })
  t.equal(whole.etag, `"${md5Hex(source)}"`, 'a whole single-part source keeps its MD5')
  await t.rejects(objects.uploadPartCopy({ bucket: 'uploads', key: 'assembled', uploadId: upload.uploadId, partNumber: 3, principal: root, source: { bucket: 'uploads', key: 'source', range: { first: 0, last: 12 * MiB } }, signal }), { code: 'INVALID_ARGUMENT' })
  await t.rejects(objects.uploadPartCopy({ bucket: 'uploads', key: 'assembled', uploadId: upload.uploadId, partNumber: 3, principal: root, source: { bucket: 'uploads', key: 'source', conditions: { ifNoneMatch: `"${md5Hex(source)}"` } }, signal }), { code: 'PRECONDITION_FAILED' })
  await objects.completeMultipartUpload({ bucket: 'uploads', key: 'assembled', uploadId: upload.uploadId, principal: root, parts: [{ partNumber: 1, etag: first.etag }, { partNumber: 2, etag: whole.etag }], signal })
  const got = await objects.getObject({ bucket: 'uploads', key: 'assembled', principal: root, signal })
  t.ok((await collect(got.body)).equals(Buffer.concat([source.subarray(100, 6 * MiB + 1), source])))
  await objects.deleteObject({ bucket: 'uploads', key: 'source', principal: root, signal })
  const afterSourceDelete = await objects.getObject({ bucket: 'uploads', key: 'assembled', principal: root, partNumber: 2, signal })
  t.ok((await collect(afterSourceDelete.body)).equals(source), 'the copy keeps its chunks when the source goes')
  await objects.deleteObject({ bucket: 'uploads', key: 'assembled', principal: root, signal })
  t.equal(await referencedChunks(setup.store.meta), 0)
})

t.test('multipart checksums: composite and full-object', async (t) => {
  const setup = await objectsTestSetup()
  t.teardown(setup.cleanup)
  const { objects, root, signal } = setup
  await objects.createBucket(root, 'uploads')
  const parts = [randomBytesFrom(31, 5 * MiB), randomBytesFrom(32, 77)]
  for (const [checksumType, algorithm] of [['COMPOSITE', 'SHA256'], ['FULL_OBJECT', 'CRC32'], ['COMPOSITE', 'CRC32C']] as const) {
    const upload = await create(setup, `sum-${algorithm}`, { checksumAlgorithm: algorithm, checksumType })
    t.equal(upload.checksumType, checksumType)
    const infos = []
    for (const [at, part] of parts.entries()) infos.push(await uploadBytes(setup, `sum-${algorithm}`, upload.uploadId, at + 1, part, algorithm))
    t.equal(infos[0]?.checksum?.algorithm, algorithm)
    await t.rejects(uploadBytes(setup, `sum-${algorithm}`, upload.uploadId, 3, parts[1] as Buffer, algorithm === 'CRC32' ? 'SHA1' : 'CRC32'), { code: 'INVALID_ARGUMENT', message: /^InvalidRequest/ })
    const done = await objects.completeMultipartUpload({
      bucket: 'uploads', key: `sum-${algorithm}`, uploadId: upload.uploadId, principal: root, signal,
      parts: infos.map((info) => ({ partNumber: info.partNumber, etag: info.etag, ...(info.checksum === undefined ? {} : { checksum: info.checksum.value }) })),
    })
    const expected = checksumType === 'COMPOSITE'
      ? `${toBase64(createChecksum(algorithm).update(Buffer.concat(parts.map((part) => createChecksum(algorithm).update(part).digest()))).digest())}-2`
      : toBase64(createChecksum(algorithm).update(Buffer.concat(parts)).digest())
    t.same(done.checksum, { algorithm, type: checksumType, value: expected }, `${checksumType} ${algorithm}`)
  }
  await t.rejects(create(setup, 'bad', { checksumAlgorithm: 'SHA256', checksumType: 'FULL_OBJECT' }), { code: 'INVALID_ARGUMENT', message: /^InvalidRequest/ })
})
