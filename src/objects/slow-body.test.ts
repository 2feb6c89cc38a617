// A body that takes longer than the GC grace period: its first chunks are held (ChunkHold)
// while the rest arrives, so the commit finds them all (no CHUNK_MISSING).
import t from 'tap'
import { collect, digestsFor, md5Hex, objectsTestSetup, randomBytesFrom, type ObjectsTestSetup } from './testing.ts'

const graceMs = 1000 // testStoreSetup's gcGraceMs

/** Yields `pieces`, and between them lets five grace periods pass with a GC run each. */
async function* slowBody(setup: ObjectsTestSetup, pieces: Buffer[]): AsyncGenerator<Uint8Array> {
  for (const [index, piece] of pieces.entries()) {
    if (index > 0) {
      setup.store.clock.advance(graceMs * 5)
      await setup.chunkStore.collectGarbage()
    }
    yield piece
  }
}

t.test('PutObject and UploadPart with a body slower than the GC grace period', async (t) => {
  const setup = await objectsTestSetup({ seed: 7, chunking: { minBytes: 16 * 1024, averageBytes: 64 * 1024, maxBytes: 256 * 1024 } })
  t.teardown(setup.cleanup)
  const { objects, root, signal } = setup
  await objects.createBucket(root, 'slow')
  const pieces = [0, 1, 2].map((index) => randomBytesFrom(index + 1, 1024 * 1024))
  const data = Buffer.concat(pieces)
  await objects.putObject({ bucket: 'slow', key: 'object', principal: root, body: slowBody(setup, pieces), sizeBytes: data.length, digests: digestsFor(data), contentHeaders: {}, userMetadata: {}, signal })
  t.ok((await collect((await objects.getObject({ bucket: 'slow', key: 'object', principal: root, signal })).body)).equals(data), 'every byte reads back')

  const upload = await objects.createMultipartUpload({ bucket: 'slow', key: 'parts', principal: root, contentHeaders: {}, userMetadata: {}, tags: [] })
  const part = await objects.uploadPart({
    bucket: 'slow', key: 'parts', uploadId: upload.uploadId, partNumber: 1, principal: root, body: slowBody(setup, pieces), sizeBytes: data.length,
    digests: async () => ({ md5Hex: md5Hex(data) }), signal,
  })
  t.ok(part.etag.length > 0, 'the part committed')
  setup.store.clock.advance(graceMs * 5)
  await setup.chunkStore.collectGarbage()
  await objects.completeMultipartUpload({ bucket: 'slow', key: 'parts', uploadId: upload.uploadId, principal: root, parts: [{ partNumber: 1, etag: part.etag }], signal })
  t.ok((await collect((await objects.getObject({ bucket: 'slow', key: 'parts', principal: root, signal })).body)).equals(data), 'the completed upload reads back')
})
