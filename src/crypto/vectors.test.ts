// The test vectors of docs/format/keys.md section 8: if one of these changes, stored data written
// by an earlier Cairn no longer opens. Change the spec and a format version, never just this file.
import t from 'tap'
import { chunkIdFrom, keyDomainIdFrom, type Random } from '../lib/index.ts'
import { deriveDomainKeys, masterKeyFromBytes, openChunk, sealChunk, unwrapDataKey, wrapDataKey } from './index.ts'

const counting: Random = { bytes: (length) => Buffer.from(Array.from({ length }, (_, index) => index)) }
const master = masterKeyFromBytes(Buffer.from('000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f', 'hex'))
const dataKey = Buffer.alloc(32, 0x42)
const keys = deriveDomainKeys(keyDomainIdFrom(1), dataKey)

t.test('master key id', async (t) => {
  t.equal(master.id.toString('hex'), '2347215e4aff7d3a')
})

t.test('domain keys', async (t) => {
  t.equal(keys.idKey?.toString('hex'), '859478fff4a7cbc4caf7a8dab52b053c7fb03bb9af1887623ffc2e7b3aedada9')
  t.equal(keys.cipherKey?.toString('hex'), 'ff7b3dcb70ee723efaf5dcdfc5655f704bd676953fb146b69d4c7b3d7980e75d')
})

t.test('sealed chunk', async (t) => {
  const id = chunkIdFrom(Buffer.alloc(32, 0x11))
  const sealed = sealChunk(keys, id, Buffer.from('cairn'), counting)
  t.equal(sealed.toString('hex'), '000102030405060708090a0be2548fee61ee4c1a2f987e303e5459f70d599239a5')
  t.equal(openChunk(keys, id, sealed).toString(), 'cairn')
})

t.test('wrapped data key', async (t) => {
  const wrapped = wrapDataKey(master, dataKey, 'cairn key domain 1', counting)
  t.equal(
    wrapped.toString('hex'),
    '000102030405060708090a0b0540945987a78059cf03d5c9f3ab3a2fc194c576b2391d3e7a25a7c75f2b42f0c5f228393529a0ef0272e59daa1fbee0',
  )
  t.ok(unwrapDataKey(master, wrapped, 'cairn key domain 1').equals(dataKey))
})
