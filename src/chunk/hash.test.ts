import t from 'tap'
import { createHash } from 'node:crypto'
import { chunkIdHex } from '../lib/index.ts'
import { createChunkHasher, defaultHashAlgorithm, hashAlgorithmCodes, hashAlgorithmFromCode } from './hash.ts'

const abc = Buffer.from('abc')
const key = Buffer.alloc(32, 7)

t.test('known vectors', async (t) => {
  const sha256 = createChunkHasher('sha256')
  const blake3 = createChunkHasher('blake3')
  t.equal(chunkIdHex(sha256.id(abc)), 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad', 'SHA-256("abc")')
  t.equal(chunkIdHex(blake3.id(new Uint8Array(0))), 'af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262', 'BLAKE3("")')
  t.equal(chunkIdHex(blake3.id(abc)), '6437b3ac38465133ffb63b75273a8db548c558465d79db03fd359c6cd5bd9d85', 'BLAKE3("abc")')
  t.equal(sha256.algorithm, 'sha256')
  t.equal(blake3.algorithm, 'blake3')
})

t.test('keyed ids differ from plain ids and between keys', async (t) => {
  for (const algorithm of ['sha256', 'blake3'] as const) {
    const hasher = createChunkHasher(algorithm)
    const plain = chunkIdHex(hasher.id(abc))
    const keyed = chunkIdHex(hasher.id(abc, key))
    t.not(keyed, plain, `${algorithm}: keyed differs from plain`)
    t.not(chunkIdHex(hasher.id(abc, Buffer.alloc(32, 8))), keyed, `${algorithm}: depends on the key`)
    t.equal(chunkIdHex(hasher.id(abc, key)), keyed, `${algorithm}: deterministic`)
    t.equal(hasher.id(abc, key).length, 32)
  }
  const hmac = chunkIdHex(createChunkHasher('sha256').id(abc, key))
  t.not(hmac, createHash('sha256').update(abc).digest('hex'), 'HMAC differs from SHA-256')
  t.throws(() => createChunkHasher('blake3').id(abc, Buffer.alloc(16)), 'keyed BLAKE3 needs 32 key bytes')
})

t.test('format codes round-trip; the default is the measured faster algorithm', async (t) => {
  t.equal(hashAlgorithmFromCode(hashAlgorithmCodes.sha256), 'sha256')
  t.equal(hashAlgorithmFromCode(hashAlgorithmCodes.blake3), 'blake3')
  t.throws(() => hashAlgorithmFromCode(99))
  t.equal(defaultHashAlgorithm, 'blake3')
})
