import t from 'tap'
import { createHmac, hkdfSync } from 'node:crypto'
import { keyDomainIdFrom, plainDomain } from '../lib/index.ts'
import { deriveDomainKeys, plainDomainKeys } from './domain-keys.ts'
import { masterKeyFromBytes } from './master-key.ts'

t.test('domain keys are deterministic, distinct, and follow the documented HKDF', async (t) => {
  const dataKey = Buffer.alloc(32, 0x42)
  const a = deriveDomainKeys(keyDomainIdFrom(3), dataKey)
  const b = deriveDomainKeys(keyDomainIdFrom(3), Buffer.from(dataKey))
  t.same(a, b)
  t.equal(a.idKey?.length, 32)
  t.equal(a.cipherKey?.length, 32)
  t.notOk(a.idKey!.equals(a.cipherKey!))
  // docs/format/keys.md: HKDF-SHA256, empty salt, info strings below.
  const expectedIdKey = Buffer.from(hkdfSync('sha256', dataKey, Buffer.alloc(0), 'cairn v1 chunk id key', 32))
  const expectedCipherKey = Buffer.from(hkdfSync('sha256', dataKey, Buffer.alloc(0), 'cairn v1 chunk cipher key', 32))
  t.ok(a.idKey!.equals(expectedIdKey))
  t.ok(a.cipherKey!.equals(expectedCipherKey))
  const other = deriveDomainKeys(keyDomainIdFrom(3), Buffer.alloc(32, 0x43))
  t.notOk(other.idKey!.equals(a.idKey!))
})

t.test('the plain domain has no keys', async (t) => {
  t.equal(plainDomainKeys.domain, plainDomain)
  t.equal(plainDomainKeys.idKey, undefined)
  t.equal(plainDomainKeys.cipherKey, undefined)
  t.throws(() => deriveDomainKeys(plainDomain, Buffer.alloc(32)), { name: 'AssertionError' })
})

t.test('master key id is HMAC-SHA256(key, "cairn master key id")[0..8]', async (t) => {
  const key = Buffer.alloc(32, 7)
  const expected = createHmac('sha256', key).update('cairn master key id').digest().subarray(0, 8)
  const master = masterKeyFromBytes(key)
  t.ok(master.id.equals(expected))
  t.ok(master.key.equals(key))
  key.fill(0)
  t.ok(master.key.equals(Buffer.alloc(32, 7)), 'the master key holds its own copy')
})
