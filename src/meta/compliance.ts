// The MetaStore compliance suite: every backend runs it (memory, LevelDB, later PostgreSQL).
//
// Contract: `open()` returns a fresh, empty store (and optionally `reopen()`, which opens the
// same store again after it was closed). Each subtest opens its own store and closes it.
// The suite only uses the MetaStore interface, so it tests the contract, never a backend's
// internals; backend-specific behaviour (locking, files) belongs in the backend's own tests.
import type { Test } from 'tap'
import { limits } from '../lib/index.ts'
import { key, prefixRange, type KeyPart } from './keys.ts'
import type { Entry, MetaStore } from './meta-store.ts'

export type OpenMetaStore = () => Promise<{ store: MetaStore; reopen?: () => Promise<MetaStore> }>

const text = (value: string): Buffer => Buffer.from(value, 'utf8')
const texts = (entries: Entry[]): string[] => entries.map((entry) => entry.value.toString('utf8'))

/** Deterministic shuffle (seeded LCG), so insertion order never happens to be sorted. */
function shuffled<T>(items: readonly T[], seed: number): T[] {
  const result = [...items]
  let state = seed >>> 0
  for (let at = result.length - 1; at > 0; at -= 1) {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0
    const other = state % (at + 1)
    ;[result[at], result[other]] = [result[other] as T, result[at] as T]
  }
  return result
}

async function putAll(store: MetaStore, entries: ReadonlyArray<readonly [Uint8Array, Uint8Array]>): Promise<void> {
  await store.transact(async (tx) => {
    for (const [entryKey, value] of entries) tx.put(entryKey, value)
  })
}

/** Register the compliance subtests for one backend under `t`. */
export function runMetaStoreCompliance(t: Test, name: string, open: OpenMetaStore): void {
  const withStore = (title: string, body: (t: Test, store: MetaStore, reopen?: () => Promise<MetaStore>) => Promise<void>) =>
    t.test(`${name}: ${title}`, async (t) => {
      const { store, reopen } = await open()
      try {
        await body(t, store, reopen)
      } finally {
        await store.close()
      }
    })

  withStore('tuple keys scan in memcmp order', async (t, store) => {
    const ordered: KeyPart[] = [
      Buffer.of(), Buffer.of(0), Buffer.of(0, 0), Buffer.of(0, 0xff), Buffer.of(1), Buffer.of(0xff), Buffer.of(0xff, 0xff),
      '', '\u0000', 'a', 'a\u0000', 'a\u0000b', 'ab', 'b', '\u00e9', '\u{1f600}',
      0, 1, 255, 256, 2 ** 32, Number.MAX_SAFE_INTEGER,
    ]
    const keys = ordered.map((part) => key('o', part))
    // A tuple sorts before its extensions (string part before uint part), and its extensions
    // sort before 'a\u0000' because an escaped 0x00 is followed by 0xff.
    keys.splice(keys.findIndex((entryKey) => entryKey.equals(key('o', 'a'))) + 1, 0, key('o', 'a', 'z'), key('o', 'a', 0))
    await putAll(store, shuffled(keys, 7).map((entryKey) => [entryKey, entryKey]))
    await store.read(async (tx) => {
      const forward = await tx.scan({ ...prefixRange('o'), limit: 100 })
      t.same(forward.map((entry) => entry.key), keys)
      t.same(forward.map((entry) => entry.value), keys)
      const backward = await tx.scan({ ...prefixRange('o'), limit: 100, reverse: true })
      t.same(backward.map((entry) => entry.key), [...keys].reverse())
    })
  })

  withStore('raw byte keys order by memcmp, shorter prefix first', async (t, store) => {
    const keys = [[0x00], [0x00, 0x00], [0x00, 0xff], [0x01], [0x7f, 0xff], [0x80], [0xff], [0xff, 0x00], [0xff, 0xff, 0xff]].map((bytes) =>
      Buffer.from(bytes),
    )
    await putAll(store, shuffled(keys, 3).map((entryKey) => [entryKey, text('v')]))
    const scanned = await store.read((tx) => tx.scan({ limit: 100 }))
    t.same(scanned.map((entry) => entry.key), keys)
  })

  withStore('get and getMany of missing keys', async (t, store) => {
    await putAll(store, [[key('m', 1), text('one')], [key('m', 3), text('three')]])
    await store.read(async (tx) => {
      t.equal(await tx.get(key('m', 2)), undefined)
      t.same(await tx.get(key('m', 1)), text('one'))
      t.same(await tx.getMany([key('m', 3), key('m', 2), key('m', 1), key('nothing')]), [text('three'), undefined, text('one'), undefined])
      t.same(await tx.getMany([]), [])
    })
  })

  withStore('scan bounds, direction and limit', async (t, store) => {
    const r = (index: number): Buffer => key('r', index)
    await putAll(store, Array.from({ length: 20 }, (_, index) => [r(index), text(String(index))] as const))
    await store.read(async (tx) => {
      const scan = async (range: Parameters<typeof tx.scan>[0]) => texts(await tx.scan(range))
      t.same(await scan({ gt: r(5), lt: key('s'), limit: 3 }), ['6', '7', '8'])
      t.same(await scan({ gte: r(5), limit: 3 }), ['5', '6', '7'])
      t.same(await scan({ gt: key('r'), lt: r(5), limit: 3, reverse: true }), ['4', '3', '2'])
      t.same(await scan({ lte: r(5), limit: 3, reverse: true }), ['5', '4', '3'])
      t.same(await scan({ gte: r(3), lte: r(6), limit: 10, reverse: true }), ['6', '5', '4', '3'])
      t.same(await scan({ gt: r(3), lt: r(6), limit: 10 }), ['4', '5'])
      t.same(await scan({ gte: r(19), limit: 10 }), ['19'])
      t.same(await scan({ gt: r(19), lt: key('s'), limit: 10 }), [])
      t.same(await scan({ gt: r(8), lt: r(2), limit: 10 }), [])
      t.same(await scan({ gte: r(4), lte: r(4), limit: 10, reverse: true }), ['4'])
      t.same(await scan({ limit: 2 }), ['0', '1'])
      t.same(await scan({ limit: 2, reverse: true }), ['19', '18'])
      t.equal((await tx.scan({ limit: limits.metaScanPageMax })).length, 20)
      for (const limit of [0, -1, 1.5, limits.metaScanPageMax + 1, Number.NaN]) {
        await t.rejects(tx.scan({ limit }), TypeError, `limit ${limit} is a bug`)
      }
      await t.rejects(tx.scan({ gt: r(1), gte: r(1), limit: 1 }), TypeError)
    })
  })

  withStore('paging continues from the last key', async (t, store) => {
    const keys = Array.from({ length: 23 }, (_, index) => key('p', index))
    await putAll(store, keys.map((entryKey) => [entryKey, entryKey]))
    await store.read(async (tx) => {
      const forward: Buffer[] = []
      let range = prefixRange('p')
      for (;;) {
        const page = await tx.scan({ ...range, limit: 5 })
        forward.push(...page.map((entry) => entry.key))
        const last = page.at(-1)
        if (page.length < 5 || last === undefined) break
        range = { ...range, gt: last.key }
      }
      t.same(forward, keys)
      const backward: Buffer[] = []
      let upper: Buffer = prefixRange('p').lt
      for (;;) {
        const page = await tx.scan({ gt: key('p'), lt: upper, limit: 7, reverse: true })
        backward.push(...page.map((entry) => entry.key))
        const last = page.at(-1)
        if (page.length < 7 || last === undefined) break
        upper = last.key
      }
      t.same(backward, [...keys].reverse())
    })
  })

  withStore('a transaction reads its own writes and deletes', async (t, store) => {
    const w = (index: number): Buffer => key('w', index)
    await putAll(store, [1, 2, 3, 4, 5].map((index) => [w(index), text(`old${index}`)] as const))
    await store.transact(async (tx) => {
      tx.put(w(6), text('new6'))
      tx.put(w(3), text('new3'))
      tx.delete(w(2))
      tx.delete(w(4))
      tx.put(w(7), text('gone'))
      tx.delete(w(7))
      tx.delete(w(8)) // deleting a missing key is fine
      tx.delete(w(5))
      tx.put(w(5), text('again5'))
      t.equal(await tx.get(w(2)), undefined)
      t.equal(await tx.get(w(7)), undefined)
      t.same(await tx.get(w(3)), text('new3'))
      t.same(await tx.getMany([w(1), w(2), w(3), w(6), w(7)]), [text('old1'), undefined, text('new3'), text('new6'), undefined])
      const range = prefixRange('w')
      t.same(texts(await tx.scan({ ...range, limit: 10 })), ['old1', 'new3', 'again5', 'new6'])
      t.same(texts(await tx.scan({ ...range, limit: 2 })), ['old1', 'new3'])
      t.same(texts(await tx.scan({ ...range, limit: 2, reverse: true })), ['new6', 'again5'])
      t.same(texts(await tx.scan({ gt: w(1), lt: w(5), limit: 10 })), ['new3'])
      t.same(texts(await tx.scan({ gte: w(2), lte: w(4), limit: 10, reverse: true })), ['new3'])
    })
    const committed = await store.read((tx) => tx.scan({ ...prefixRange('w'), limit: 10 }))
    t.same(texts(committed), ['old1', 'new3', 'again5', 'new6'])
  })

  withStore('a throwing transaction commits nothing', async (t, store) => {
    await putAll(store, [[key('x'), text('before')]])
    const failure = new Error('boom')
    await t.rejects(
      store.transact(async (tx) => {
        tx.put(key('x'), text('after'))
        tx.put(key('y'), text('new'))
        tx.delete(key('x'))
        throw failure
      }),
      failure,
    )
    t.same(await store.read((tx) => tx.getMany([key('x'), key('y')])), [text('before'), undefined])
  })

  withStore('concurrent read-modify-write transactions serialize', async (t, store) => {
    const counter = key('counter')
    const increments = Array.from({ length: 100 }, () =>
      store.transact(async (tx) => {
        const current = await tx.get(counter)
        await new Promise((resolve) => setImmediate(resolve)) // invite interleaving
        const next = Buffer.alloc(8)
        next.writeBigUInt64BE((current === undefined ? 0n : current.readBigUInt64BE(0)) + 1n)
        tx.put(counter, next)
      }),
    )
    await Promise.all(increments)
    const final = await store.read((tx) => tx.get(counter))
    t.equal(final?.readBigUInt64BE(0), 100n)
  })

  withStore('read() is a snapshot that never sees a later commit', async (t, store) => {
    await putAll(store, [[key('s', 1), text('v1')]])
    let firstReadDone!: () => void
    const started = new Promise<void>((resolve) => (firstReadDone = resolve))
    let proceed!: () => void
    const gate = new Promise<void>((resolve) => (proceed = resolve))
    const reading = store.read(async (tx) => {
      const before = await tx.get(key('s', 1))
      firstReadDone()
      await gate
      const after = await tx.getMany([key('s', 1), key('s', 2)])
      const scanned = await tx.scan({ ...prefixRange('s'), limit: 10 })
      return { before, after, scanned }
    })
    await started
    await store.transact(async (tx) => {
      tx.put(key('s', 1), text('v2'))
      tx.put(key('s', 2), text('added'))
    })
    proceed()
    const seen = await reading
    t.same(seen.before, text('v1'))
    t.same(seen.after, [text('v1'), undefined])
    t.same(texts(seen.scanned), ['v1'])
    t.same(await store.read((tx) => tx.get(key('s', 1))), text('v2'))
  })

  withStore('empty and large values', async (t, store) => {
    const large = Buffer.alloc(1024 * 1024)
    for (let at = 0; at < large.length; at += 1) large[at] = (at * 31 + (at >>> 10)) & 0xff
    await putAll(store, [[key('v', 'empty'), Buffer.alloc(0)], [key('v', 'large'), large]])
    await store.read(async (tx) => {
      const empty = await tx.get(key('v', 'empty'))
      t.ok(Buffer.isBuffer(empty) && empty.length === 0, 'an empty value is present, not missing')
      t.same(await tx.getMany([key('v', 'empty')]), [Buffer.alloc(0)])
      t.ok((await tx.get(key('v', 'large')))?.equals(large), '1 MiB value round-trips')
      const scanned = await tx.scan({ ...prefixRange('v'), limit: 10 })
      t.same(scanned.map((entry) => entry.value.length), [0, large.length])
    })
  })

  withStore('buffers are copied in and out', async (t, store) => {
    const value = text('original')
    const entryKey = key('c')
    await store.transact(async (tx) => {
      tx.put(entryKey, value)
      value.fill(0)
      const pending = await tx.get(entryKey)
      pending?.fill(0)
    })
    const read = await store.read((tx) => tx.get(entryKey))
    t.same(read, text('original'))
    read?.fill(0)
    t.same(await store.read((tx) => tx.get(entryKey)), text('original'))
  })

  withStore('misuse is a TypeError', async (t, store) => {
    let escaped: Parameters<Parameters<MetaStore['transact']>[0]>[0] | undefined
    await store.transact(async (tx) => {
      t.throws(() => tx.put(Buffer.alloc(0), text('v')), TypeError, 'empty key')
      t.throws(() => tx.put('k' as unknown as Uint8Array, text('v')), TypeError, 'string key')
      t.throws(() => tx.put(key('k'), 'v' as unknown as Uint8Array), TypeError, 'string value')
      escaped = tx
    })
    await t.rejects(async () => escaped?.get(key('k')), TypeError, 'a transaction used after it ended')
    await store.read(async (tx) => {
      t.throws(() => (tx as typeof escaped)?.put(key('k'), text('v')), TypeError, 'read transactions cannot write')
    })
  })

  withStore('an aborted signal commits nothing', async (t, store) => {
    const before = new AbortController()
    before.abort()
    await t.rejects(store.transact(async (tx) => tx.put(key('a', 1), text('v')), { signal: before.signal }), { code: 'ABORTED' })
    const during = new AbortController()
    await t.rejects(
      store.transact(
        async (tx) => {
          tx.put(key('a', 2), text('v'))
          during.abort()
        },
        { signal: during.signal },
      ),
      { code: 'ABORTED' },
    )
    // Aborted while another transaction runs (a serializing backend is still waiting for it).
    let proceed!: () => void
    const gate = new Promise<void>((resolve) => (proceed = resolve))
    const blocking = store.transact(async () => gate)
    const waiting = new AbortController()
    const waiter = store.transact(async (tx) => tx.put(key('a', 3), text('v')), { signal: waiting.signal })
    waiting.abort()
    const outcome = waiter.then(
      () => 'committed',
      (error: unknown) => (error as { code?: string }).code,
    )
    proceed()
    await blocking
    t.equal(await outcome, 'ABORTED')
    t.same(await store.read((tx) => tx.scan({ limit: 10 })), [])
  })

  withStore('close waits for the running transaction, then refuses work', async (t, store, reopen) => {
    let proceed!: () => void
    const gate = new Promise<void>((resolve) => (proceed = resolve))
    let inside!: () => void
    const entered = new Promise<void>((resolve) => (inside = resolve))
    const writing = store.transact(async (tx) => {
      inside()
      await gate
      tx.put(key('late'), text('committed'))
    })
    await entered
    let closed = false
    const closing = store.close().then(() => (closed = true))
    await new Promise((resolve) => setImmediate(resolve))
    t.equal(closed, false, 'close waits')
    proceed()
    await writing
    await closing
    await t.rejects(store.transact(async () => {}), { code: 'CLOSED' })
    await t.rejects(store.read(async () => {}), { code: 'CLOSED' })
    if (reopen === undefined) return
    const reopened = await reopen()
    try {
      t.same(await reopened.read((tx) => tx.get(key('late'))), text('committed'))
    } finally {
      await reopened.close()
    }
  })

  withStore('commits survive close and reopen', async (t, store, reopen) => {
    if (reopen === undefined) {
      t.pass('backend is not durable')
      return
    }
    await putAll(store, [[key('d', 1), text('one')], [key('d', 2), text('two')], [key('d', 3), text('three')]])
    await store.transact(async (tx) => tx.delete(key('d', 2)))
    await store.transact(async (tx) => tx.put(key('d', 4), text('unsynced')), { sync: false })
    await store.close()
    const reopened = await reopen()
    try {
      t.same(texts(await reopened.read((tx) => tx.scan({ ...prefixRange('d'), limit: 10 }))), ['one', 'three', 'unsynced'])
    } finally {
      await reopened.close()
    }
  })
}
