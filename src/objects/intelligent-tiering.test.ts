// INTELLIGENT_TIERING on a manual clock (intelligent-tiering.ts, tiering-worker.ts): access tiers
// by idle time (30 / 90 lifecycle days), data in the matching chunk tier, reads that count as
// access (GET, ranged GET, copy source) and those that do not (HEAD, listings), the access log
// batching reads without metadata writes, shared chunks staying put, small objects unmonitored.
import t from 'tap'
import type { Tier } from '../chunk/index.ts'
import { dataManagementLimits } from '../lib/index.ts'
import { prefixRange } from '../meta/index.ts'
import { currentKey, decodeVersion, type VersionRecord } from '../model/index.ts'
import { AccessLog } from './intelligent-tiering.ts'
import { dataTestSetup, put, testDayMs, type DataTestSetup } from './lifecycle-testing.ts'
import { chunkBatchesOf } from './storage-class.ts'
import { collect, randomBytesFrom } from './testing.ts'

const day = testDayMs
const bucketId = 1

async function currentRecord(setup: DataTestSetup, key: string): Promise<VersionRecord> {
  const stored = await setup.store.meta.read((tx) => tx.get(currentKey(bucketId, key)))
  if (stored === undefined) throw new Error(`no current version of ${key}`)
  return decodeVersion(stored, 'test')
}

async function tiersOf(setup: DataTestSetup, key: string): Promise<Set<Tier>> {
  const tiers = new Set<Tier>()
  for await (const batch of chunkBatchesOf(setup.store.meta, await currentRecord(setup, key))) {
    for (const id of batch) {
      const location = await setup.chunkStore.locate(id)
      if (location !== undefined) tiers.add(location.tier)
    }
  }
  return tiers
}

async function accessTier(setup: DataTestSetup, key: string): Promise<string> {
  return (await currentRecord(setup, key)).tiering?.accessTier ?? 'FREQUENT_ACCESS (implicit)'
}

async function get(setup: DataTestSetup, key: string, range?: { first: number; last: number }): Promise<Buffer> {
  const result = await setup.objects.getObject({ bucket: 'tiering', key, principal: setup.root, signal: setup.signal, ...(range === undefined ? {} : { range: { first: range.first, last: range.last } }) })
  return collect(result.body)
}

async function settle(setup: DataTestSetup): Promise<void> {
  await setup.objects.runBackgroundNow()
  await setup.objects.runBackgroundNow()
}

async function setupWith(t: { teardown(fn: () => unknown): void }): Promise<DataTestSetup> {
  const setup = await dataTestSetup()
  t.teardown(() => setup.cleanup())
  await setup.objects.createBucket(setup.root, 'tiering')
  return setup
}

t.test('idle versions go Frequent -> Infrequent (30 days) -> Archive Instant (90 days), data hot -> cold; a GET brings them back', async (t) => {
  const setup = await setupWith(t)
  const bytes = randomBytesFrom(1, 300_000)
  await put(setup, 'tiering', 'k', bytes, { storageClass: 'INTELLIGENT_TIERING' })
  await settle(setup)
  t.same([...await tiersOf(setup, 'k')], ['hot'], 'written hot')

  setup.clock.advance(30 * day - 1)
  await settle(setup)
  t.equal(await accessTier(setup, 'k'), 'FREQUENT_ACCESS (implicit)', 'not yet 30 days idle')
  setup.clock.advance(1)
  await settle(setup)
  t.equal(await accessTier(setup, 'k'), 'INFREQUENT_ACCESS', '30 days idle')
  t.same([...await tiersOf(setup, 'k')], ['cold'], 'Infrequent Access data is cold')
  t.equal((await setup.objects.headObject({ bucket: 'tiering', key: 'k', principal: setup.root, signal: setup.signal })).version.storageClass, 'INTELLIGENT_TIERING', 'the class stays')

  setup.clock.advance(60 * day)
  await settle(setup)
  t.equal(await accessTier(setup, 'k'), 'ARCHIVE_INSTANT_ACCESS', '90 days idle')
  t.same([...await tiersOf(setup, 'k')], ['cold'])
  t.same(await get(setup, 'k'), bytes, 'Archive Instant Access reads at once, from the cold tier')
  t.equal(await accessTier(setup, 'k'), 'ARCHIVE_INSTANT_ACCESS', 'the GET itself writes no metadata')
  t.equal(setup.objects.tieringStats().pendingAccesses, 1, 'it is in the access log')

  await settle(setup)
  const record = await currentRecord(setup, 'k')
  t.same(record.tiering, { accessTier: 'FREQUENT_ACCESS', lastAccessMs: setup.clock.nowMs() }, 'the flush recorded the access')
  t.same([...await tiersOf(setup, 'k')], ['hot'], 'and the data went back hot')
  t.same(await get(setup, 'k'), bytes, 'bytes unchanged by the moves')
  t.match(setup.objects.tieringStats(), { to: { INFREQUENT_ACCESS: 1, ARCHIVE_INSTANT_ACCESS: 1, FREQUENT_ACCESS: 1 }, pendingAccesses: 0 })

  // Idle time now counts from the access, not from the write.
  setup.clock.advance(30 * day - 1)
  await settle(setup)
  t.equal(await accessTier(setup, 'k'), 'FREQUENT_ACCESS')
  setup.clock.advance(1)
  await settle(setup)
  t.equal(await accessTier(setup, 'k'), 'INFREQUENT_ACCESS', '30 days after the last access')
})

t.test('what counts as access: GET, ranged GET and copy source do; HEAD and listings do not', async (t) => {
  const setup = await setupWith(t)
  const bytes = randomBytesFrom(2, 200_000)
  for (const key of ['head', 'range', 'copy']) await put(setup, 'tiering', key, bytes, { storageClass: 'INTELLIGENT_TIERING' })
  await settle(setup)
  setup.clock.advance(29 * day)
  await setup.objects.headObject({ bucket: 'tiering', key: 'head', principal: setup.root, signal: setup.signal })
  await setup.objects.listObjects({ bucket: 'tiering', principal: setup.root, maxKeys: 100 })
  t.same(await get(setup, 'range', { first: 10, last: 19 }), bytes.subarray(10, 20))
  await setup.objects.copyObject({ source: { bucket: 'tiering', key: 'copy' }, bucket: 'tiering', key: 'copied', principal: setup.root, metadataDirective: 'COPY', taggingDirective: 'COPY', storageClass: 'STANDARD', signal: setup.signal })
  t.equal(setup.objects.tieringStats().pendingAccesses, 2, 'the ranged GET and the copy source are logged; HEAD and the listing are not')
  setup.clock.advance(1 * day)
  await settle(setup)
  t.equal(await accessTier(setup, 'head'), 'INFREQUENT_ACCESS', 'HEAD is no access')
  t.equal(await accessTier(setup, 'range'), 'FREQUENT_ACCESS', 'a ranged GET is an access')
  t.equal(await accessTier(setup, 'copy'), 'FREQUENT_ACCESS', 'a copy source read is an access')
})

t.test('the access log batches reads: repeated GETs are one entry, near-repeats are not logged, one flush writes many versions', async (t) => {
  const setup = await setupWith(t)
  const bytes = randomBytesFrom(3, 150_000)
  const keys = Array.from({ length: 10 }, (_, at) => `k${at}`)
  for (const key of keys) await put(setup, 'tiering', key, bytes, { storageClass: 'INTELLIGENT_TIERING' })
  await settle(setup)
  await get(setup, 'k0')
  t.equal(setup.objects.tieringStats().pendingAccesses, 0, 'a read right after the write is within the resolution: not logged')
  setup.clock.advance(2 * day)
  await settle(setup) // the lifecycle pass of this instant runs now, not in the ticks counted below
  for (let round = 0; round < 5; round += 1) for (const key of keys) await get(setup, key)
  t.equal(setup.objects.tieringStats().pendingAccesses, keys.length, 'fifty GETs, one entry per version')
  t.equal((await currentRecord(setup, 'k0')).tiering, undefined, 'nothing written yet')
  // Count the metadata transactions of a background tick with the ten logged reads, then of an idle one.
  const pending = setup.objects.tieringStats().pendingAccesses
  const transact = setup.store.meta.transact.bind(setup.store.meta)
  let transactions = 0
  setup.store.meta.transact = (async (...args: Parameters<typeof transact>) => {
    transactions += 1
    return transact(...args)
  }) as typeof transact
  await setup.objects.runBackgroundNow()
  const withAccesses = transactions
  transactions = 0
  await setup.objects.runBackgroundNow()
  const idle = transactions
  setup.store.meta.transact = transact
  t.equal(pending, keys.length)
  t.equal(withAccesses - idle, 1, 'one transaction wrote all ten accesses')
  for (const key of keys) t.same((await currentRecord(setup, key)).tiering, { accessTier: 'FREQUENT_ACCESS', lastAccessMs: setup.clock.nowMs() }, key)
  t.match(setup.objects.tieringStats(), { flushedAccesses: keys.length, pendingAccesses: 0 })
})

t.test('the access log is bounded and merges', async (t) => {
  const log = new AccessLog(2)
  const record = (order: number, versionId = `v${order}`, lastAccessMs = 0): VersionRecord => ({
    order, versionId, deleteMarker: false, sizeBytes: dataManagementLimits.intelligentTieringObjectBytesMin, etag: 'e', contentHeaders: {}, userMetadata: {}, tags: [],
    storageClass: 'INTELLIGENT_TIERING', owner: 'o', lastModifiedMs: lastAccessMs, data: { kind: 'inline', bytes: Buffer.alloc(0) },
  })
  log.record(1, 'a', record(1), 5000, day)
  log.record(1, 'a', record(1), 7000, day)
  log.record(1, 'a', record(1), 6000, day)
  log.record(1, 'b', record(2), 5000, day)
  log.record(1, 'c', record(3), 5000, day)
  t.equal(log.pendingEntries, 2)
  t.equal(log.counters.droppedAccesses, 1, 'a third version is dropped and counted')
  const taken = log.take(1)
  t.same(taken.map((entry) => [entry.key, entry.accessMs]), [['a', 7000]], 'newest access of a version wins; oldest entry first')
  log.record(1, 'a', record(1), 9000, day)
  log.putBack(taken)
  t.same(log.take(10).map((entry) => [entry.key, entry.accessMs]), [['b', 5000], ['a', 9000]], 'a failed flush gives back its entries; newer accesses win')
  const small = { ...record(4), sizeBytes: dataManagementLimits.intelligentTieringObjectBytesMin - 1 }
  log.record(1, 'small', small, 5000, day)
  log.record(1, 'standard', { ...record(5), storageClass: 'STANDARD' }, 5000, day)
  t.equal(log.pendingEntries, 0, 'unmonitored versions are never logged')
})

t.test('small objects stay in Frequent Access; shared chunks stay hot; a clean close flushes the log', async (t) => {
  const setup = await dataTestSetup()
  await setup.objects.createBucket(setup.root, 'tiering')
  await put(setup, 'tiering', 'small', randomBytesFrom(4, 100_000), { storageClass: 'INTELLIGENT_TIERING' })
  const shared = randomBytesFrom(5, 200_000)
  await put(setup, 'tiering', 'tiered', shared, { storageClass: 'INTELLIGENT_TIERING' })
  await put(setup, 'tiering', 'standard', shared)
  await settle(setup)
  setup.clock.advance(31 * day)
  await settle(setup)
  t.equal(await accessTier(setup, 'small'), 'FREQUENT_ACCESS (implicit)', 'under 128 KiB: not monitored')
  t.same([...await tiersOf(setup, 'small')], ['hot'])
  t.equal(await accessTier(setup, 'tiered'), 'INFREQUENT_ACCESS')
  t.same([...await tiersOf(setup, 'tiered')], ['hot'], 'its chunks are shared with a STANDARD object: they stay hot')

  setup.objects.startBackground({ onError: (error) => t.fail(String(error)), onBug: (error) => t.fail(String(error)) })
  await get(setup, 'tiered')
  const meta = setup.store.meta
  const close = setup.objects.close()
  await close
  const stored = await meta.read((tx) => tx.get(currentKey(bucketId, 'tiered')))
  t.equal(stored === undefined ? undefined : decodeVersion(stored, 'test').tiering?.accessTier, 'FREQUENT_ACCESS', 'close() wrote the logged access')
  await setup.cleanup()
})

async function dueEntriesOf(setup: DataTestSetup): Promise<number> {
  return (await setup.store.meta.read((tx) => tx.scan({ ...prefixRange('s3', 'due'), limit: 1000 }))).length
}

t.test('archive tiers by bucket configuration: Deep Archive Access at 180 days, restore (no Expedited) back to Frequent', async (t) => {
  const setup = await setupWith(t)
  const bytes = randomBytesFrom(6, 200_000)
  await setup.objects.putBucketIntelligentTiering(setup.root, 'tiering', { id: 'deep', enabled: true, filter: { tags: [{ key: 'keep', value: 'cold' }] }, deepArchiveAccessDays: 180 })
  await setup.objects.putBucketIntelligentTiering(setup.root, 'tiering', { id: 'off', enabled: false, filter: { tags: [] }, archiveAccessDays: 90 })
  await put(setup, 'tiering', 'deep', bytes, { storageClass: 'INTELLIGENT_TIERING', tags: [{ key: 'keep', value: 'cold' }] })
  await put(setup, 'tiering', 'plain', randomBytesFrom(8, 200_000), { storageClass: 'INTELLIGENT_TIERING' })
  await settle(setup)
  setup.clock.advance(179 * day)
  await settle(setup)
  t.equal(await accessTier(setup, 'deep'), 'ARCHIVE_INSTANT_ACCESS', 'day 179')
  setup.clock.advance(1 * day)
  await settle(setup)
  t.equal(await accessTier(setup, 'deep'), 'DEEP_ARCHIVE_ACCESS', 'day 180: the matching configuration applies')
  t.equal(await accessTier(setup, 'plain'), 'ARCHIVE_INSTANT_ACCESS', 'a disabled configuration does not')
  t.same([...await tiersOf(setup, 'deep')], ['cold'])
  await t.rejects(get(setup, 'deep'), { code: 'INVALID_STATE', message: /^InvalidObjectState: / })
  const head = await setup.objects.headObject({ bucket: 'tiering', key: 'deep', principal: setup.root, signal: setup.signal })
  t.equal(head.version.archiveStatus, 'DEEP_ARCHIVE_ACCESS')
  t.equal(setup.objects.tieringStats().pendingAccesses, 0, 'a refused GET is no access')

  const restore = (tier: 'Expedited' | 'Standard', days?: number) => setup.objects.restoreObject({ bucket: 'tiering', key: 'deep', principal: setup.root, tier, ...(days === undefined ? {} : { days }) })
  await t.rejects(restore('Expedited'), { code: 'INVALID_ARGUMENT' }, 'no Expedited from Deep Archive Access')
  await t.rejects(restore('Standard', 3), { code: 'INVALID_ARGUMENT', message: /not subject to restore expiry/ })
  t.same(await restore('Standard'), { alreadyRestored: false })
  setup.clock.advance(3 * 500 - 1) // Standard is 500 ms here; Deep Archive Access takes three times as long
  await settle(setup)
  t.equal(await accessTier(setup, 'deep'), 'DEEP_ARCHIVE_ACCESS', 'not before its delay')
  setup.clock.advance(1)
  await settle(setup)
  t.same((await currentRecord(setup, 'deep')).tiering, { accessTier: 'FREQUENT_ACCESS', lastAccessMs: setup.clock.nowMs() }, 'restored into Frequent Access')
  t.equal((await currentRecord(setup, 'deep')).restore, undefined, 'no restored copy to expire')
  t.same([...await tiersOf(setup, 'deep')], ['hot'])
  t.same(await get(setup, 'deep'), bytes)
  t.match(setup.objects.tieringStats(), { to: { DEEP_ARCHIVE_ACCESS: 1, FREQUENT_ACCESS: 1 } })
})

t.test('a configuration put later applies to versions already in Archive Instant Access within the recheck interval; entries stay bounded', async (t) => {
  const setup = await setupWith(t)
  await put(setup, 'tiering', 'k', randomBytesFrom(7, 200_000), { storageClass: 'INTELLIGENT_TIERING' })
  await settle(setup)
  setup.clock.advance(95 * day)
  await settle(setup)
  t.equal(await accessTier(setup, 'k'), 'ARCHIVE_INSTANT_ACCESS')
  await setup.objects.putBucketIntelligentTiering(setup.root, 'tiering', { id: 'later', enabled: true, filter: { tags: [] }, archiveAccessDays: 90 })
  setup.clock.advance(2 * day - 1) // just before day 97, the next recheck (90 + 7)
  await settle(setup)
  t.equal(await accessTier(setup, 'k'), 'ARCHIVE_INSTANT_ACCESS', 'not before the recheck')
  setup.clock.advance(1)
  await settle(setup)
  t.equal(await accessTier(setup, 'k'), 'ARCHIVE_ACCESS', 'the recheck applied the configuration')
  t.ok(await dueEntriesOf(setup) <= 1, 'one pending check at most')
  for (let week = 0; week < 10; week += 1) {
    setup.clock.advance(7 * day)
    await settle(setup)
  }
  t.ok(await dueEntriesOf(setup) <= 1, 'rechecks replace each other')
  await t.rejects(setup.objects.putBucketIntelligentTiering(setup.root, 'tiering', { id: 'bad', enabled: true, filter: { tags: [] }, archiveAccessDays: 200, deepArchiveAccessDays: 190 }), { code: 'INVALID_ARGUMENT' })
  await t.rejects(setup.objects.getBucketIntelligentTiering(setup.root, 'tiering', 'bad'), { code: 'NOT_FOUND', message: /^NoSuchConfiguration: / })
})

t.test('a lifecycle transition into INTELLIGENT_TIERING starts in Frequent Access, idle time counted from the transition', async (t) => {
  const setup = await setupWith(t)
  await setup.objects.putBucketLifecycle(setup.root, 'tiering', { rules: [{ id: 'to-it', enabled: true, filter: { kind: 'empty' }, transitions: [{ days: 40, storageClass: 'INTELLIGENT_TIERING' }], noncurrentTransitions: [] }] })
  await put(setup, 'tiering', 'k', randomBytesFrom(9, 200_000))
  setup.clock.advance(40 * day)
  await settle(setup)
  const record = await currentRecord(setup, 'k')
  t.equal(record.storageClass, 'INTELLIGENT_TIERING', 'transitioned')
  const transitionedMs = record.tiering?.lastAccessMs ?? 0
  t.ok(transitionedMs >= record.lastModifiedMs + 40 * day, 'idle time counts from the transition, not the write')
  setup.clock.advance(transitionedMs + 30 * day - 1 - setup.clock.nowMs())
  await settle(setup)
  t.equal(await accessTier(setup, 'k'), 'FREQUENT_ACCESS', '30 days after the write, not yet after the transition')
  setup.clock.advance(1)
  await settle(setup)
  t.equal(await accessTier(setup, 'k'), 'INFREQUENT_ACCESS', '30 days after the transition')
})
