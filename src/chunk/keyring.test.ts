import t from 'tap'
import { randomBytes } from 'node:crypto'
import { masterKeyFromBytes, plainDomainKeys, type DomainKeys, type MasterKey } from '../crypto/index.ts'
import { keyDomainIdFrom, plainDomain, StoreError, systemRandom, type KeyDomainId } from '../lib/index.ts'
import { key, LevelMetaStore, MemoryMetaStore, type MetaStore, type ReadTx, type TransactOptions, type WriteTx } from '../meta/index.ts'
import { KeyRing } from './keyring.ts'

const newMaster = (): MasterKey => masterKeyFromBytes(randomBytes(32))
const hex = (master: MasterKey): string => master.id.toString('hex')

/** A MetaStore whose transactions start failing after a number of successful commits. */
class FailingMetaStore implements MetaStore {
  readonly inner: MetaStore
  readonly capabilities
  transactionsLeft = Infinity
  reads = 0
  constructor(inner: MetaStore) {
    this.inner = inner
    this.capabilities = inner.capabilities
  }
  async transact<T>(fn: (tx: WriteTx) => Promise<T>, options?: TransactOptions): Promise<T> {
    if (this.transactionsLeft <= 0) throw new StoreError('IO_ERROR', 'injected: the process died here')
    this.transactionsLeft -= 1
    return this.inner.transact(fn, options)
  }
  async read<T>(fn: (tx: ReadTx) => Promise<T>): Promise<T> {
    this.reads += 1
    return this.inner.read(fn)
  }
  async close(): Promise<void> {
    await this.inner.close()
  }
}

async function createDomains(ring: KeyRing, count: number): Promise<Map<KeyDomainId, DomainKeys>> {
  const keys = new Map<KeyDomainId, DomainKeys>()
  for (let i = 0; i < count; i++) {
    const domain = await ring.createDomain()
    keys.set(domain, await ring.keysFor(domain))
  }
  return keys
}

async function assertSameKeys(t: { same(found: unknown, wanted: unknown, message: string): boolean }, ring: KeyRing, expected: Map<KeyDomainId, DomainKeys>): Promise<void> {
  for (const [domain, keys] of expected) t.same(await ring.keysFor(domain), keys, `domain ${domain} keys unchanged`)
}

t.test('domains are numbered from 1, and their keys survive a reopen', async (t) => {
  const meta = new MemoryMetaStore()
  const master = newMaster()
  const ring = await KeyRing.open({ meta, masterKey: master, random: systemRandom })
  t.equal(await ring.keysFor(plainDomain), plainDomainKeys)
  const keys = await createDomains(ring, 3)
  t.same([...keys.keys()], [1, 2, 3])
  for (const domainKeys of keys.values()) {
    t.equal(domainKeys.idKey?.length, 32)
    t.equal(domainKeys.cipherKey?.length, 32)
  }
  t.notOk(keys.get(keyDomainIdFrom(1))!.cipherKey!.equals(keys.get(keyDomainIdFrom(2))!.cipherKey!))
  const reopened = await KeyRing.open({ meta, masterKey: master, random: systemRandom })
  await assertSameKeys(t, reopened, keys)
  t.same(await reopened.listDomains(), [1, 2, 3].map((domain) => ({ domain, wrappedBy: hex(master) })))
  t.same(await reopened.listDomains({ after: keyDomainIdFrom(1), limit: 1 }), [{ domain: 2, wrappedBy: hex(master) }])
  t.same(await reopened.masterStatus(), { masterKeyId: hex(master), rotatingTo: undefined })
  await t.rejects(reopened.keysFor(keyDomainIdFrom(4)), { code: 'NOT_FOUND' })
})

t.test('the records have the documented layouts', async (t) => {
  const meta = new MemoryMetaStore()
  const master = newMaster()
  const ring = await KeyRing.open({ meta, masterKey: master, random: systemRandom })
  await ring.createDomain()
  const [verifier, record, counter] = await meta.read((tx) =>
    tx.getMany([key('key', 'master'), key('key', 'domain', 1), key('sys', 'seq', 'keyDomain')]),
  )
  t.equal(verifier?.length, 78)
  t.same([verifier?.[0], verifier?.[1]], [1, 0])
  t.ok(verifier?.subarray(2, 10).equals(master.id))
  t.ok(verifier?.subarray(10, 18).equals(Buffer.alloc(8)))
  t.equal(record?.length, 69)
  t.equal(record?.[0], 1)
  t.ok(record?.subarray(1, 9).equals(master.id))
  t.same(counter, Buffer.from([1, 1, 0, 0, 0, 0, 0, 0, 0]))
})

t.test('a wrong master key fails open with both key ids', async (t) => {
  const meta = new MemoryMetaStore()
  const right = newMaster()
  const wrong = newMaster()
  await KeyRing.open({ meta, masterKey: right, random: systemRandom })
  await t.rejects(KeyRing.open({ meta, masterKey: wrong, random: systemRandom }), {
    code: 'KEY_UNAVAILABLE',
    message: `the master key does not match this data dir (expected key id ${hex(right)}, got ${hex(wrong)})`,
  })
  const previous = newMaster()
  await t.rejects(KeyRing.open({ meta, masterKey: wrong, previousMasterKey: previous, random: systemRandom }), {
    code: 'KEY_UNAVAILABLE',
    message: `the master key does not match this data dir (expected key id ${hex(right)}, got ${hex(wrong)}, previous ${hex(previous)})`,
  })
  t.ok(await KeyRing.open({ meta, masterKey: wrong, previousMasterKey: right, random: systemRandom }), 'the previous key alone opens a steady ring')
})

t.test('a damaged or moved domain record is KEY_UNAVAILABLE, never wrong keys', async (t) => {
  const meta = new MemoryMetaStore()
  const master = newMaster()
  const ring = await KeyRing.open({ meta, masterKey: master, random: systemRandom })
  await createDomains(ring, 2)
  const [one, two] = await meta.read((tx) => tx.getMany([key('key', 'domain', 1), key('key', 'domain', 2)]))
  const flipped = Buffer.from(one!)
  flipped[40]! ^= 1
  await meta.transact(async (tx) => {
    tx.put(key('key', 'domain', 1), flipped)
    tx.put(key('key', 'domain', 2), one!) // domain 1's record under domain 2's key
  })
  const fresh = await KeyRing.open({ meta, masterKey: master, random: systemRandom })
  await t.rejects(fresh.keysFor(keyDomainIdFrom(1)), { code: 'KEY_UNAVAILABLE' })
  await t.rejects(fresh.keysFor(keyDomainIdFrom(2)), { code: 'KEY_UNAVAILABLE' })
  await meta.transact(async (tx) => tx.put(key('key', 'domain', 2), Buffer.concat([Buffer.of(2), two!.subarray(1)])))
  await t.rejects(fresh.keysFor(keyDomainIdFrom(2)), { code: 'IO_ERROR', message: /version 2/ })
})

t.test('a missing verifier with domains present refuses to open', async (t) => {
  const meta = new MemoryMetaStore()
  const master = newMaster()
  const ring = await KeyRing.open({ meta, masterKey: master, random: systemRandom })
  await ring.createDomain()
  await meta.transact(async (tx) => tx.delete(key('key', 'master')))
  await t.rejects(KeyRing.open({ meta, masterKey: newMaster(), random: systemRandom }), { code: 'KEY_UNAVAILABLE', message: /verifier is missing/ })
})

t.test('rotation re-wraps every domain; the new key alone then gives identical keys', async (t) => {
  const meta = new MemoryMetaStore()
  const oldMaster = newMaster()
  const nextMaster = newMaster()
  const ring = await KeyRing.open({ meta, masterKey: oldMaster, random: systemRandom })
  const keys = await createDomains(ring, 5)
  t.same(await ring.rotateMaster(nextMaster, { domainsPerTransaction: 2 }), { rewrappedDomains: 5 })
  t.same((await ring.listDomains()).map((info) => info.wrappedBy), Array(5).fill(hex(nextMaster)))
  t.same(await ring.masterStatus(), { masterKeyId: hex(nextMaster), rotatingTo: undefined })
  const domain = await ring.createDomain()
  t.same((await ring.listDomains({ after: keyDomainIdFrom(5) }))[0], { domain, wrappedBy: hex(nextMaster) }, 'new domains use the new key')

  const reopened = await KeyRing.open({ meta, masterKey: nextMaster, random: systemRandom })
  await assertSameKeys(t, reopened, keys)
  await t.rejects(KeyRing.open({ meta, masterKey: oldMaster, random: systemRandom }), { code: 'KEY_UNAVAILABLE', message: /does not match/ })
  t.same(await reopened.rotateMaster(nextMaster), { rewrappedDomains: 0 }, 'rotating to the current key is a no-op')
})

t.test('an interrupted rotation is resumed by running it again with both keys', async (t) => {
  const meta = new FailingMetaStore(new MemoryMetaStore())
  const oldMaster = newMaster()
  const nextMaster = newMaster()
  const ring = await KeyRing.open({ meta, masterKey: oldMaster, random: systemRandom })
  const keys = await createDomains(ring, 7)
  meta.transactionsLeft = 2 // begin, one page of 2 domains, then the "crash"
  await t.rejects(ring.rotateMaster(nextMaster, { domainsPerTransaction: 2 }), { code: 'IO_ERROR' })
  meta.transactionsLeft = Infinity
  const wrappers = (await ring.listDomains()).map((info) => info.wrappedBy)
  t.same(wrappers, [...Array(2).fill(hex(nextMaster)), ...Array(5).fill(hex(oldMaster))])
  t.same(await ring.masterStatus(), { masterKeyId: hex(oldMaster), rotatingTo: hex(nextMaster) })

  for (const only of [oldMaster, nextMaster]) {
    await t.rejects(KeyRing.open({ meta, masterKey: only, random: systemRandom }), { code: 'KEY_UNAVAILABLE', message: /rotation .* was interrupted/ })
  }
  const resumed = await KeyRing.open({ meta, masterKey: nextMaster, previousMasterKey: oldMaster, random: systemRandom })
  await assertSameKeys(t, resumed, keys) // records wrapped by either key are readable meanwhile
  const during = await resumed.createDomain()
  t.equal((await resumed.listDomains({ after: keyDomainIdFrom(7) }))[0]?.wrappedBy, hex(nextMaster), 'domains created mid-rotation use the target key')
  await t.rejects(resumed.rotateMaster(newMaster()), { code: 'CONFLICT', message: /must be finished first/ })
  t.same(await resumed.rotateMaster(nextMaster, { domainsPerTransaction: 2 }), { rewrappedDomains: 5 })

  const after = await KeyRing.open({ meta, masterKey: nextMaster, random: systemRandom })
  await assertSameKeys(t, after, keys)
  t.ok(await after.keysFor(during))
  t.same(await after.masterStatus(), { masterKeyId: hex(nextMaster), rotatingTo: undefined })
})

t.test('an interrupted rotation can also be resumed from a ring opened with the old key as master', async (t) => {
  const meta = new FailingMetaStore(new MemoryMetaStore())
  const oldMaster = newMaster()
  const nextMaster = newMaster()
  const keys = await createDomains(await KeyRing.open({ meta, masterKey: oldMaster, random: systemRandom }), 3)
  const ring = await KeyRing.open({ meta, masterKey: oldMaster, random: systemRandom })
  meta.transactionsLeft = 1 // only the begin commits
  await t.rejects(ring.rotateMaster(nextMaster), { code: 'IO_ERROR' })
  meta.transactionsLeft = Infinity
  const resumed = await KeyRing.open({ meta, masterKey: oldMaster, previousMasterKey: nextMaster, random: systemRandom })
  t.same(await resumed.rotateMaster(nextMaster), { rewrappedDomains: 3 })
  await assertSameKeys(t, await KeyRing.open({ meta, masterKey: nextMaster, random: systemRandom }), keys)
})

t.test('domains created concurrently with a rotation end up on the new key', async (t) => {
  const meta = new MemoryMetaStore()
  const oldMaster = newMaster()
  const nextMaster = newMaster()
  const ring = await KeyRing.open({ meta, masterKey: oldMaster, random: systemRandom })
  await createDomains(ring, 20)
  const rotation = ring.rotateMaster(nextMaster, { domainsPerTransaction: 3 })
  const created = await Promise.all(Array.from({ length: 10 }, () => ring.createDomain()))
  await rotation
  t.equal(new Set(created).size, 10)
  const wrappers = new Set((await ring.listDomains()).map((info) => info.wrappedBy))
  t.same([...wrappers], [hex(nextMaster)])
})

t.test('only one rotation runs at a time', async (t) => {
  const ring = await KeyRing.open({ meta: new MemoryMetaStore(), masterKey: newMaster(), random: systemRandom })
  const nextMaster = newMaster()
  const first = ring.rotateMaster(nextMaster)
  await t.rejects(ring.rotateMaster(nextMaster), { code: 'CONFLICT' })
  await first
})

t.test('unwrapped keys are cached, within a bound', async (t) => {
  const meta = new FailingMetaStore(new MemoryMetaStore())
  const master = newMaster()
  await createDomains(await KeyRing.open({ meta, masterKey: master, random: systemRandom }), 3)
  const ring = await KeyRing.open({ meta, masterKey: master, random: systemRandom, domainCacheMax: 2 })
  const readsBefore = meta.reads
  await ring.keysFor(keyDomainIdFrom(1))
  await ring.keysFor(keyDomainIdFrom(1))
  t.equal(meta.reads - readsBefore, 1, 'a second lookup is served from memory')
  await ring.keysFor(keyDomainIdFrom(2))
  await ring.keysFor(keyDomainIdFrom(3)) // evicts 1, the least recently used
  await ring.keysFor(keyDomainIdFrom(3))
  t.equal(meta.reads - readsBefore, 3)
  await ring.keysFor(keyDomainIdFrom(1))
  t.equal(meta.reads - readsBefore, 4, 'an evicted domain is read again')
})

t.test('a rotation survives a real LevelDB close and reopen', async (t) => {
  const path = t.testdir()
  const oldMaster = newMaster()
  const nextMaster = newMaster()
  let meta = await LevelMetaStore.open(path)
  const keys = await createDomains(await KeyRing.open({ meta, masterKey: oldMaster, random: systemRandom }), 3)
  const ring = await KeyRing.open({ meta, masterKey: nextMaster, previousMasterKey: oldMaster, random: systemRandom })
  t.same(await ring.rotateMaster(nextMaster), { rewrappedDomains: 3 })
  await meta.close()
  meta = await LevelMetaStore.open(path)
  t.teardown(() => meta.close())
  await assertSameKeys(t, await KeyRing.open({ meta, masterKey: nextMaster, random: systemRandom }), keys)
  await t.rejects(KeyRing.open({ meta, masterKey: oldMaster, random: systemRandom }), { code: 'KEY_UNAVAILABLE' })
})
