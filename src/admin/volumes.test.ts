import t, { type Test } from 'tap'
import Fastify from 'fastify'
import { ManualClock } from '../lib/index.ts'
import { volumeTestSetup } from '../volumes/testing.ts'
import { adminPlugin, basicAuthorization, createMetricsRegistry, type AdminEngine } from './index.ts'

const credentials = { accessKey: 'ROOTACCESSKEY0000001', secretKey: 'secret-secret-secret' }
const headers = { authorization: basicAuthorization(credentials) }

async function build(t: Test) {
  const setup = await volumeTestSetup()
  const clock = new ManualClock()
  const engine: AdminEngine = { info: async () => ({}), volumes: setup.service, nbdTarget: () => ({ host: '127.0.0.1', port: 10809 }) }
  const app = Fastify()
  const bugs: Error[] = []
  await app.register(adminPlugin, {
    engine,
    credentials,
    registry: createMetricsRegistry({ version: '0' }),
    version: '0',
    clock,
    startedAtMs: clock.nowMs(),
    isShuttingDown: () => false,
    listeners: () => ({}),
    shutdownSignal: new AbortController().signal,
    onBug: (error) => bugs.push(error),
  })
  t.teardown(async () => {
    await app.close()
    await setup.cleanup()
    if (bugs.length > 0) throw bugs[0]
  })
  return { app, setup }
}

t.test('volume routes: create, describe with attach hints, list, modify, snapshot, diff, delete', async (t) => {
  const { app } = await build(t)
  t.equal((await app.inject({ method: 'GET', url: '/admin/v1/volumes' })).statusCode, 401, 'authenticated like the rest')
  const created = await app.inject({ method: 'POST', url: '/admin/v1/volumes', headers, payload: { size: '10GiB', type: 'gp3', iops: 4000 } })
  t.equal(created.statusCode, 201)
  const volume = created.json()
  t.match(volume, { sizeBytes: 10 * 2 ** 30, type: 'gp3', iops: 4000, throughputMiBps: 125, attach: { nbdUri: `nbd://127.0.0.1:10809/${volume.volumeId}`, nbdClientCommand: `sudo nbd-client 127.0.0.1 10809 /dev/nbd0 -N ${volume.volumeId} -b 4096` } })
  t.match((await app.inject({ method: 'GET', url: `/admin/v1/volumes/${volume.volumeId}`, headers })).json(), { volumeId: volume.volumeId, state: 'available' })
  t.match((await app.inject({ method: 'GET', url: '/admin/v1/volumes', headers })).json(), { volumes: [{ volumeId: volume.volumeId }] })

  const bad = await app.inject({ method: 'POST', url: '/admin/v1/volumes', headers, payload: { size: '10GiB', iopz: 5 } })
  t.equal(bad.statusCode, 400)
  t.match(bad.json(), { code: 'INVALID_ARGUMENT', error: /unknown field iopz/ })
  const tooBig = await app.inject({ method: 'POST', url: '/admin/v1/volumes', headers, payload: { size: '20TiB' } })
  t.match(tooBig.json(), { code: 'INVALID_ARGUMENT', error: 'Volume of 20480GiB is too large for volume type gp3; maximum is 16384GiB' })

  const grown = await app.inject({ method: 'PATCH', url: `/admin/v1/volumes/${volume.volumeId}`, headers, payload: { size: '12GiB', throughput: 500 } })
  t.match(grown.json(), { sizeBytes: 12 * 2 ** 30, throughputMiBps: 500, iops: 4000 })
  const ratio = await app.inject({ method: 'PATCH', url: `/admin/v1/volumes/${volume.volumeId}`, headers, payload: { iops: 16000 } })
  t.match(ratio.json(), { code: 'INVALID_ARGUMENT', error: 'Iops to volume size ratio of 1333.333333 is too high; maximum is 500.000000' })
  const shrink = await app.inject({ method: 'PATCH', url: `/admin/v1/volumes/${volume.volumeId}`, headers, payload: { size: '1GiB' } })
  t.match(shrink.json(), { code: 'INVALID_ARGUMENT', error: /New size cannot be smaller/ })

  const first = await app.inject({ method: 'POST', url: `/admin/v1/volumes/${volume.volumeId}/snapshots`, headers, payload: { wait: true, description: 'first' } })
  t.equal(first.statusCode, 201)
  t.match(first.json(), { state: 'completed', description: 'first', volumeSizeBytes: 12 * 2 ** 30 })
  const second = await app.inject({ method: 'POST', url: `/admin/v1/volumes/${volume.volumeId}/snapshots`, headers, payload: {} })
  t.equal(second.statusCode, 202)
  const secondId = second.json().snapshotId
  const described = await app.inject({ method: 'GET', url: `/admin/v1/snapshots/${first.json().snapshotId}`, headers })
  t.match(described.json(), { snapshotId: first.json().snapshotId, uniqueBytes: 0 })
  // Wait for the second one through the list.
  for (let tries = 0; tries < 100; tries += 1) {
    if ((await app.inject({ method: 'GET', url: `/admin/v1/snapshots/${secondId}`, headers })).json().state === 'completed') break
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
  const diff = await app.inject({ method: 'GET', url: `/admin/v1/snapshots/${first.json().snapshotId}/changed-blocks/${secondId}`, headers })
  t.match(diff.json(), { changedBlocks: 0, ranges: [], blockSizeBytes: 131072, nextBlockIndex: null })
  t.match((await app.inject({ method: 'GET', url: `/admin/v1/snapshots?volumeId=${volume.volumeId}`, headers })).json(), { snapshots: [{}, {}] })

  const clone = await app.inject({ method: 'POST', url: `/admin/v1/volumes/${volume.volumeId}/clone`, headers, payload: {} })
  t.equal(clone.statusCode, 201)
  t.match(clone.json(), { sizeBytes: 12 * 2 ** 30, type: 'gp3', iops: 4000, throughputMiBps: 500 })
  t.equal((await app.inject({ method: 'GET', url: `/admin/v1/snapshots?volumeId=${volume.volumeId}`, headers })).json().snapshots.length, 2, 'the clone hides its snapshot')

  t.equal((await app.inject({ method: 'DELETE', url: `/admin/v1/snapshots/${secondId}`, headers })).statusCode, 204)
  t.equal((await app.inject({ method: 'DELETE', url: `/admin/v1/volumes/${volume.volumeId}`, headers })).statusCode, 204)
  const gone = await app.inject({ method: 'GET', url: `/admin/v1/volumes/${volume.volumeId}`, headers })
  t.equal(gone.statusCode, 404)
  t.match((await app.inject({ method: 'GET', url: '/admin/v1/volumes/nope', headers })).json(), { code: 'INVALID_ARGUMENT', error: /Invalid id/ })
})

t.test('delete refuses an attached volume unless forced', async (t) => {
  const { app, setup } = await build(t)
  const volume = (await app.inject({ method: 'POST', url: '/admin/v1/volumes', headers, payload: { size: 1073741824 } })).json()
  const exported = await setup.service.open(volume.volumeId, '10.0.0.5')
  const refused = await app.inject({ method: 'DELETE', url: `/admin/v1/volumes/${volume.volumeId}`, headers })
  t.equal(refused.statusCode, 409)
  t.match(refused.json(), { code: 'INVALID_STATE', error: /attached to 10\.0\.0\.5/ })
  t.equal((await app.inject({ method: 'DELETE', url: `/admin/v1/volumes/${volume.volumeId}?force=true`, headers })).statusCode, 204)
  await t.rejects(exported.read(0, 512, new AbortController().signal), { code: 'CLOSED' }, 'the forced-out connection gets CLOSED')
  await exported.release()
})
