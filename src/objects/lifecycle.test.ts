// Lifecycle configurations (validation, put/get/delete) and the worker applying them on a
// manual clock with a one-second day: expiration (unversioned, enabled, suspended), expired
// delete markers, noncurrent expiration with NewerNoncurrentVersions, transitions, uploads,
// filters, x-amz-expiration, resumable passes, space coming back after GC.
import t from 'tap'
import type { LifecycleConfiguration, LifecycleRule } from './api.ts'
import { dataTestSetup, put, testDayMs, type DataTestSetup } from './lifecycle-testing.ts'
import { bodyOf, digestsFor, randomBytesFrom, referencedChunks } from './testing.ts'

const rule = (fields: Partial<LifecycleRule>): LifecycleRule => ({ id: 'r', enabled: true, filter: { kind: 'empty' }, transitions: [], noncurrentTransitions: [], ...fields })
const config = (...rules: LifecycleRule[]): LifecycleConfiguration => ({ rules })

async function keys(setup: DataTestSetup, bucket: string): Promise<string[]> {
  return (await setup.objects.listObjects({ bucket, principal: setup.root, maxKeys: 1000 })).contents.map((entry) => entry.key)
}

async function versions(setup: DataTestSetup, bucket: string) {
  return (await setup.objects.listObjectVersions({ bucket, principal: setup.root, maxKeys: 1000 })).versions
}

async function runUntilIdle(setup: DataTestSetup): Promise<void> {
  // Each tick is one due step and one lifecycle step; a pass over a small bucket takes a few.
  // The clock moves 1 ms per tick so that a new pass may start (the interval is 1 ms here).
  for (let tick = 0; tick < 20; tick++) {
    setup.clock.advance(1)
    await setup.objects.runBackgroundNow()
  }
}

t.test('validation answers with AWS codes', async (t) => {
  const setup = await dataTestSetup()
  t.teardown(() => setup.cleanup())
  await setup.objects.createBucket(setup.root, 'valid')
  const cases: Array<[string, LifecycleConfiguration, RegExp]> = [
    ['no rules', config(), /^MalformedXML: /],
    ['no action', config(rule({})), /^InvalidRequest: At least one action/],
    ['duplicate ids', config(rule({ expiration: { days: 1 } }), rule({ expiration: { days: 2 } })), /^InvalidArgument: Rule ID must be unique/],
    ['long id', config(rule({ id: 'x'.repeat(256), expiration: { days: 1 } })), /^InvalidArgument: ID length/],
    ['days 0', config(rule({ expiration: { days: 0 } })), /^InvalidArgument: /],
    ['date not midnight', config(rule({ expiration: { dateMs: Date.UTC(2030, 0, 1, 12) } })), /^InvalidArgument: 'Date' must be at midnight GMT/],
    ['days and marker', config(rule({ expiration: { days: 1, expiredObjectDeleteMarker: true } })), /^MalformedXML: /],
    ['IA before 30 days', config(rule({ transitions: [{ days: 10, storageClass: 'STANDARD_IA' }] })), /^InvalidArgument: 'Days' in Transition action must be greater than or equal to 30/],
    ['warmer later', config(rule({ transitions: [{ days: 30, storageClass: 'GLACIER' }, { days: 60, storageClass: 'STANDARD_IA' }] })), /^InvalidArgument: /],
    ['IA then glacier too soon', config(rule({ transitions: [{ days: 30, storageClass: 'STANDARD_IA' }, { days: 40, storageClass: 'GLACIER' }] })), /^InvalidArgument: .*at least 30 days/],
    ['same class twice', config(rule({ transitions: [{ days: 1, storageClass: 'GLACIER' }, { days: 5, storageClass: 'GLACIER' }] })), /^InvalidArgument: 'StorageClass' must be different/],
    ['expiration before transition', config(rule({ expiration: { days: 5 }, transitions: [{ days: 10, storageClass: 'GLACIER' }] })), /^InvalidArgument: 'Days' in the Expiration action/],
    ['mixed date and days', config(rule({ expiration: { dateMs: Date.UTC(2031, 0, 1) }, transitions: [{ days: 10, storageClass: 'GLACIER' }] })), /^InvalidRequest: Found mixed 'Date' and 'Days'/],
    ['marker with tag filter', config(rule({ filter: { kind: 'tag', tag: { key: 'a', value: 'b' } }, expiration: { expiredObjectDeleteMarker: true } })), /^InvalidRequest: /],
    ['abort with tag filter', config(rule({ filter: { kind: 'tag', tag: { key: 'a', value: 'b' } }, abortIncompleteUploadDays: 1 })), /^InvalidRequest: Tag-based filter/],
    ['and with one predicate', config(rule({ filter: { kind: 'and', prefix: 'x', tags: [] }, expiration: { days: 1 } })), /^MalformedXML: /],
    ['size bounds crossed', config(rule({ filter: { kind: 'and', tags: [], sizeGreaterThanBytes: 10, sizeLessThanBytes: 5 }, expiration: { days: 1 } })), /^InvalidRequest: /],
    ['newer noncurrent 0', config(rule({ noncurrentExpiration: { noncurrentDays: 1, newerNoncurrentVersions: 0 } })), /^InvalidArgument: /],
    ['noncurrent transition after expiration', config(rule({ noncurrentExpiration: { noncurrentDays: 5 }, noncurrentTransitions: [{ noncurrentDays: 10, storageClass: 'GLACIER' }] })), /^InvalidArgument: /],
  ]
  for (const [name, bad, message] of cases) {
    await t.rejects(setup.objects.putBucketLifecycle(setup.root, 'valid', bad), { code: 'INVALID_ARGUMENT', message }, name)
  }
  const many = config(...Array.from({ length: 1001 }, (_, at) => rule({ id: `r${at}`, expiration: { days: 1 } })))
  await t.rejects(setup.objects.putBucketLifecycle(setup.root, 'valid', many), { message: /^MalformedXML: / }, '1,001 rules')
  await setup.objects.putBucketLifecycle(setup.root, 'valid', config(...many.rules.slice(0, 1000)))
  t.equal((await setup.objects.getBucketLifecycle(setup.root, 'valid')).rules.length, 1000, '1,000 rules are fine')
})

t.test('put, get, delete; missing IDs are generated', async (t) => {
  const setup = await dataTestSetup()
  t.teardown(() => setup.cleanup())
  await setup.objects.createBucket(setup.root, 'conf')
  await t.rejects(setup.objects.getBucketLifecycle(setup.root, 'conf'), { code: 'NOT_FOUND', message: /^NoSuchLifecycleConfiguration: / })
  const stored = config(
    rule({ id: '', filter: { kind: 'prefix', prefix: 'logs/' }, expiration: { days: 30 }, transitions: [{ days: 0, storageClass: 'GLACIER' }] }),
    rule({ id: 'versions', enabled: false, filter: { kind: 'and', prefix: 'v/', tags: [{ key: 'k', value: 'v' }], sizeGreaterThanBytes: 1 }, noncurrentExpiration: { noncurrentDays: 3, newerNoncurrentVersions: 2 } }),
  )
  await setup.objects.putBucketLifecycle(setup.root, 'conf', stored)
  const read = await setup.objects.getBucketLifecycle(setup.root, 'conf')
  t.match(read.rules[0]?.id, /^[A-Za-z0-9_-]{40,}$/, 'an ID was generated')
  t.same(read.rules.map((entry) => ({ ...entry, id: entry.id === 'versions' ? 'versions' : '' })), stored.rules, 'everything else round-trips')
  await setup.objects.deleteBucketLifecycle(setup.root, 'conf')
  await t.rejects(setup.objects.getBucketLifecycle(setup.root, 'conf'), { code: 'NOT_FOUND' })
  await setup.objects.deleteBucketLifecycle(setup.root, 'conf') // deleting none is fine
})

t.test('expiration in an unversioned bucket removes objects; x-amz-expiration tells when', async (t) => {
  const setup = await dataTestSetup()
  t.teardown(() => setup.cleanup())
  const { objects, root, signal, clock } = setup
  await objects.createBucket(root, 'plain')
  await objects.putBucketLifecycle(root, 'plain', config(rule({ id: 'tmp', filter: { kind: 'prefix', prefix: 'tmp/' }, expiration: { days: 2 } })))
  const result = await put(setup, 'plain', 'tmp/a', randomBytesFrom(1, 50_000))
  t.same(result.expiration, { expiryMs: clock.nowMs() + 2 * testDayMs, ruleId: 'tmp' }, 'PUT reports the expiration')
  await put(setup, 'plain', 'keep/b', Buffer.from('kept'))
  const head = await objects.headObject({ bucket: 'plain', key: 'tmp/a', principal: root, signal })
  t.same(head.version.expiration, { expiryMs: head.version.lastModifiedMs + 2 * testDayMs, ruleId: 'tmp' })
  t.equal((await objects.headObject({ bucket: 'plain', key: 'keep/b', principal: root, signal })).version.expiration, undefined)
  const referencedBefore = await referencedChunks(setup.store.meta)
  clock.advance(testDayMs)
  await runUntilIdle(setup)
  t.same(await keys(setup, 'plain'), ['keep/b', 'tmp/a'], 'not yet')
  clock.advance(testDayMs)
  await runUntilIdle(setup)
  t.same(await keys(setup, 'plain'), ['keep/b'], 'expired after 2 days')
  t.ok((await referencedChunks(setup.store.meta)) < referencedBefore, 'the references went with it')
  clock.advance(10_000)
  const gc = await setup.chunkStore.collectGarbage()
  t.ok(gc.collectedChunks > 0, 'GC collects the expired data')
})

t.test('versioned buckets: expiration adds a marker, noncurrent versions go by age and count, lone markers go', async (t) => {
  const setup = await dataTestSetup()
  t.teardown(() => setup.cleanup())
  const { objects, root, clock } = setup
  await objects.createBucket(root, 'vers')
  await objects.putBucketVersioning(root, 'vers', 'Enabled')
  await objects.putBucketLifecycle(root, 'vers', config(
    rule({ id: 'current', expiration: { days: 3 } }),
    rule({ id: 'noncurrent', noncurrentExpiration: { noncurrentDays: 2, newerNoncurrentVersions: 1 } }),
    rule({ id: 'markers', expiration: { expiredObjectDeleteMarker: true } }),
  ))
  await put(setup, 'vers', 'k', Buffer.from('v1'))
  clock.advance(testDayMs)
  await put(setup, 'vers', 'k', Buffer.from('v2')) // v1 noncurrent from now
  clock.advance(testDayMs)
  await put(setup, 'vers', 'k', Buffer.from('v3')) // v2 noncurrent from now; v1 is the 2nd newest noncurrent
  clock.advance(testDayMs + 1)
  await runUntilIdle(setup)
  // v1: noncurrent for 2 days, and one newer noncurrent version (v2) is kept: removed.
  t.same((await versions(setup, 'vers')).map((version) => version.sizeBytes), [2, 2], 'v1 went, v2 (the one kept) and v3 stay')
  clock.advance(2 * testDayMs)
  await runUntilIdle(setup)
  const after = await versions(setup, 'vers')
  // v3 expired (3 days): a delete marker on top; v2, noncurrent for 3 days behind a newer
  // noncurrent version (v3), went in the next pass.
  t.same(after.map((version) => [version.isDeleteMarker, version.sizeBytes]), [[true, 0], [false, 2]], 'a delete marker over v3')
  t.same(await keys(setup, 'vers'), [], 'the key is gone from listings')
  clock.advance(10 * testDayMs)
  await runUntilIdle(setup)
  t.same((await versions(setup, 'vers')).map((version) => version.isDeleteMarker), [true, false], 'v3 stays: the one newest noncurrent version kept')

  // A delete marker whose versions all expired is removed too (ExpiredObjectDeleteMarker).
  await objects.putBucketLifecycle(root, 'vers', config(rule({ id: 'all', noncurrentExpiration: { noncurrentDays: 1 } }), rule({ id: 'markers', expiration: { expiredObjectDeleteMarker: true } })))
  clock.advance(testDayMs)
  await runUntilIdle(setup)
  t.same(await versions(setup, 'vers'), [], 'noncurrent versions expired, then the lone marker')
})

t.test('suspended buckets: expiration writes the null marker, replacing the null version', async (t) => {
  const setup = await dataTestSetup()
  t.teardown(() => setup.cleanup())
  const { objects, root, clock } = setup
  await objects.createBucket(root, 'susp')
  await objects.putBucketVersioning(root, 'susp', 'Enabled')
  await put(setup, 'susp', 'k', Buffer.from('versioned'))
  await objects.putBucketVersioning(root, 'susp', 'Suspended')
  await put(setup, 'susp', 'k', Buffer.from('null version'))
  await objects.putBucketLifecycle(root, 'susp', config(rule({ expiration: { days: 1 } })))
  clock.advance(testDayMs + 1)
  await runUntilIdle(setup)
  const after = await versions(setup, 'susp')
  t.same(after.map((version) => [version.versionId === 'null', version.isDeleteMarker]), [[true, true], [false, false]], 'a null delete marker replaced the null version')
})

t.test('transitions: by days to GLACIER (chunks go cold), small objects stay unless the rule filters by size', async (t) => {
  const setup = await dataTestSetup()
  t.teardown(() => setup.cleanup())
  const { objects, root, signal, clock } = setup
  await objects.createBucket(root, 'trans')
  await objects.putBucketLifecycle(root, 'trans', config(
    rule({ id: 'big', filter: { kind: 'prefix', prefix: 'big/' }, transitions: [{ days: 1, storageClass: 'GLACIER_IR' }, { days: 3, storageClass: 'GLACIER' }] }),
    rule({ id: 'small', filter: { kind: 'and', prefix: 'small/', tags: [], sizeGreaterThanBytes: 0 }, transitions: [{ days: 1, storageClass: 'DEEP_ARCHIVE' }] }),
  ))
  await put(setup, 'trans', 'big/a', randomBytesFrom(5, 200 * 1024))
  await put(setup, 'trans', 'big/tiny', Buffer.from('tiny'))
  await put(setup, 'trans', 'small/x', Buffer.from('small but filtered by size'))
  const classOf = async (key: string) => (await objects.headObject({ bucket: 'trans', key, principal: root, signal })).version.storageClass
  clock.advance(testDayMs + 1)
  await runUntilIdle(setup)
  t.equal(await classOf('big/a'), 'GLACIER_IR')
  t.equal(await classOf('big/tiny'), 'STANDARD', 'objects under 128 KiB are not transitioned by default')
  t.equal(await classOf('small/x'), 'DEEP_ARCHIVE', 'a size filter lifts that default')
  clock.advance(2 * testDayMs)
  await runUntilIdle(setup)
  t.equal(await classOf('big/a'), 'GLACIER')
  await t.rejects(objects.getObject({ bucket: 'trans', key: 'big/a', principal: root, signal }), { code: 'INVALID_STATE' }, 'archived by lifecycle: restore first')
  const stats = setup.chunkStore.stats()
  t.ok(stats.packs.cold > 0, 'the transitioned data is in cold packs')
})

t.test('filters by tag and size; Date rules; disabled rules do nothing', async (t) => {
  const setup = await dataTestSetup()
  t.teardown(() => setup.cleanup())
  const { objects, root, clock } = setup
  await objects.createBucket(root, 'filt')
  const midnight = Math.ceil((clock.nowMs() + 1) / 86_400_000) * 86_400_000
  await objects.putBucketLifecycle(root, 'filt', config(
    rule({ id: 'tagged', filter: { kind: 'tag', tag: { key: 'temp', value: 'yes' } }, expiration: { days: 1 } }),
    rule({ id: 'large', filter: { kind: 'sizeGreaterThan', bytes: 1000 }, expiration: { days: 1 } }),
    rule({ id: 'dated', filter: { kind: 'prefix', prefix: 'dated/' }, expiration: { dateMs: midnight } }),
    rule({ id: 'off', enabled: false, expiration: { days: 1 } }),
  ))
  await put(setup, 'filt', 'a', Buffer.from('tagged'), { tags: [{ key: 'temp', value: 'yes' }] })
  await put(setup, 'filt', 'b', Buffer.from('other tag'), { tags: [{ key: 'temp', value: 'no' }] })
  await put(setup, 'filt', 'c', randomBytesFrom(9, 2000))
  await put(setup, 'filt', 'dated/d', Buffer.from('dated'))
  clock.advance(testDayMs + 1)
  await runUntilIdle(setup)
  t.same(await keys(setup, 'filt'), ['b', 'dated/d'], 'tag and size filters matched')
  clock.advance(midnight - clock.nowMs())
  await runUntilIdle(setup)
  t.same(await keys(setup, 'filt'), ['b'], 'the Date rule applies from its midnight')
})

t.test('incomplete multipart uploads are aborted after DaysAfterInitiation', async (t) => {
  const setup = await dataTestSetup()
  t.teardown(() => setup.cleanup())
  const { objects, root, signal, clock } = setup
  await objects.createBucket(root, 'mpu')
  await objects.putBucketLifecycle(root, 'mpu', config(rule({ filter: { kind: 'prefix', prefix: 'up/' }, abortIncompleteUploadDays: 2 })))
  const doomed = await objects.createMultipartUpload({ bucket: 'mpu', key: 'up/a', principal: root, contentHeaders: {}, userMetadata: {} })
  const bytes = randomBytesFrom(3, 100_000)
  await objects.uploadPart({ bucket: 'mpu', key: 'up/a', uploadId: doomed.uploadId, partNumber: 1, principal: root, body: bodyOf(bytes), sizeBytes: bytes.length, digests: digestsFor(bytes), signal })
  await objects.createMultipartUpload({ bucket: 'mpu', key: 'other/b', principal: root, contentHeaders: {}, userMetadata: {} })
  clock.advance(testDayMs)
  await runUntilIdle(setup)
  t.equal((await objects.listMultipartUploads({ bucket: 'mpu', principal: root, maxUploads: 10 })).uploads.length, 2)
  clock.advance(testDayMs + 1)
  await runUntilIdle(setup)
  t.same((await objects.listMultipartUploads({ bucket: 'mpu', principal: root, maxUploads: 10 })).uploads.map((upload) => upload.key), ['other/b'])
  t.equal(await referencedChunks(setup.store.meta), 0, 'the aborted part dropped its chunks')
})

t.test('a pass is paged and resumes from its cursor', async (t) => {
  const setup = await dataTestSetup()
  t.teardown(() => setup.cleanup())
  const { objects, root, clock } = setup
  await objects.createBucket(root, 'many')
  for (let at = 0; at < 300; at++) await put(setup, 'many', `k${String(at).padStart(3, '0')}`, Buffer.from(`object ${at}`))
  await objects.putBucketLifecycle(root, 'many', config(rule({ expiration: { days: 1 } })))
  clock.advance(testDayMs + 1)
  await objects.runBackgroundNow() // the first step: 256 keys
  t.equal((await keys(setup, 'many')).length, 44, 'one step handled 256 keys')
  await objects.runBackgroundNow()
  t.same(await keys(setup, 'many'), [], 'the next step finished the bucket')
})
