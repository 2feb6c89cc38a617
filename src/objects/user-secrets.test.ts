// Access key secrets are sealed at rest: the metadata store never holds one in the clear, a
// sealed record opens only under its own access key id, and old plain records are resealed.
import t from 'tap'
import { scanAll, type MetaStore } from '../meta/index.ts'
import { accessKeyKey, decodeAccessKey, encodeAccessKey } from '../model/index.ts'
import { dataTestSetup } from './lifecycle-testing.ts'
import { openObjects } from './service.ts'
import { seededRandom } from '../chunk/store-testing.ts'
import { objectsTestSetup } from './testing.ts'

async function metaContains(meta: MetaStore, text: string): Promise<boolean> {
  return meta.read(async (tx) => {
    for await (const entry of scanAll(tx, { gte: Buffer.alloc(0), lt: Buffer.alloc(64, 0xff) })) {
      if (Buffer.from(entry.value).includes(text) || Buffer.from(entry.key).includes(text)) return true
    }
    return false
  })
}

t.test('a new user secret is sealed and opens for SigV4 lookups', async (t) => {
  const setup = await dataTestSetup({ seed: 11 })
  t.teardown(setup.cleanup)
  const created = await setup.objects.users.createUser('alice')
  t.notOk(await metaContains(setup.store.meta, created.secretKey), 'the secret is nowhere in the metadata store')
  const found = await setup.objects.users.lookupAccessKey(created.accessKeyId)
  t.equal(found?.secretKey, created.secretKey)
  t.equal(found?.principal.displayName, 'alice')

  // A sealed secret copied under another access key id does not open.
  const stored = await setup.store.meta.read((tx) => tx.get(accessKeyKey(created.accessKeyId)))
  const record = decodeAccessKey(stored!, 'test')
  t.equal(record.secret.kind, 'sealed')
  await setup.store.meta.transact(async (tx) => {
    tx.put(accessKeyKey('AKIAMOVEDMOVEDMOVED0'), encodeAccessKey({ ...record, accessKeyId: 'AKIAMOVEDMOVEDMOVED0' }))
  })
  await t.rejects(setup.objects.users.lookupAccessKey('AKIAMOVEDMOVEDMOVED0'), { code: 'KEY_UNAVAILABLE' })
})

t.test('plain (version 1) records are resealed when the objects layer opens', async (t) => {
  const setup = await dataTestSetup({ seed: 12 })
  t.teardown(setup.cleanup)
  const secretKey = 'Plain+Secret/Written/By/An/Older/Cairn00'
  await setup.store.meta.transact(async (tx) => {
    tx.put(accessKeyKey('AKIAOLDOLDOLDOLDOLD1'), encodeAccessKey({ accessKeyId: 'AKIAOLDOLDOLDOLDOLD1', userId: 'AIDAOLD', userName: 'old', secret: { kind: 'plain', secretKey }, createdMs: 1 }))
  })
  t.ok(await metaContains(setup.store.meta, secretKey), 'the old record holds the secret in the clear')
  t.equal(await setup.objects.users.resealPlainSecrets(), 1)
  t.notOk(await metaContains(setup.store.meta, secretKey), 'resealed')
  t.equal((await setup.objects.users.lookupAccessKey('AKIAOLDOLDOLDOLDOLD1'))?.secretKey, secretKey)
  t.equal(await setup.objects.users.resealPlainSecrets(), 0, 'nothing left to reseal')
})

t.test('without a key ring secrets stay plain and still work', async (t) => {
  const setup = await objectsTestSetup({ seed: 13 })
  t.teardown(setup.cleanup)
  const created = await setup.objects.users.createUser('bob')
  t.equal((await setup.objects.users.lookupAccessKey(created.accessKeyId))?.secretKey, created.secretKey)
  const reopened = await openObjects({ meta: setup.store.meta, chunkStore: setup.chunkStore, clock: setup.store.clock, random: seededRandom(5) })
  t.teardown(() => reopened.close())
  t.equal((await reopened.users.lookupAccessKey(created.accessKeyId))?.secretKey, created.secretKey)
})
