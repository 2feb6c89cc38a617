// The built-in KMS and SSE-KMS under customer managed keys: key lifecycle (create, aliases,
// describe by id / ARN / alias, disable, enable, rotate), envelope encryption of each object's
// data key (a disabled key makes GET, ranges, copies and parts fail with KMS.DisabledException;
// enabling makes them readable again), rotation keeps old objects readable, bucket keys spare
// the KMS key one operation per object, the encryption context is bound, and no plaintext
// reaches the data dir.
import { createHash } from 'node:crypto'
import { readdirSync, readFileSync, statSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { currentKey, decodeVersion, type VersionRecord } from '../model/index.ts'
import type { EncryptionRequest } from './api.ts'
import { dataTestSetup, type DataTestSetup } from './lifecycle-testing.ts'
import { bodyOf, collect, digestsFor, randomBytesFrom } from './testing.ts'

const MiB = 1024 * 1024

async function putWith(setup: DataTestSetup, bucket: string, key: string, bytes: Buffer, encryption?: EncryptionRequest) {
  return setup.objects.putObject({ bucket, key, principal: setup.root, body: bodyOf(bytes, 7_777), sizeBytes: bytes.length, digests: digestsFor(bytes), contentHeaders: {}, userMetadata: {}, signal: setup.signal, ...(encryption === undefined ? {} : { encryption }) })
}

async function read(setup: DataTestSetup, bucket: string, key: string, range?: { first: number; last?: number }): Promise<Buffer> {
  const result = await setup.objects.getObject({ bucket, key, principal: setup.root, signal: setup.signal, ...(range === undefined ? {} : { range }) })
  return collect(result.body)
}

async function current(setup: DataTestSetup, bucketId: number, key: string): Promise<VersionRecord> {
  const stored = await setup.store.meta.read((tx) => tx.get(currentKey(bucketId, key)))
  if (stored === undefined) throw new Error('no such version')
  return decodeVersion(stored, 'test')
}

function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name)
    return statSync(path).isDirectory() ? filesUnder(path) : [path]
  })
}

async function plaintextVisible(setup: DataTestSetup, marker: Buffer): Promise<boolean> {
  if (filesUnder(setup.store.directory).some((path) => readFileSync(path).includes(marker))) return true
  const values = await setup.store.meta.read((tx) => tx.scan({ gte: Buffer.alloc(0), lt: Buffer.alloc(1, 0xff), limit: 10_000 }))
  return values.some((entry) => Buffer.from(entry.value).includes(marker))
}

function withMarker(seed: number, sizeBytes: number, marker: Buffer): Buffer {
  const bytes = randomBytesFrom(seed, sizeBytes)
  for (let at = 0; at + marker.length <= sizeBytes; at += 20_000) marker.copy(bytes, at)
  return bytes
}

const disabled = { code: 'INVALID_STATE', message: /^KMS\.DisabledException: arn:aws:kms:us-east-1:000000000000:key\/[0-9a-f-]{36} is disabled\.$/ }

t.test('key lifecycle: create, aliases, describe by id, ARN and alias, disable, enable, rotate', async (t) => {
  const setup = await dataTestSetup()
  t.teardown(() => setup.cleanup())
  const kms = setup.objects.kms
  const key = await kms.createKey({ description: 'reports', alias: 'reports' })
  t.match(key.keyId, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/, 'a key id is a v4 UUID')
  t.equal(key.arn, `arn:aws:kms:us-east-1:000000000000:key/${key.keyId}`)
  t.same(key.aliases, ['alias/reports'])
  t.equal(key.state, 'Enabled')
  t.equal(key.currentGeneration, 1)
  for (const reference of [key.keyId, key.arn, 'alias/reports', 'arn:aws:kms:us-east-1:000000000000:alias/reports']) {
    t.equal((await kms.describeKey(reference)).keyId, key.keyId, `describe by ${reference}`)
  }
  await t.rejects(kms.describeKey('alias/nope'), { code: 'NOT_FOUND', message: /^KMS\.NotFoundException: Alias arn:aws:kms:us-east-1:000000000000:alias\/nope is not found\.$/ })
  await t.rejects(kms.describeKey('00000000-0000-4000-8000-000000000000'), { code: 'NOT_FOUND', message: /^KMS\.NotFoundException: Key '.*' does not exist$/ })
  await t.rejects(kms.describeKey(key.arn.replace('us-east-1', 'eu-west-1')), { code: 'NOT_FOUND' }, 'an ARN of another region is not this key')
  await t.rejects(kms.describeKey('garbage'), { code: 'NOT_FOUND', message: /^KMS\.NotFoundException: Invalid keyId 'garbage'$/ })
  await t.rejects(kms.createKey({ alias: 'reports' }), { code: 'ALREADY_EXISTS' }, 'an alias names one key')
  await t.rejects(kms.createKey({ alias: 'aws/s3' }), { code: 'INVALID_ARGUMENT' }, 'alias/aws/ is reserved')
  await t.rejects(kms.createKey({ alias: 'bad alias' }), { code: 'INVALID_ARGUMENT' })
  const other = await kms.createKey()
  t.same(other.aliases, [])
  t.same((await kms.listKeys()).map((listed) => listed.keyId).sort(), [key.keyId, other.keyId].sort())

  t.equal((await kms.disableKey('alias/reports')).state, 'Disabled')
  t.equal((await kms.describeKey(key.keyId)).state, 'Disabled')
  await t.rejects(kms.rotateKey(key.keyId), disabled, 'a disabled key cannot rotate')
  t.equal((await kms.enableKey(key.arn)).state, 'Enabled')
  const rotated = await kms.rotateKey(key.keyId)
  t.equal(rotated.currentGeneration, 2)
  t.same(rotated.generations.map((generation) => generation.generation), [1, 2])
})

t.test('SSE-KMS with a customer key: envelope per object, disable makes data unreadable, enable restores it', async (t) => {
  const setup = await dataTestSetup()
  t.teardown(() => setup.cleanup())
  const { objects, root, signal } = setup
  await objects.createBucket(root, 'vault')
  const key = await objects.kms.createKey({ alias: 'vault' })
  const marker = Buffer.from('CAIRN-KMS-UNIT-MARKER-0b7d')
  const bytes = withMarker(1, 300_000, marker)
  await t.rejects(putWith(setup, 'vault', 'x', bytes, { algorithm: 'aws:kms', kmsKeyId: 'alias/missing' }), { code: 'NOT_FOUND', message: /^KMS\.NotFoundException: / })
  const put = await putWith(setup, 'vault', 'secret', bytes, { algorithm: 'aws:kms', kmsKeyId: 'alias/vault' })
  t.same(put.encryption, { kind: 'SSE-KMS', kmsKeyId: key.arn, bucketKeyEnabled: false }, 'the response names the key by its ARN')
  t.not(put.etag, `"${createHash('md5').update(bytes).digest('hex')}"`, 'the ETag is not the MD5 of the plaintext (as on AWS)')
  const record = await current(setup, 1, 'secret')
  t.equal(record.encryption?.kind === 'SSE-KMS' && record.encryption.envelope?.keyId, key.keyId, 'the record holds a wrapped data key of this key')
  t.same(await read(setup, 'vault', 'secret'), bytes)
  t.same(await read(setup, 'vault', 'secret', { first: 100_001, last: 250_000 }), bytes.subarray(100_001, 250_001), 'ranges decrypt')
  t.notOk(await plaintextVisible(setup, marker), 'the marker is in no pack file and no metadata value')
  await putWith(setup, 'vault', 'by-id', bytes, { algorithm: 'aws:kms', kmsKeyId: key.keyId })
  await putWith(setup, 'vault', 'by-arn', bytes, { algorithm: 'aws:kms', kmsKeyId: key.arn })

  await objects.kms.disableKey(key.keyId)
  await t.rejects(read(setup, 'vault', 'secret'), disabled, 'GET fails while the key is disabled')
  await t.rejects(read(setup, 'vault', 'secret', { first: 5, last: 9 }), disabled, 'a range GET fails too')
  const head = await objects.headObject({ bucket: 'vault', key: 'secret', principal: root, signal })
  t.equal(head.version.encryption?.kind, 'SSE-KMS', 'HEAD answers without the key (it decrypts nothing, as on AWS)')
  await t.rejects(putWith(setup, 'vault', 'new', bytes, { algorithm: 'aws:kms', kmsKeyId: key.keyId }), disabled, 'PUT with a disabled key fails')
  const copyInput = { source: { bucket: 'vault', key: 'secret' }, bucket: 'vault', principal: root, metadataDirective: 'COPY' as const, taggingDirective: 'COPY' as const, signal }
  await t.rejects(objects.copyObject({ ...copyInput, key: 'copy-plain' }), disabled, 'a copy that keeps the envelope checks the key')
  await t.rejects(objects.copyObject({ ...copyInput, key: 'copy-s3', encryption: { algorithm: 'AES256' } }), disabled, 'a copy that reads the source fails')

  await objects.kms.enableKey(key.keyId)
  t.same(await read(setup, 'vault', 'secret'), bytes, 'readable again once enabled')
  const kept = await objects.copyObject({ ...copyInput, key: 'copy-plain' })
  t.equal(kept.encryption?.kind, 'SSE-KMS', 'a copy without a target encryption keeps the source envelope')
  t.same(await read(setup, 'vault', 'copy-plain'), bytes)
  const s3 = await objects.copyObject({ ...copyInput, key: 'copy-s3', encryption: { algorithm: 'AES256' } })
  t.same(s3.encryption, { kind: 'SSE-S3' })
  t.same(await read(setup, 'vault', 'copy-s3'), bytes)
  const other = await objects.kms.createKey()
  const moved = await objects.copyObject({ ...copyInput, key: 'copy-other', encryption: { algorithm: 'aws:kms', kmsKeyId: other.keyId } })
  t.equal(moved.encryption?.kind === 'SSE-KMS' && moved.encryption.kmsKeyId, other.arn, 'copied under another key')
  await objects.kms.disableKey(key.keyId)
  t.same(await read(setup, 'vault', 'copy-other'), bytes, 'the copy depends on its own key only')
  t.notOk(await plaintextVisible(setup, marker), 'still no plaintext anywhere')
})

t.test('rotation: new objects use the new generation, old ones stay readable', async (t) => {
  const setup = await dataTestSetup()
  t.teardown(() => setup.cleanup())
  const { objects, root } = setup
  await objects.createBucket(root, 'rot')
  const key = await objects.kms.createKey()
  const before = randomBytesFrom(2, 50_000)
  const after = randomBytesFrom(3, 50_000)
  await putWith(setup, 'rot', 'before', before, { algorithm: 'aws:kms', kmsKeyId: key.keyId })
  await objects.kms.rotateKey(key.keyId)
  await putWith(setup, 'rot', 'after', after, { algorithm: 'aws:kms', kmsKeyId: key.keyId })
  const generation = async (name: string) => {
    const encryption = (await current(setup, 1, name)).encryption
    return encryption?.kind === 'SSE-KMS' ? encryption.envelope?.generation : undefined
  }
  t.equal(await generation('before'), 1)
  t.equal(await generation('after'), 2)
  t.same(await read(setup, 'rot', 'before'), before)
  t.same(await read(setup, 'rot', 'after'), after)
})

t.test('multipart upload under a customer key; a disabled key stops parts and reads', async (t) => {
  const setup = await dataTestSetup()
  t.teardown(() => setup.cleanup())
  const { objects, root, signal } = setup
  await objects.createBucket(root, 'mpu')
  const key = await objects.kms.createKey()
  const bytes = randomBytesFrom(4, 6 * MiB + 123)
  const upload = await objects.createMultipartUpload({ bucket: 'mpu', key: 'big', principal: root, contentHeaders: {}, userMetadata: {}, encryption: { algorithm: 'aws:kms', kmsKeyId: key.arn } })
  t.equal(upload.encryption?.kind === 'SSE-KMS' && upload.encryption.kmsKeyId, key.arn)
  const part = (partNumber: number, slice: Buffer) => objects.uploadPart({ bucket: 'mpu', key: 'big', uploadId: upload.uploadId, partNumber, principal: root, body: bodyOf(slice, 65_536), sizeBytes: slice.length, digests: digestsFor(slice), signal })
  const first = await part(1, bytes.subarray(0, 5 * MiB))
  await objects.kms.disableKey(key.keyId)
  await t.rejects(part(2, bytes.subarray(5 * MiB)), disabled, 'UploadPart needs the key')
  await objects.kms.enableKey(key.keyId)
  const second = await part(2, bytes.subarray(5 * MiB))
  await objects.completeMultipartUpload({ bucket: 'mpu', key: 'big', uploadId: upload.uploadId, principal: root, parts: [{ partNumber: 1, etag: first.etag }, { partNumber: 2, etag: second.etag }], signal })
  t.same(await read(setup, 'mpu', 'big'), bytes)
  t.same(await read(setup, 'mpu', 'big', { first: 5 * MiB - 10, last: 5 * MiB + 10 }), bytes.subarray(5 * MiB - 10, 5 * MiB + 11), 'a range across the part boundary decrypts')
  const partTwo = await objects.getObject({ bucket: 'mpu', key: 'big', principal: root, signal, partNumber: 2 })
  t.same(await collect(partTwo.body), bytes.subarray(5 * MiB))
  await objects.kms.disableKey(key.keyId)
  await t.rejects(read(setup, 'mpu', 'big'), disabled)
})

t.test('bucket keys: one KMS-key operation per bucket key, not per object; reported and still gated by the key state', async (t) => {
  const setup = await dataTestSetup()
  t.teardown(() => setup.cleanup())
  const { objects, root, signal } = setup
  await objects.createBucket(root, 'bkt')
  const key = await objects.kms.createKey()
  await objects.putBucketEncryption(root, 'bkt', { algorithm: 'aws:kms', kmsKeyId: key.keyId, bucketKeyEnabled: true })
  t.same(await objects.getBucketEncryption(root, 'bkt'), { algorithm: 'aws:kms', kmsKeyId: key.keyId, bucketKeyEnabled: true }, 'the key id is kept as given')
  const bytes = randomBytesFrom(5, 10_000)
  const start = objects.kms.keyOperations
  for (let index = 0; index < 10; index++) {
    const put = await putWith(setup, 'bkt', `o${index}`, bytes)
    t.same(put.encryption, { kind: 'SSE-KMS', kmsKeyId: key.arn, bucketKeyEnabled: true })
  }
  for (let index = 0; index < 10; index++) t.same(await read(setup, 'bkt', `o${index}`), bytes)
  t.equal(objects.kms.keyOperations - start, 1, 'ten objects written and read with one KMS-key operation (the bucket key)')
  const record = await current(setup, 1, 'o0')
  t.equal(record.encryption?.kind === 'SSE-KMS' && record.encryption.envelope?.bucketKey, 1, 'the data key is wrapped by the bucket key')

  const plainStart = objects.kms.keyOperations
  await putWith(setup, 'bkt', 'direct', bytes, { algorithm: 'aws:kms', kmsKeyId: key.keyId, bucketKeyEnabled: false })
  await read(setup, 'bkt', 'direct')
  t.equal(objects.kms.keyOperations - plainStart, 2, 'without a bucket key every object wraps and unwraps with the KMS key')

  await objects.kms.disableKey(key.keyId)
  await t.rejects(read(setup, 'bkt', 'o3'), disabled, 'a cached bucket key does not outlive the key state')
  await t.rejects(putWith(setup, 'bkt', 'late', bytes), disabled, 'the bucket default with a disabled key refuses writes')
  await objects.kms.enableKey(key.keyId)
  await objects.kms.rotateKey(key.keyId)
  await putWith(setup, 'bkt', 'rotated', bytes)
  t.same(await read(setup, 'bkt', 'o3'), bytes)
  t.same(await read(setup, 'bkt', 'rotated'), bytes)
  const head = await objects.headObject({ bucket: 'bkt', key: 'rotated', principal: root, signal })
  t.same(head.version.encryption, { kind: 'SSE-KMS', kmsKeyId: key.arn, bucketKeyEnabled: true })
})

t.test('encryption context: stored, reported on PUT, bound to the data key', async (t) => {
  const setup = await dataTestSetup()
  t.teardown(() => setup.cleanup())
  const { objects, root } = setup
  await objects.createBucket(root, 'ctx')
  const key = await objects.kms.createKey()
  const context = JSON.stringify({ department: 'finance', project: 'q3' })
  const bytes = randomBytesFrom(6, 5_000)
  const put = await putWith(setup, 'ctx', 'doc', bytes, { algorithm: 'aws:kms', kmsKeyId: key.keyId, context })
  t.same(put.encryption, { kind: 'SSE-KMS', kmsKeyId: key.arn, bucketKeyEnabled: false, context })
  t.same(await read(setup, 'ctx', 'doc'), bytes)
  // Tamper with the stored context: the data key no longer unwraps.
  const recordKey = currentKey(1, 'doc')
  await setup.store.meta.transact(async (tx) => {
    const stored = await tx.get(recordKey)
    if (stored === undefined) throw new Error('missing')
    tx.put(recordKey, Buffer.from(Buffer.from(stored).toString('latin1').replace('finance', 'fanance'), 'latin1'))
  })
  await t.rejects(read(setup, 'ctx', 'doc'), { code: 'KEY_UNAVAILABLE' }, 'a changed context does not open the data key')
  await t.rejects(putWith(setup, 'ctx', 'bad', bytes, { algorithm: 'AES256', context }), { code: 'INVALID_ARGUMENT' }, 'a context needs aws:kms')
  await t.rejects(putWith(setup, 'ctx', 'bad', bytes, { algorithm: 'aws:kms', context: '[1]' }), { code: 'INVALID_ARGUMENT' })
})
