// Server-side encryption in the objects layer: bucket default encryption, SSE-S3 and SSE-KMS in
// the bucket's key domain (never inline, never plaintext on disk), SSE-C with a key Cairn does
// not keep (missing key 400, wrong key 403, ranges and parts decrypt), and the copy matrix.
import { createHash } from 'node:crypto'
import { readdirSync, readFileSync, statSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { chunkIdHex } from '../lib/index.ts'
import { currentKey, decodeVersion, type VersionRecord } from '../model/index.ts'
import type { CopyObjectInput, EncryptionRequest } from './api.ts'
import { dataTestSetup, type DataTestSetup } from './lifecycle-testing.ts'
import { chunkBatchesOf } from './storage-class.ts'
import { bodyOf, collect, digestsFor, randomBytesFrom } from './testing.ts'

const keyA = createHash('sha256').update('customer key A').digest()
const keyB = createHash('sha256').update('customer key B').digest()

function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name)
    return statSync(path).isDirectory() ? filesUnder(path) : [path]
  })
}

/** Whether the marker appears in any pack file or any metadata value. */
async function plaintextVisible(setup: DataTestSetup, marker: Buffer): Promise<boolean> {
  if (filesUnder(setup.store.directory).some((path) => readFileSync(path).includes(marker))) return true
  const values = await setup.store.meta.read((tx) => tx.scan({ gte: Buffer.alloc(0), lt: Buffer.alloc(1, 0xff), limit: 10_000 }))
  return values.some((entry) => Buffer.from(entry.value).includes(marker))
}

async function putWith(setup: DataTestSetup, bucket: string, key: string, bytes: Buffer, encryption?: EncryptionRequest) {
  return setup.objects.putObject({ bucket, key, principal: setup.root, body: bodyOf(bytes, 7_777), sizeBytes: bytes.length, digests: digestsFor(bytes), contentHeaders: {}, userMetadata: {}, signal: setup.signal, ...(encryption === undefined ? {} : { encryption }) })
}

async function read(setup: DataTestSetup, bucket: string, key: string, options: { customerKey?: Buffer; range?: { first: number; last?: number } } = {}): Promise<Buffer> {
  const result = await setup.objects.getObject({ bucket, key, principal: setup.root, signal: setup.signal, ...options })
  return collect(result.body)
}

async function current(setup: DataTestSetup, bucketId: number, key: string): Promise<VersionRecord> {
  const stored = await setup.store.meta.read((tx) => tx.get(currentKey(bucketId, key)))
  if (stored === undefined) throw new Error('no such version')
  return decodeVersion(stored, 'test')
}

function withMarker(seed: number, sizeBytes: number, marker: Buffer): Buffer {
  const bytes = randomBytesFrom(seed, sizeBytes)
  for (let at = 0; at + marker.length <= sizeBytes; at += 20_000) marker.copy(bytes, at)
  return bytes
}

t.test('bucket default encryption: put, get, delete', async (t) => {
  const setup = await dataTestSetup()
  t.teardown(() => setup.cleanup())
  const { objects, root } = setup
  await objects.createBucket(root, 'enc')
  await t.rejects(objects.getBucketEncryption(root, 'enc'), { code: 'NOT_FOUND', message: /^ServerSideEncryptionConfigurationNotFoundError: / })
  await objects.putBucketEncryption(root, 'enc', { algorithm: 'aws:kms', bucketKeyEnabled: true })
  t.same(await objects.getBucketEncryption(root, 'enc'), { algorithm: 'aws:kms', kmsKeyId: 'arn:aws:kms:us-east-1:000000000000:alias/aws/s3', bucketKeyEnabled: true })
  await t.rejects(objects.putBucketEncryption(root, 'enc', { algorithm: 'aws:kms', kmsKeyId: 'arn:aws:kms:us-east-1:1:key/other', bucketKeyEnabled: false }), { code: 'NOT_FOUND', message: /^KMS\.NotFoundException: / })
  await objects.putBucketEncryption(root, 'enc', { algorithm: 'AES256', bucketKeyEnabled: false })
  const result = await putWith(setup, 'enc', 'small', Buffer.from('tiny secret'))
  t.same(result.encryption, { kind: 'SSE-S3' }, 'the default applies to a PUT without headers')
  t.equal((await current(setup, 1, 'small')).data.kind, 'chunks', 'even a tiny SSE object is a sealed chunk, not inline metadata')
  await objects.deleteBucketEncryption(root, 'enc')
  await t.rejects(objects.getBucketEncryption(root, 'enc'), { code: 'NOT_FOUND' })
  t.equal((await putWith(setup, 'enc', 'after', Buffer.from('plain'))).encryption, undefined)
  t.same(await read(setup, 'enc', 'small'), Buffer.from('tiny secret'), 'objects written under the old default still read')
})

t.test('SSE-S3 and SSE-KMS seal chunks in the bucket domain: no plaintext on disk, dedup only inside a bucket', async (t) => {
  const setup = await dataTestSetup()
  t.teardown(() => setup.cleanup())
  const { objects, root, signal } = setup
  const marker = Buffer.from('CAIRN-PLAINTEXT-MARKER-7f3a')
  await objects.createBucket(root, 'one')
  await objects.createBucket(root, 'two')
  const bytes = withMarker(1, 150_000, marker)
  t.same((await putWith(setup, 'one', 'a', bytes, { algorithm: 'AES256' })).encryption, { kind: 'SSE-S3' })
  const kms = await putWith(setup, 'two', 'a', bytes, { algorithm: 'aws:kms' })
  t.same(kms.encryption, { kind: 'SSE-KMS', kmsKeyId: 'arn:aws:kms:us-east-1:000000000000:alias/aws/s3', bucketKeyEnabled: false })
  await putWith(setup, 'one', 'small', marker, { algorithm: 'AES256' })
  t.same(await read(setup, 'one', 'a'), bytes)
  t.same(await read(setup, 'two', 'a', { range: { first: 70_000, last: 90_000 } }), bytes.subarray(70_000, 90_001))
  t.same((await objects.headObject({ bucket: 'two', key: 'a', principal: root, signal })).version.encryption, kms.encryption)
  t.notOk(await plaintextVisible(setup, marker), 'the marker is in no pack file and no metadata value')
  const idsOf = async (bucketId: number) => {
    const ids: string[] = []
    for await (const batch of chunkBatchesOf(setup.store.meta, await current(setup, bucketId, 'a'))) ids.push(...batch.map(chunkIdHex))
    return ids
  }
  const [first, second] = [await idsOf(1), await idsOf(2)]
  t.ok(first.every((id) => !second.includes(id)), 'equal data in two buckets has different chunk ids (separate domains)')
  await putWith(setup, 'one', 'again', bytes, { algorithm: 'AES256' })
  t.ok(setup.chunkStore.stats().dedupHits > 0, 'equal data inside one bucket dedups')
  await t.rejects(putWith(setup, 'one', 'bad', bytes, { algorithm: 'aws:kms', kmsKeyId: 'not-ours' }), { code: 'NOT_FOUND', message: /^KMS\.NotFoundException: / })
  await t.rejects(putWith(setup, 'one', 'bad', bytes, { algorithm: 'AES128' as 'AES256' }), { message: /^InvalidEncryptionAlgorithmError: / })
})

t.test('SSE-C: the key is needed for GET and HEAD, a wrong key is refused, ranges decrypt', async (t) => {
  const setup = await dataTestSetup()
  t.teardown(() => setup.cleanup())
  const { objects, root, signal } = setup
  const marker = Buffer.from('CAIRN-SSE-C-MARKER-19d2')
  await objects.createBucket(root, 'cust')
  const bytes = withMarker(2, 300_000, marker)
  t.same((await putWith(setup, 'cust', 'obj', bytes, { customerKey: keyA })).encryption, { kind: 'SSE-C' })
  await putWith(setup, 'cust', 'tiny', marker, { customerKey: keyA })
  await t.rejects(read(setup, 'cust', 'obj'), { code: 'INVALID_ARGUMENT', message: /^InvalidRequest: / }, 'no key: 400')
  await t.rejects(read(setup, 'cust', 'obj', { customerKey: keyB }), { code: 'ACCESS_DENIED' }, 'wrong key: 403')
  await t.rejects(objects.headObject({ bucket: 'cust', key: 'obj', principal: root, signal }), { code: 'INVALID_ARGUMENT' }, 'HEAD needs the key too')
  t.same(await read(setup, 'cust', 'obj', { customerKey: keyA }), bytes)
  t.same(await read(setup, 'cust', 'tiny', { customerKey: keyA }), marker)
  for (const [first, last] of [[0, 0], [15, 16], [33_333, 200_001], [299_990, 299_999]] as const) {
    t.same(await read(setup, 'cust', 'obj', { customerKey: keyA, range: { first, last } }), bytes.subarray(first, last + 1), `range ${first}-${last}`)
  }
  t.notOk(await plaintextVisible(setup, marker), 'no plaintext stored, inline or chunked')
  t.notOk(await plaintextVisible(setup, keyA), 'the key itself is not stored')
  await putWith(setup, 'cust', 'plain', Buffer.from('plain'))
  await t.rejects(read(setup, 'cust', 'plain', { customerKey: keyA }), { message: /^InvalidRequest: / }, 'a key for a plain object is refused')
})

t.test('SSE-C and SSE-S3 multipart uploads', async (t) => {
  const setup = await dataTestSetup()
  t.teardown(() => setup.cleanup())
  const { objects, root, signal } = setup
  await objects.createBucket(root, 'mpu')
  for (const encryption of [{ customerKey: keyA }, { algorithm: 'AES256' as const }]) {
    const key = encryption.customerKey === undefined ? 'sse-s3' : 'sse-c'
    const upload = await objects.createMultipartUpload({ bucket: 'mpu', key, principal: root, contentHeaders: {}, userMetadata: {}, encryption })
    const parts = [randomBytesFrom(10, 5 * 1024 * 1024), randomBytesFrom(11, 100_000)]
    const customerKey = encryption.customerKey === undefined ? {} : { customerKey: keyA }
    const etags: string[] = []
    for (const [index, part] of parts.entries()) {
      const info = await objects.uploadPart({ bucket: 'mpu', key, uploadId: upload.uploadId, partNumber: index + 1, principal: root, body: bodyOf(part), sizeBytes: part.length, digests: digestsFor(part), signal, ...customerKey })
      etags.push(info.etag)
    }
    if (encryption.customerKey !== undefined) {
      const part = Buffer.from('x')
      await t.rejects(objects.uploadPart({ bucket: 'mpu', key, uploadId: upload.uploadId, partNumber: 3, principal: root, body: bodyOf(part), sizeBytes: 1, digests: digestsFor(part), signal, customerKey: keyB }), { code: 'ACCESS_DENIED' }, 'a part with another key')
    }
    const done = await objects.completeMultipartUpload({ bucket: 'mpu', key, uploadId: upload.uploadId, principal: root, parts: etags.map((etag, at) => ({ partNumber: at + 1, etag })), signal })
    t.ok(done.encryption !== undefined, `${key}: the completed object is encrypted`)
    const whole = Buffer.concat(parts)
    t.same(await read(setup, 'mpu', key, customerKey), whole, `${key}: reads back`)
    const first = 5 * 1024 * 1024 - 10
    t.same(await read(setup, 'mpu', key, { ...customerKey, range: { first, last: first + 20 } }), whole.subarray(first, first + 21), `${key}: a range across the part boundary`)
  }
})

t.test('copies across every combination of source and target encryption', async (t) => {
  const setup = await dataTestSetup()
  t.teardown(() => setup.cleanup())
  const { objects, root, signal } = setup
  await objects.createBucket(root, 'src')
  await objects.createBucket(root, 'dst')
  const bytes = randomBytesFrom(30, 120_000)
  const sources: Record<string, EncryptionRequest | undefined> = { plain: undefined, s3: { algorithm: 'AES256' }, kms: { algorithm: 'aws:kms' }, c: { customerKey: keyA } }
  const targets: Record<string, EncryptionRequest | undefined> = { plain: undefined, s3: { algorithm: 'AES256' }, kms: { algorithm: 'aws:kms' }, c: { customerKey: keyB } }
  const sourceEtags = new Map<string, string>()
  for (const [name, encryption] of Object.entries(sources)) sourceEtags.set(name, (await putWith(setup, 'src', name, bytes, encryption)).etag)
  const md5Etag = `"${createHash('md5').update(bytes).digest('hex')}"`
  for (const [sourceName, sourceEncryption] of Object.entries(sources)) {
    for (const [targetName, targetEncryption] of Object.entries(targets)) {
      const key = `${sourceName}-to-${targetName}`
      const input: CopyObjectInput = {
        source: { bucket: 'src', key: sourceName, ...(sourceEncryption?.customerKey === undefined ? {} : { customerKey: keyA }) },
        bucket: 'dst', key, principal: root, metadataDirective: 'COPY', taggingDirective: 'COPY', signal,
        ...(targetEncryption === undefined ? {} : { encryption: targetEncryption }),
      }
      const result = await objects.copyObject(input)
      const expectedKind = targetName === 'c' ? 'SSE-C' : targetName === 's3' ? 'SSE-S3' : targetName === 'kms' ? 'SSE-KMS' : sourceName === 's3' ? 'SSE-S3' : sourceName === 'kms' ? 'SSE-KMS' : undefined
      t.equal(result.encryption?.kind, expectedKind, `${key}: encryption`)
      if (targetName === 'kms' || targetName === 'c') t.not(result.etag, md5Etag, `${key}: an SSE-KMS / SSE-C ETag is not the MD5 (as on AWS)`)
      else if (sourceName === 'kms') t.equal(result.etag, sourceEtags.get(sourceName), `${key}: a reference copy keeps the source's ETag`)
      else t.equal(result.etag, md5Etag, `${key}: ETag is the MD5`)
      t.same(await read(setup, 'dst', key, targetName === 'c' ? { customerKey: keyB } : {}), bytes, `${key}: reads back`)
    }
  }
  await t.rejects(objects.copyObject({ source: { bucket: 'src', key: 'c' }, bucket: 'dst', key: 'x', principal: root, metadataDirective: 'COPY', taggingDirective: 'COPY', signal }), { code: 'INVALID_ARGUMENT' }, 'an SSE-C source needs its key')
  // Re-encrypting an object in place is a legal self-copy.
  await objects.copyObject({ source: { bucket: 'src', key: 'plain' }, bucket: 'src', key: 'plain', principal: root, metadataDirective: 'COPY', taggingDirective: 'COPY', encryption: { algorithm: 'AES256' }, signal })
  t.same((await objects.headObject({ bucket: 'src', key: 'plain', principal: root, signal })).version.encryption, { kind: 'SSE-S3' })
})

t.test('UploadPartCopy from an SSE-C source into an SSE-S3 upload re-encrypts', async (t) => {
  const setup = await dataTestSetup()
  t.teardown(() => setup.cleanup())
  const { objects, root, signal } = setup
  await objects.createBucket(root, 'pcopy')
  const bytes = randomBytesFrom(40, 6 * 1024 * 1024)
  await putWith(setup, 'pcopy', 'source', bytes, { customerKey: keyA })
  const upload = await objects.createMultipartUpload({ bucket: 'pcopy', key: 'target', principal: root, contentHeaders: {}, userMetadata: {}, encryption: { algorithm: 'AES256' } })
  const first = await objects.uploadPartCopy({ bucket: 'pcopy', key: 'target', uploadId: upload.uploadId, partNumber: 1, principal: root, source: { bucket: 'pcopy', key: 'source', customerKey: keyA, range: { first: 0, last: 5 * 1024 * 1024 - 1 } }, signal })
  const second = await objects.uploadPartCopy({ bucket: 'pcopy', key: 'target', uploadId: upload.uploadId, partNumber: 2, principal: root, source: { bucket: 'pcopy', key: 'source', customerKey: keyA, range: { first: 5 * 1024 * 1024, last: bytes.length - 1 } }, signal })
  await objects.completeMultipartUpload({ bucket: 'pcopy', key: 'target', uploadId: upload.uploadId, principal: root, parts: [{ partNumber: 1, etag: first.etag }, { partNumber: 2, etag: second.etag }], signal })
  t.same(await read(setup, 'pcopy', 'target'), bytes)
  t.same((await objects.headObject({ bucket: 'pcopy', key: 'target', principal: root, signal })).version.encryption, { kind: 'SSE-S3' })
})
