import t from 'tap'
import { randomBytes } from 'node:crypto'
import { chunkIdFrom, keyDomainIdFrom, systemRandom, type ChunkId } from '../lib/index.ts'
import { openChunk, sealChunk, sealChunkParts, sealedOverheadBytes, unwrapDataKey, wrapDataKey } from './aead.ts'
import { deriveDomainKeys, plainDomainKeys } from './domain-keys.ts'
import { masterKeyFromBytes } from './master-key.ts'

const keys = deriveDomainKeys(keyDomainIdFrom(7), randomBytes(32))
const otherKeys = deriveDomainKeys(keyDomainIdFrom(8), randomBytes(32))
const newId = (): ChunkId => chunkIdFrom(randomBytes(32))

t.test('seal and open round-trip at several sizes', async (t) => {
  for (const size of [0, 1, 15, 16, 17, 4096, 256 * 1024 - 1, 256 * 1024, 256 * 1024 + 1, 1024 * 1024 + 3]) {
    const id = newId()
    const plain = randomBytes(size)
    const sealed = sealChunk(keys, id, plain, systemRandom)
    t.equal(sealed.length, size + sealedOverheadBytes, `size ${size}`)
    t.ok(openChunk(keys, id, sealed).equals(plain), `size ${size} opens`)
  }
})

t.test('sealChunkParts concatenates to a payload that opens', async (t) => {
  const id = newId()
  const plain = randomBytes(10_000)
  const parts = sealChunkParts(keys, id, plain, systemRandom)
  t.same(parts.map((part) => part.length), [12, 10_000, 16])
  t.ok(openChunk(keys, id, Buffer.concat(parts)).equals(plain))
})

t.test('the same plaintext seals differently each time (random nonce)', async (t) => {
  const id = newId()
  const plain = randomBytes(100)
  t.notOk(sealChunk(keys, id, plain, systemRandom).equals(sealChunk(keys, id, plain, systemRandom)))
})

t.test('a flipped bit anywhere is CHUNK_CORRUPT', async (t) => {
  const id = newId()
  const plain = randomBytes(64)
  const sealed = sealChunk(keys, id, plain, systemRandom)
  for (let at = 0; at < sealed.length; at++) {
    const tampered = Buffer.from(sealed)
    tampered[at]! ^= 0x01 << (at % 8)
    t.throws(() => openChunk(keys, id, tampered), { code: 'CHUNK_CORRUPT' }, `byte ${at}`)
  }
  const error = (() => {
    try {
      openChunk(keys, id, Buffer.concat([sealed.subarray(0, 20), Buffer.of(sealed[20]! ^ 1), sealed.subarray(21)]))
    } catch (error) {
      return error as Error
    }
  })()
  t.ok(error?.cause instanceof Error, 'the OpenSSL error is kept as cause')
})

t.test('truncated, extended and short payloads are CHUNK_CORRUPT', async (t) => {
  const id = newId()
  const sealed = sealChunk(keys, id, randomBytes(100), systemRandom)
  t.throws(() => openChunk(keys, id, sealed.subarray(0, sealed.length - 1)), { code: 'CHUNK_CORRUPT' })
  t.throws(() => openChunk(keys, id, Buffer.concat([sealed, Buffer.of(0)])), { code: 'CHUNK_CORRUPT' })
  t.throws(() => openChunk(keys, id, sealed.subarray(0, 27)), { code: 'CHUNK_CORRUPT' })
  t.throws(() => openChunk(keys, id, Buffer.alloc(0)), { code: 'CHUNK_CORRUPT' })
})

t.test('the wrong id or the wrong domain is CHUNK_CORRUPT', async (t) => {
  const id = newId()
  const sealed = sealChunk(keys, id, randomBytes(100), systemRandom)
  t.throws(() => openChunk(keys, newId(), sealed), { code: 'CHUNK_CORRUPT' })
  t.throws(() => openChunk(otherKeys, id, sealed), { code: 'CHUNK_CORRUPT' })
})

t.test('the plain domain is never sealed (a bug, not an operational error)', async (t) => {
  t.throws(() => sealChunk(plainDomainKeys, newId(), Buffer.alloc(1), systemRandom), { name: 'AssertionError' })
  t.throws(() => openChunk(plainDomainKeys, newId(), Buffer.alloc(40)), { name: 'AssertionError' })
})

t.test('wrap and unwrap data keys', async (t) => {
  const master = masterKeyFromBytes(randomBytes(32))
  const otherMaster = masterKeyFromBytes(randomBytes(32))
  const dataKey = randomBytes(32)
  const wrapped = wrapDataKey(master, dataKey, 'domain 1', systemRandom)
  t.equal(wrapped.length, 32 + sealedOverheadBytes)
  t.ok(unwrapDataKey(master, wrapped, 'domain 1').equals(dataKey))
  t.throws(() => unwrapDataKey(otherMaster, wrapped, 'domain 1'), { code: 'KEY_UNAVAILABLE' })
  t.throws(() => unwrapDataKey(master, wrapped, 'domain 2'), { code: 'KEY_UNAVAILABLE' })
  const tampered = Buffer.from(wrapped)
  tampered[30]! ^= 0x80
  t.throws(() => unwrapDataKey(master, tampered, 'domain 1'), { code: 'KEY_UNAVAILABLE' })
  t.throws(() => unwrapDataKey(master, wrapped.subarray(0, 28), 'domain 1'), { code: 'KEY_UNAVAILABLE' })
})
