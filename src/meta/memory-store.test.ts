import t from 'tap'
import { key, prefixRange } from './keys.ts'
import { MemoryMetaStore } from './memory-store.ts'

t.test('memory store basics', async (t) => {
  const store = new MemoryMetaStore()
  await store.transact(async (tx) => {
    tx.put(key('a', 2), Buffer.from('two'))
    tx.put(key('a', 1), Buffer.from('one'))
    tx.put(key('b'), Buffer.from('b'))
    t.same(await tx.get(key('a', 1)), Buffer.from('one'))
    t.same((await tx.scan({ ...prefixRange('a'), limit: 10 })).map((entry) => entry.value.toString()), ['one', 'two'])
  })
  await store.transact(async (tx) => {
    tx.delete(key('a', 1))
    t.same((await tx.scan({ ...prefixRange('a'), limit: 10, reverse: true })).map((entry) => entry.value.toString()), ['two'])
  })
  await store.read(async (tx) => {
    t.equal(await tx.get(key('a', 1)), undefined)
    t.same(await tx.getMany([key('a', 2), key('zz')]), [Buffer.from('two'), undefined])
  })
  t.equal(store.size, 2)
  await store.close()
  await t.rejects(store.read(async () => {}), { code: 'CLOSED' })
})
