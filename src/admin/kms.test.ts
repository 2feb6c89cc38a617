// The KMS admin routes over a real KeyManagement (memory metadata, a real key ring): create with
// an alias, list, describe by id / URL-encoded ARN / alias, disable, enable, rotate, errors.
import t from 'tap'
import Fastify from 'fastify'
import { KeyRing } from '../chunk/index.ts'
import { seededRandom } from '../chunk/store-testing.ts'
import { masterKeyFromBytes } from '../crypto/index.ts'
import { ManualClock } from '../lib/index.ts'
import { MemoryMetaStore } from '../meta/index.ts'
import { KeyManagement } from '../objects/index.ts'
import { MemoryObjects } from '../s3/testing/memory-objects.ts'
import { adminPlugin, basicAuthorization, createMetricsRegistry, type AdminEngine } from './index.ts'

const credentials = { accessKey: 'ROOTACCESSKEY0000001', secretKey: 'secret-secret-secret' }
const auth = { authorization: basicAuthorization(credentials) }

async function build(engine: AdminEngine) {
  const clock = new ManualClock(1_000_000)
  const app = Fastify()
  await app.register(adminPlugin, {
    engine, credentials, registry: createMetricsRegistry({ version: '9.9.9' }), version: '9.9.9', clock, startedAtMs: clock.nowMs(),
    isShuttingDown: () => false, listeners: () => ({}), shutdownSignal: new AbortController().signal,
    onBug: (error) => {
      throw error
    },
  })
  return app
}

t.test('create, list, describe, disable, enable and rotate KMS keys', async (t) => {
  const meta = new MemoryMetaStore()
  const clock = new ManualClock(5_000)
  const keyRing = await KeyRing.open({ meta, masterKey: masterKeyFromBytes(seededRandom(1).bytes(32)), random: seededRandom(2) })
  const kms = new KeyManagement({ meta, keys: keyRing, clock, random: seededRandom(3), region: 'eu-west-1' })
  const objects = new MemoryObjects({ clock, rootAccessKeyId: 'ROOT', rootSecretKey: 'root-secret' })
  const app = await build({ info: async () => ({}), objects: { users: objects.users, kms } })
  t.teardown(() => app.close())
  t.equal((await app.inject({ method: 'GET', url: '/admin/v1/kms/keys' })).statusCode, 401, 'root credentials required')
  const created = await app.inject({ method: 'POST', url: '/admin/v1/kms/keys', headers: auth, payload: { description: 'backups', alias: 'backups' } })
  t.equal(created.statusCode, 201)
  const key = created.json() as { keyId: string; arn: string }
  t.match(created.json(), { arn: `arn:aws:kms:eu-west-1:000000000000:key/${key.keyId}`, description: 'backups', state: 'Enabled', aliases: ['alias/backups'], currentGeneration: 1, createdMs: 5_000 })
  t.notMatch(created.body, /domain/, 'no key-ring details leave the server')
  t.equal((await app.inject({ method: 'POST', url: '/admin/v1/kms/keys', headers: auth, payload: {} })).statusCode, 201, 'description and alias are optional')
  t.equal((await app.inject({ method: 'POST', url: '/admin/v1/kms/keys', headers: auth })).statusCode, 201, 'so is the body')
  t.equal((await app.inject({ method: 'POST', url: '/admin/v1/kms/keys', headers: auth, payload: { alias: 'backups' } })).statusCode, 409, 'an alias names one key')
  t.equal((await app.inject({ method: 'POST', url: '/admin/v1/kms/keys', headers: auth, payload: { alias: 'no spaces' } })).statusCode, 400)
  const listed = await app.inject({ method: 'GET', url: '/admin/v1/kms/keys', headers: auth })
  t.equal((listed.json() as { keys: unknown[] }).keys.length, 3)
  for (const reference of [key.keyId, encodeURIComponent(key.arn), 'alias/backups', encodeURIComponent('alias/backups')]) {
    const described = await app.inject({ method: 'GET', url: `/admin/v1/kms/keys/${reference}`, headers: auth })
    t.equal(described.statusCode, 200, `describe ${reference}`)
    t.equal((described.json() as { keyId: string }).keyId, key.keyId)
  }
  const missing = await app.inject({ method: 'GET', url: '/admin/v1/kms/keys/alias/nope', headers: auth })
  t.equal(missing.statusCode, 404)
  t.match(missing.json(), { code: 'NOT_FOUND', error: /not found/ })
  clock.advance(1_000)
  const disabled = await app.inject({ method: 'POST', url: '/admin/v1/kms/keys/alias/backups/disable', headers: auth })
  t.match(disabled.json(), { state: 'Disabled', stateChangedMs: 6_000 })
  t.equal((await app.inject({ method: 'POST', url: `/admin/v1/kms/keys/${key.keyId}/rotate`, headers: auth })).statusCode, 409, 'a disabled key does not rotate')
  t.match((await app.inject({ method: 'POST', url: `/admin/v1/kms/keys/${key.keyId}/enable`, headers: auth })).json(), { state: 'Enabled' })
  const rotated = await app.inject({ method: 'POST', url: `/admin/v1/kms/keys/${encodeURIComponent(key.arn)}/rotate`, headers: auth })
  t.match(rotated.json(), { currentGeneration: 2, generations: [{ generation: 1 }, { generation: 2 }] })
  t.equal((await app.inject({ method: 'POST', url: `/admin/v1/kms/keys/${key.keyId}/explode`, headers: auth })).statusCode, 404)
})

t.test('without a KMS the routes answer 503', async (t) => {
  const app = await build({ info: async () => ({}) })
  t.teardown(() => app.close())
  t.equal((await app.inject({ method: 'GET', url: '/admin/v1/kms/keys', headers: auth })).statusCode, 503)
})
