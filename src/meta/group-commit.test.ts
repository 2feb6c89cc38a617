// Group commit in SerializedMetaStore, observed through a memory backend whose batches wait on a
// gate: later transactions read earlier queued writes, share one batch, never resolve before
// their batch lands, and a failed batch takes every transaction queued behind it down.
import t from 'tap'
import { key } from './keys.ts'
import { MemoryMetaStore } from './memory-store.ts'
import type { PendingWrite } from './overlay.ts'

class GatedStore extends MemoryMetaStore {
  readonly batches: number[] = []
  #gate: Promise<void> | undefined
  #open: (() => void) | undefined
  failNext: Error | undefined

  closeGate(): void {
    this.#gate = new Promise((resolve) => (this.#open = resolve))
  }

  openGate(): void {
    this.#open?.()
    this.#gate = undefined
  }

  protected override async commitBatch(writes: readonly PendingWrite[]): Promise<void> {
    this.batches.push(writes.length)
    await this.#gate
    if (this.failNext !== undefined) {
      const failure = this.failNext
      this.failNext = undefined
      throw failure
    }
    await super.commitBatch(writes)
  }
}

const text = (value: string): Buffer => Buffer.from(value, 'utf8')
const settled = (promise: Promise<unknown>): { done: boolean } => {
  const state = { done: false }
  promise.then(
    () => (state.done = true),
    () => (state.done = true),
  )
  return state
}
const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve))

t.test('a transaction reads queued writes, and resolves only after its own batch lands', async (t) => {
  const store = new GatedStore()
  store.closeGate()
  const first = store.transact(async (tx) => tx.put(key('a'), text('1')))
  const firstState = settled(first)
  await turn()
  await turn()
  t.same(store.batches, [1], 'the first batch is in the backend')
  const second = store.transact(async (tx) => {
    const seen = await tx.get(key('a'))
    tx.put(key('b'), text(`after ${seen?.toString()}`))
    return (await tx.scan({ gte: key('a'), lte: key('b'), limit: 10 })).map((entry) => entry.value.toString())
  })
  const secondState = settled(second)
  const readOnly = store.transact(async (tx) => (await tx.get(key('b')))?.toString())
  const readOnlyState = settled(readOnly)
  await turn()
  await turn()
  t.equal(await store.read((tx) => tx.get(key('a'))), undefined, 'read() sees only committed state')
  t.notOk(firstState.done || secondState.done || readOnlyState.done, 'nothing resolves before its batch lands')
  store.openGate()
  await first
  t.same(await second, ['1', 'after 1'])
  t.equal(await readOnly, 'after 1', 'a transaction that only read a queued write waits for it to land')
  t.same(store.batches, [1, 1])
  t.same(await store.read((tx) => tx.get(key('b'))), text('after 1'))
  await store.close()
})

t.test('concurrent transactions share batches and still serialize', async (t) => {
  const store = new GatedStore()
  const counter = key('counter')
  await Promise.all(
    Array.from({ length: 200 }, (_, index) =>
      store.transact(async (tx) => {
        const current = (await tx.get(counter))?.readUInt32BE(0) ?? 0
        const next = Buffer.alloc(4)
        next.writeUInt32BE(current + 1)
        tx.put(counter, next)
        tx.put(key('item', index), text(String(current)))
      }),
    ),
  )
  t.equal((await store.read((tx) => tx.get(counter)))?.readUInt32BE(0), 200)
  const seen = await store.read((tx) => tx.scan({ gt: key('item'), lt: key('item', 1000), limit: 1000 }))
  t.same(seen.map((entry) => Number(entry.value.toString())).sort((a, b) => a - b), Array.from({ length: 200 }, (_, index) => index), 'each saw every earlier increment')
  t.ok(store.batches.length < 50, `200 transactions in ${store.batches.length} batches`)
  await store.close()
})

t.test('a throwing transaction leaves its group untouched', async (t) => {
  const store = new GatedStore()
  const results = await Promise.allSettled([
    store.transact(async (tx) => tx.put(key('x', 1), text('one'))),
    store.transact(async (tx) => {
      tx.put(key('x', 2), text('two'))
      throw new Error('boom')
    }),
    store.transact(async (tx) => tx.put(key('x', 3), text(String((await tx.get(key('x', 2))) === undefined)))),
  ])
  t.same(results.map((result) => result.status), ['fulfilled', 'rejected', 'fulfilled'])
  t.same((await store.read((tx) => tx.getMany([key('x', 1), key('x', 2), key('x', 3)]))).map((value) => value?.toString()), ['one', undefined, 'true'])
  await store.close()
})

t.test('a failed batch fails every transaction queued behind it and poisons the store', async (t) => {
  const store = new GatedStore()
  store.closeGate()
  store.failNext = new Error('disk gone')
  const first = store.transact(async (tx) => tx.put(key('f', 1), text('1')))
  await turn()
  await turn()
  const second = store.transact(async (tx) => tx.put(key('f', 2), (await tx.get(key('f', 1))) ?? text('none')))
  const readOnly = store.transact(async (tx) => tx.get(key('f', 2)))
  await turn()
  store.openGate()
  await t.rejects(first, { code: 'IO_ERROR' })
  await t.rejects(second, { code: 'CLOSED' })
  await t.rejects(readOnly, { code: 'CLOSED' })
  await t.rejects(store.transact(async (tx) => tx.put(key('f', 3), text('3'))), { code: 'CLOSED' })
  t.same(await store.read((tx) => tx.getMany([key('f', 1), key('f', 2)])), [undefined, undefined])
  await store.close()
})

t.test('close waits for queued groups', async (t) => {
  const store = new GatedStore()
  store.closeGate()
  const writing = store.transact(async (tx) => tx.put(key('c'), text('kept')))
  await turn()
  const closing = store.close()
  const closingState = settled(closing)
  await turn()
  t.notOk(closingState.done, 'close waits for the batch')
  store.openGate()
  await writing
  await closing
})
