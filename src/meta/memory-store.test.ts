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

t.test('a failed commit is IO_ERROR and poisons the store', async (t) => {
  const diskError = Object.assign(new Error('input/output error'), { code: 'EIO' })
  class FailingStore extends MemoryMetaStore {
    protected override async commitBatch(): Promise<void> {
      throw diskError
    }
  }
  const store = new FailingStore()
  await t.rejects(store.transact(async (tx) => tx.put(key('k'), Buffer.of(1))), { code: 'IO_ERROR', cause: diskError })
  await t.rejects(store.transact(async () => {}), { code: 'CLOSED', cause: diskError })
  t.equal(await store.read((tx) => tx.get(key('k'))), undefined, 'reads still work')
  await store.close()
})
