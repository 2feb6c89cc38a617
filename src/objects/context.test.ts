import t from 'tap'
import { ByteBudget } from './context.ts'
import { bodyOf, collect, digestsFor, objectsTestSetup, randomBytesFrom } from './testing.ts'

t.test('the byte budget serves waiters in order and lets aborted ones go', async (t) => {
  const budget = new ByteBudget(10)
  const signal = new AbortController().signal
  await budget.acquire(8, signal)
  const order: string[] = []
  const big = budget.acquire(5, signal).then(() => order.push('big'))
  const small = budget.acquire(1, signal).then(() => order.push('small'))
  await new Promise((resolve) => setImmediate(resolve))
  t.same(order, [], 'a small request does not pass a waiting big one')
  const controller = new AbortController()
  const aborted = budget.acquire(3, controller.signal)
  controller.abort()
  await t.rejects(aborted, { code: 'ABORTED' })
  budget.release(8)
  await Promise.all([big, small])
  t.same(order, ['big', 'small'])
  t.equal(budget.availableBytes, 4)
  budget.release(5)
  budget.release(1)
  t.equal(budget.availableBytes, 10)
  t.throws(() => budget.release(1), 'releasing more than acquired is a bug')
})

t.test('concurrent uploads share a small budget and all land', async (t) => {
  const setup = await objectsTestSetup({ ingestBytesInFlightMax: 4 * 1024 * 1024 })
  t.teardown(setup.cleanup)
  const { objects, root, signal } = setup
  await objects.createBucket(root, 'shared')
  await objects.putBucketVersioning(root, 'shared', 'Enabled')
  const bodies = Array.from({ length: 8 }, (_, at) => randomBytesFrom(100 + at, 1024 * 1024 + at))
  const results = await Promise.all(bodies.map((bytes, at) => objects.putObject({
    bucket: 'shared', key: at % 2 === 0 ? 'same' : `k${at}`, principal: root, body: bodyOf(bytes), digests: digestsFor(bytes), contentHeaders: {}, userMetadata: {}, signal,
  })))
  t.equal(new Set(results.map((result) => result.versionId)).size, 8, 'every version id is unique')
  const versions = await objects.listObjectVersions({ bucket: 'shared', principal: root, prefix: 'same', maxKeys: 10 })
  t.equal(versions.versions.length, 4)
  t.equal(versions.versions.filter((info) => info.isLatest).length, 1)
  for (const [at, bytes] of bodies.entries()) {
    const versionId = results[at]?.versionId as string
    const got = await objects.getObject({ bucket: 'shared', key: at % 2 === 0 ? 'same' : `k${at}`, principal: root, versionId, signal })
    t.ok((await collect(got.body)).equals(bytes), `upload ${at}`)
  }
})
