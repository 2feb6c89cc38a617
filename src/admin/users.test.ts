import t from 'tap'
import Fastify from 'fastify'
import { ManualClock } from '../lib/index.ts'
import { MemoryObjects } from '../s3/testing/memory-objects.ts'
import { adminPlugin, basicAuthorization, createMetricsRegistry, type AdminEngine } from './index.ts'

const credentials = { accessKey: 'ROOTACCESSKEY0000001', secretKey: 'secret-secret-secret' }
const auth = { authorization: basicAuthorization(credentials) }

async function build(engine: AdminEngine) {
  const clock = new ManualClock(1_000_000)
  const app = Fastify()
  await app.register(adminPlugin, {
    engine,
    credentials,
    registry: createMetricsRegistry({ version: '9.9.9' }),
    version: '9.9.9',
    clock,
    startedAtMs: clock.nowMs(),
    isShuttingDown: () => false,
    listeners: () => ({}),
    shutdownSignal: new AbortController().signal,
    onBug: (error) => {
      throw error
    },
  })
  return app
}

t.test('create, list and delete S3 users', async (t) => {
  const objects = new MemoryObjects({ clock: new ManualClock(), rootAccessKeyId: 'ROOT', rootSecretKey: 'root-secret' })
  const app = await build({ info: async () => ({}), objects })
  t.teardown(() => app.close())
  t.equal((await app.inject({ method: 'GET', url: '/admin/v1/users' })).statusCode, 401, 'root credentials required')
  const created = await app.inject({ method: 'POST', url: '/admin/v1/users', headers: auth, payload: { name: 'alice' } })
  t.equal(created.statusCode, 201)
  const user = created.json() as { name: string; accessKeyId: string; secretKey: string }
  t.equal(user.name, 'alice')
  t.ok(user.accessKeyId && user.secretKey)
  t.equal((await objects.users.lookupAccessKey(user.accessKeyId))?.secretKey, user.secretKey, 'the key works for SigV4 lookups')
  t.equal((await app.inject({ method: 'POST', url: '/admin/v1/users', headers: auth, payload: { name: 'alice' } })).statusCode, 409)
  t.equal((await app.inject({ method: 'POST', url: '/admin/v1/users', headers: auth, payload: {} })).statusCode, 400)
  const listed = await app.inject({ method: 'GET', url: '/admin/v1/users', headers: auth })
  t.match(listed.json(), { users: [{ name: 'root' }, { name: 'alice', accessKeyIds: [user.accessKeyId] }] })
  t.notMatch(listed.body, user.secretKey, 'the secret is never listed')
  t.equal((await app.inject({ method: 'DELETE', url: '/admin/v1/users/alice', headers: auth })).statusCode, 204)
  t.equal(await objects.users.lookupAccessKey(user.accessKeyId), undefined)
})

t.test('without an objects layer the user routes answer 503', async (t) => {
  const app = await build({ info: async () => ({}) })
  t.teardown(() => app.close())
  t.equal((await app.inject({ method: 'GET', url: '/admin/v1/users', headers: auth })).statusCode, 503)
})
