import t from 'tap'
import { randomBytes } from 'node:crypto'
import { zstdCompressSync } from 'node:zlib'
import { KiB, MiB, limits } from '../lib/index.ts'
import { compressChunk, compressionCodec, decompressChunk } from './compress.ts'

function textLike(lengthBytes: number): Buffer {
  const lines: string[] = []
  let total = 0
  for (let index = 0; total < lengthBytes; index++) {
    const level = index % 7 === 0 ? 'WARN' : 'INFO'
    const line = `{"seq":${index},"level":"${level}","msg":"request ${(index * 7919) % 10007} took ${index % 113} ms"}\n`
    lines.push(line)
    total += line.length
  }
  return Buffer.from(lines.join('')).subarray(0, lengthBytes)
}

t.test('the codec name is recorded in the format', async (t) => {
  t.equal(compressionCodec, 'zstd')
})

t.test('compressible chunks round-trip', async (t) => {
  const halfZero = randomBytes(1 * MiB)
  for (let page = 0; page < halfZero.length; page += 8 * KiB) halfZero.fill(0, page, page + 4 * KiB)
  const randomThenZero = Buffer.concat([randomBytes(512 * KiB), Buffer.alloc(512 * KiB)])
  const cases: [string, Buffer][] = [
    ['text 1 MiB', textLike(1 * MiB)],
    ['text 1000 bytes', textLike(1000)],
    ['half-zero pages', halfZero],
    ['random head, zero tail', randomThenZero],
    ['zero max chunk', Buffer.alloc(limits.chunkMaxBytes)],
  ]
  for (const [what, plain] of cases) {
    const stored = compressChunk(plain)
    if (!stored) {
      t.fail(`${what}: expected to compress`)
      continue
    }
    t.ok(stored.length <= plain.length - plain.length / 16, `${what}: saves at least 1/16`)
    t.ok(decompressChunk(stored, plain.length).equals(plain), `${what}: round-trips`)
  }
  const text = textLike(10 * KiB)
  t.ok(decompressChunk(compressChunk(new Uint8Array(text))!, text.length).equals(text), 'accepts a Uint8Array')
})

t.test('chunks that would not shrink are left raw', async (t) => {
  t.equal(compressChunk(randomBytes(1 * MiB)), undefined, 'random 1 MiB')
  t.equal(compressChunk(randomBytes(1000)), undefined, 'random 1000 bytes')
  t.equal(compressChunk(Buffer.alloc(100)), undefined, 'too small to bother')
  t.equal(compressChunk(new Uint8Array(0)), undefined, 'empty')
  const barely = randomBytes(1 * MiB)
  barely.fill(0, 0, 32 * KiB) // saves ~3%, less than 1/16
  t.equal(compressChunk(barely), undefined, 'saves less than 1/16')
})

t.test('decompression failures are CHUNK_CORRUPT with a cause', async (t) => {
  const plain = textLike(256 * KiB)
  const stored = compressChunk(plain)!
  const flipped = Buffer.from(stored)
  flipped[Math.floor(flipped.length / 2)]! ^= 0xff
  const cases: [string, Uint8Array, number][] = [
    ['garbage', randomBytes(1000), plain.length],
    ['truncated', stored.subarray(0, stored.length - 10), plain.length],
    ['empty', new Uint8Array(0), plain.length],
    ['claims fewer bytes', stored, plain.length - 1],
    ['claims more bytes', stored, plain.length + 1],
    ['claims zero bytes', stored, 0],
  ]
  for (const [what, bytes, plainBytes] of cases) {
    t.throws(() => decompressChunk(bytes, plainBytes), { code: 'CHUNK_CORRUPT' }, what)
  }
  try {
    decompressChunk(randomBytes(1000), plain.length)
    t.fail('garbage decoded')
  } catch (error) {
    t.ok((error as Error).cause, 'the codec error is kept as the cause')
  }
  // A flipped byte either fails to decode or decodes to other bytes, which the chunk id catches.
  let decoded: Buffer | undefined
  try {
    decoded = decompressChunk(flipped, plain.length)
  } catch (error) {
    t.equal((error as { code?: string }).code, 'CHUNK_CORRUPT', 'flipped byte')
  }
  if (decoded) t.notOk(decoded.equals(plain), 'flipped byte decodes to different bytes')
})

t.test('output is bounded by the claimed plain length', async (t) => {
  const bomb = zstdCompressSync(Buffer.alloc(64 * MiB)) // 64 MiB of zeros in a few KiB
  t.ok(bomb.length < 64 * KiB)
  t.throws(() => decompressChunk(bomb, 1 * MiB), { code: 'CHUNK_CORRUPT' }, 'does not inflate past the claim')
  for (const impossible of [-1, 1.5, Number.NaN, limits.chunkMaxBytes + 1]) {
    t.throws(() => decompressChunk(bomb, impossible), { code: 'CHUNK_CORRUPT' }, `plain length ${impossible}`)
  }
})
