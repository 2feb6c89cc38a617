// Storage classes on tiers, and the restore flow of archived objects (storage-class.ts,
// restore.ts, restore-worker.ts) on a manual clock with short restore delays.
import t from 'tap'
import type { Tier } from '../chunk/index.ts'
import { currentKey, decodeVersion, versionKey, type VersionRecord } from '../model/index.ts'
import type { StorageClass } from './api.ts'
import { dataTestSetup, put, testDayMs, type DataTestSetup } from './lifecycle-testing.ts'
import { openObjects } from './service.ts'
import { chunkBatchesOf } from './storage-class.ts'
import { collect, randomBytesFrom } from './testing.ts'

async function currentRecord(setup: DataTestSetup, bucketId: number, key: string): Promise<VersionRecord> {
  const stored = await setup.store.meta.read((tx) => tx.get(currentKey(bucketId, key)))
  if (stored === undefined) throw new Error(`no current version of ${key}`)
  return decodeVersion(stored, 'test')
}

async function tiersOf(setup: DataTestSetup, record: VersionRecord): Promise<Tier[]> {
  const tiers: Tier[] = []
  for await (const batch of chunkBatchesOf(setup.store.meta, record)) {
    for (const id of batch) {
      const location = await setup.chunkStore.locate(id)
      if (location !== undefined) tiers.push(location.tier)
    }
  }
  return tiers
}

const allClasses: StorageClass[] = ['STANDARD', 'STANDARD_IA', 'ONEZONE_IA', 'INTELLIGENT_TIERING', 'GLACIER_IR', 'GLACIER', 'DEEP_ARCHIVE']

t.test('each class is reported and lives in its tier; archived classes refuse GET', async (t) => {
  const setup = await dataTestSetup()
  t.teardown(() => setup.cleanup())
  await setup.objects.createBucket(setup.root, 'classes')
  for (const storageClass of allClasses) {
    const bytes = randomBytesFrom(allClasses.indexOf(storageClass) + 1, 100_000)
    await put(setup, 'classes', storageClass, bytes, { storageClass })
    const head = await setup.objects.headObject({ bucket: 'classes', key: storageClass, principal: setup.root, signal: setup.signal })
    t.equal(head.version.storageClass, storageClass, `${storageClass} is reported by HEAD`)
    const tiers = await tiersOf(setup, await currentRecord(setup, 1, storageClass))
    const expected: Tier = storageClass === 'GLACIER' || storageClass === 'DEEP_ARCHIVE' ? 'cold' : 'hot'
    t.ok(tiers.length > 1 && tiers.every((tier) => tier === expected), `${storageClass} chunks are ${expected}`)
    if (expected === 'cold') {
      await t.rejects(setup.objects.getObject({ bucket: 'classes', key: storageClass, principal: setup.root, signal: setup.signal }), { code: 'INVALID_STATE', message: /^InvalidObjectState: / })
    } else {
      t.same(await collect((await setup.objects.getObject({ bucket: 'classes', key: storageClass, principal: setup.root, signal: setup.signal })).body), bytes)
    }
  }
  const listed = await setup.objects.listObjects({ bucket: 'classes', principal: setup.root, maxKeys: 100 })
  t.same(listed.contents.map((entry) => entry.storageClass).sort(), [...allClasses].sort(), 'ListObjects reports every class')
})

t.test('a copy to GLACIER moves the chunks it alone references; chunks shared with a hot version stay', async (t) => {
  const setup = await dataTestSetup()
  t.teardown(() => setup.cleanup())
  await setup.objects.createBucket(setup.root, 'plain')
  const bytes = randomBytesFrom(11, 200_000)
  await put(setup, 'plain', 'k', bytes)
  const copy = (bucket: string) => setup.objects.copyObject({ source: { bucket, key: 'k' }, bucket, key: 'k', principal: setup.root, metadataDirective: 'COPY', taggingDirective: 'COPY', storageClass: 'GLACIER', signal: setup.signal })
  await copy('plain')
  await setup.objects.runBackgroundNow()
  const moved = await currentRecord(setup, 1, 'k')
  t.equal(moved.storageClass, 'GLACIER')
  t.ok((await tiersOf(setup, moved)).every((tier) => tier === 'cold'), 'the replaced object is cold (no other reference)')

  await setup.objects.createBucket(setup.root, 'versioned')
  await setup.objects.putBucketVersioning(setup.root, 'versioned', 'Enabled')
  const other = randomBytesFrom(12, 200_000)
  await put(setup, 'versioned', 'k', other)
  await copy('versioned')
  await setup.objects.runBackgroundNow()
  const archived = await currentRecord(setup, 2, 'k')
  t.equal(archived.storageClass, 'GLACIER')
  t.ok((await tiersOf(setup, archived)).every((tier) => tier === 'hot'), 'chunks shared with the noncurrent STANDARD version stay hot')
  const { versions } = await setup.objects.listObjectVersions({ bucket: 'versioned', principal: setup.root, maxKeys: 10 })
  const noncurrent = versions.find((version) => !version.isLatest)
  t.ok(noncurrent !== undefined)
  const old = await setup.objects.getObject({ bucket: 'versioned', key: 'k', versionId: noncurrent?.versionId ?? '', principal: setup.root, signal: setup.signal })
  t.same(await collect(old.body), other, 'the hot version reads as before')
})

t.test('restore: 202 then ongoing, 409 while ongoing, readable when done, 200 extends, expires back to cold', async (t) => {
  const setup = await dataTestSetup()
  t.teardown(() => setup.cleanup())
  const { objects, root, signal, clock } = setup
  await objects.createBucket(root, 'archive')
  const bytes = randomBytesFrom(21, 150_000)
  await put(setup, 'archive', 'cold.bin', bytes, { storageClass: 'GLACIER' })
  const head = () => objects.headObject({ bucket: 'archive', key: 'cold.bin', principal: root, signal })
  const get = () => objects.getObject({ bucket: 'archive', key: 'cold.bin', principal: root, signal })

  t.same(await objects.restoreObject({ bucket: 'archive', key: 'cold.bin', principal: root, days: 2, tier: 'Standard' }), { alreadyRestored: false })
  t.same((await head()).version.restore, { ongoing: true })
  await t.rejects(objects.restoreObject({ bucket: 'archive', key: 'cold.bin', principal: root, days: 2 }), { code: 'CONFLICT', message: /^RestoreAlreadyInProgress: / })
  await objects.runBackgroundNow()
  await t.rejects(get(), { code: 'INVALID_STATE' }, 'not readable before the delay')

  clock.advance(500)
  await objects.runBackgroundNow()
  const restored = (await head()).version.restore
  t.equal(restored?.ongoing, false)
  t.equal(restored?.expiryMs, clock.nowMs() + 2 * testDayMs, 'expires days after completion (short days are exact)')
  t.ok((await tiersOf(setup, await currentRecord(setup, 1, 'cold.bin'))).every((tier) => tier === 'hot'), 'the restored copy is hot')
  t.same(await collect((await get()).body), bytes, 'GET works while the copy is valid')

  // Restoring again while the copy is valid moves the expiry (200 rather than 202).
  clock.advance(1000)
  t.same(await objects.restoreObject({ bucket: 'archive', key: 'cold.bin', principal: root, days: 3 }), { alreadyRestored: true })
  t.equal((await head()).version.restore?.expiryMs, clock.nowMs() + 3 * testDayMs)

  // Durable: a new objects layer over the same stores sees the same state.
  const reopened = await openObjects({ meta: setup.store.meta, chunkStore: setup.chunkStore, clock, random: setup.store.random, rootCredentials: { accessKeyId: 'ROOTKEY', secretKey: 'root-secret' }, dataManagement: { dayMs: testDayMs } })
  t.equal((await reopened.headObject({ bucket: 'archive', key: 'cold.bin', principal: root, signal })).version.restore?.ongoing, false)
  await reopened.close()

  clock.advance(3 * testDayMs)
  await t.rejects(get(), { code: 'INVALID_STATE' }, 'unreadable once expired, even before the worker ran')
  await objects.runBackgroundNow()
  t.equal((await head()).version.restore, undefined, 'x-amz-restore is gone')
  t.ok((await tiersOf(setup, await currentRecord(setup, 1, 'cold.bin'))).every((tier) => tier === 'cold'), 'back in the cold tier')
})

t.test('restore refusals', async (t) => {
  const setup = await dataTestSetup()
  t.teardown(() => setup.cleanup())
  const { objects, root } = setup
  await objects.createBucket(root, 'bkt')
  await put(setup, 'bkt', 'hot', Buffer.from('hot data'))
  await put(setup, 'bkt', 'deep', randomBytesFrom(3, 5000), { storageClass: 'DEEP_ARCHIVE' })
  await t.rejects(objects.restoreObject({ bucket: 'bkt', key: 'hot', principal: root, days: 1 }), { code: 'INVALID_STATE', message: /^InvalidObjectState: / })
  await t.rejects(objects.restoreObject({ bucket: 'bkt', key: 'deep', principal: root, days: 1, tier: 'Expedited' }), { code: 'INVALID_ARGUMENT' })
  await t.rejects(objects.restoreObject({ bucket: 'bkt', key: 'deep', principal: root, days: 0 }), { code: 'INVALID_ARGUMENT' })
  await t.rejects(objects.restoreObject({ bucket: 'bkt', key: 'missing', principal: root, days: 1 }), { code: 'NOT_FOUND' })
  // DEEP_ARCHIVE takes three times the GLACIER delay of its tier.
  await objects.restoreObject({ bucket: 'bkt', key: 'deep', principal: root, days: 1, tier: 'Standard' })
  const record = await currentRecord(setup, 1, 'deep')
  t.equal((record.restore?.readyMs ?? 0) - (record.restore?.requestedMs ?? 0), 1500)
  const stored = await setup.store.meta.read((tx) => tx.get(versionKey(1, 'deep', record.order)))
  t.ok(stored !== undefined, 'the version record holds the restore')
})
