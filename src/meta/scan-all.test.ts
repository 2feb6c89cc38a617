import t from 'tap'
import { key, prefixRange } from './keys.ts'
import { MemoryMetaStore } from './memory-store.ts'
import { scanAll } from './scan-all.ts'

t.test('scanAll walks a range in pages, both directions', async (t) => {
  const store = new MemoryMetaStore()
  await store.transact(async (tx) => {
    for (let index = 0; index < 25; index += 1) tx.put(key('q', index), Buffer.of(index))
    tx.put(key('r'), Buffer.of(99))
  })
  await store.read(async (tx) => {
    const values = async (range: Parameters<typeof scanAll>[1], pageSize: number): Promise<number[]> => {
      const seen: number[] = []
      for await (const entry of scanAll(tx, range, pageSize)) seen.push(entry.value[0] as number)
      return seen
    }
    const all = Array.from({ length: 25 }, (_, index) => index)
    t.same(await values(prefixRange('q'), 4), all)
    t.same(await values(prefixRange('q'), 5), all, 'page size dividing the count')
    t.same(await values({ ...prefixRange('q'), reverse: true }, 7), [...all].reverse())
    t.same(await values({ gte: key('q', 3), lte: key('q', 10) }, 3), [3, 4, 5, 6, 7, 8, 9, 10])
    t.same(await values({ gte: key('q', 3), lte: key('q', 10), reverse: true }, 3), [10, 9, 8, 7, 6, 5, 4, 3])
    t.same(await values({ gt: key('z') }, 3), [])
    await t.rejects(values(prefixRange('q'), 0), TypeError)
  })
  // Deleting behind the cursor inside a transaction does not skip or repeat entries.
  await store.transact(async (tx) => {
    let count = 0
    for await (const entry of scanAll(tx, prefixRange('q'), 4)) {
      tx.delete(entry.key)
      count += 1
    }
    t.equal(count, 25)
  })
  t.equal(store.size, 1)
  await store.close()
})
