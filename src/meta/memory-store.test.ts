import t from 'tap'
import { runMetaStoreCompliance } from './compliance.ts'
import { key } from './keys.ts'
import { MemoryMetaStore } from './memory-store.ts'

runMetaStoreCompliance(t, 'memory', async () => ({ store: new MemoryMetaStore() }))

t.test('nested transact on the same store is a TypeError, not a deadlock', async (t) => {
  const store = new MemoryMetaStore()
  await store.transact(async (tx) => {
    tx.put(key('outer'), Buffer.of(1))
    await t.rejects(store.transact(async () => {}), TypeError)
    // read() inside a transaction is fine: it sees the committed state, not pending writes.
    t.equal(await store.read((read) => read.get(key('outer'))), undefined)
  })
  t.equal(store.size, 1)
  await store.close()
})
