// DeleteBucket takes the bucket's configurations with it: lifecycle, default encryption and
// Intelligent-Tiering configurations leave nothing behind, and a new bucket of the same name
// starts without them.
import t from 'tap'
import { scanAll } from '../meta/index.ts'
import { bucketEncryptionKey, bucketKey, decodeBucket, lifecycleKey, tieringConfigRange } from '../model/index.ts'
import { dataTestSetup } from './lifecycle-testing.ts'

t.test('a deleted bucket leaves no configuration records behind', async (t) => {
  const setup = await dataTestSetup({ seed: 21 })
  t.teardown(setup.cleanup)
  const { objects, root } = setup
  await objects.createBucket(root, 'configured')
  const bucketId = await setup.store.meta.read(async (tx) => decodeBucket((await tx.get(bucketKey('configured')))!, 'test').id)
  await objects.putBucketLifecycle(root, 'configured', { rules: [{ id: 'expire', enabled: true, filter: { kind: 'empty' }, expiration: { days: 3 }, transitions: [], noncurrentTransitions: [] }] })
  await objects.putBucketEncryption(root, 'configured', { algorithm: 'AES256', bucketKeyEnabled: false })
  await objects.putBucketIntelligentTiering(root, 'configured', { id: 'a', enabled: true, filter: { tags: [] }, archiveAccessDays: 90 })
  await objects.putBucketIntelligentTiering(root, 'configured', { id: 'b', enabled: true, filter: { tags: [] }, deepArchiveAccessDays: 180 })

  await objects.deleteBucket(root, 'configured')
  const left = await setup.store.meta.read(async (tx) => {
    let tiering = 0
    for await (const _ of scanAll(tx, tieringConfigRange(bucketId))) tiering += 1
    return { lifecycle: await tx.get(lifecycleKey(bucketId)), encryption: await tx.get(bucketEncryptionKey(bucketId)), tiering }
  })
  t.same(left, { lifecycle: undefined, encryption: undefined, tiering: 0 })

  await objects.createBucket(root, 'configured')
  await t.rejects(objects.getBucketEncryption(root, 'configured'), { code: 'NOT_FOUND' })
  await t.rejects(objects.getBucketLifecycle(root, 'configured'), { code: 'NOT_FOUND' })
  t.same((await objects.listBucketIntelligentTiering(root, 'configured')).configurations, [])
})
