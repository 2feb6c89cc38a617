import t from 'tap'
import { randomBytes } from 'node:crypto'
import { xtsDecryptSector, xtsEncryptSector } from './xts.ts'

const key64 = randomBytes(64)

t.test('XTS round-trips a sector and preserves its length', async (t) => {
  const plain = randomBytes(4096)
  const sealed = xtsEncryptSector(key64, 5, plain)
  t.equal(sealed.length, 4096)
  t.notOk(sealed.equals(plain))
  t.ok(xtsDecryptSector(key64, 5, sealed).equals(plain))
  t.ok(xtsDecryptSector(key64, 5n, sealed).equals(plain), 'bigint and number indexes agree')
  t.notOk(xtsDecryptSector(key64, 6, sealed).equals(plain), 'the wrong sector does not decrypt')
})

t.test('equal plaintext in different sectors gives different ciphertext', async (t) => {
  const plain = Buffer.alloc(4096, 0xab)
  const sectors = [0, 1, 2, 2 ** 40, 2n ** 64n - 1n].map((index) => xtsEncryptSector(key64, index, plain))
  for (let i = 0; i < sectors.length; i++) {
    for (let j = i + 1; j < sectors.length; j++) t.notOk(sectors[i]!.equals(sectors[j]!), `sectors ${i} and ${j}`)
  }
})

t.test('XTS writes into out when given', async (t) => {
  const plain = randomBytes(512)
  const out = Buffer.alloc(1024)
  const sealed = xtsEncryptSector(key64, 9, plain, out)
  t.equal(sealed.length, 512)
  t.equal(sealed.buffer, out.buffer)
  const back = Buffer.alloc(512)
  xtsDecryptSector(key64, 9, out.subarray(0, 512), back)
  t.ok(back.equals(plain))
})

t.test('XTS rejects bad arguments', async (t) => {
  t.throws(() => xtsEncryptSector(randomBytes(32), 0, Buffer.alloc(16)), { name: 'AssertionError' })
  t.throws(() => xtsEncryptSector(key64, 0, Buffer.alloc(15)), { name: 'AssertionError' })
  t.throws(() => xtsEncryptSector(Buffer.alloc(64, 1), 0, Buffer.alloc(16)), { name: 'AssertionError' })
  t.throws(() => xtsEncryptSector(key64, -1, Buffer.alloc(16)), { name: 'AssertionError' })
  t.throws(() => xtsEncryptSector(key64, 2n ** 64n, Buffer.alloc(16)), { name: 'AssertionError' })
})
