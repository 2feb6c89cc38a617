import t from 'tap'
import { createCipheriv, createHash, randomInt } from 'node:crypto'
import { KiB, limits } from '../lib/index.ts'
import { FixedChunker } from './fixed.ts'
import { chunkStream } from './chunker.ts'

const seed = Number(process.env.CHUNK_SEED ?? randomInt(2 ** 31))
t.comment(`CHUNK_SEED=${seed}`)

function seededBytes(seedValue: number, length: number): Buffer {
  const key = createHash('sha256').update(`fixed-test-${seedValue}`).digest()
  return createCipheriv('aes-256-ctr', key, Buffer.alloc(16)).update(Buffer.alloc(length))
}

function chunkAll(chunker: FixedChunker, data: Buffer, pieceBytes: () => number): Buffer[] {
  const chunks: Buffer[] = []
  for (let offset = 0; offset < data.length; ) {
    const end = Math.min(data.length, offset + pieceBytes())
    chunks.push(...chunker.push(data.subarray(offset, end)))
    offset = end
  }
  return [...chunks, ...chunker.finish()]
}

t.test('invalid sizes are INVALID_ARGUMENT', async (t) => {
  for (const bad of [0, -1, 1.5, Number.NaN, limits.chunkMaxBytes + 1]) {
    t.throws(() => new FixedChunker(bad), { code: 'INVALID_ARGUMENT' }, String(bad))
  }
  t.equal(new FixedChunker().chunkBytes, limits.fixedChunkBytesDefault)
})

t.test('chunks are aligned and independent of how the input is pushed', async (t) => {
  const chunkBytes = 64 * KiB
  const data = seededBytes(seed, 10 * chunkBytes + 123)
  const pieceSizes: [string, () => number][] = [
    ['one buffer', () => data.length],
    ['one byte', () => 1],
    ['random sizes', () => 1 + randomInt(3 * chunkBytes)],
    ['exact chunks', () => chunkBytes],
  ]
  for (const [how, pieceBytes] of pieceSizes) {
    const chunks = chunkAll(new FixedChunker(chunkBytes), data, pieceBytes)
    t.same(chunks.map((c) => c.length), [...Array(10).fill(chunkBytes), 123], `seed ${seed}: ${how}`)
    t.ok(Buffer.concat(chunks).equals(data), `seed ${seed}: ${how}: concatenation equals input`)
  }
  t.same(chunkAll(new FixedChunker(chunkBytes), data.subarray(0, 2 * chunkBytes), () => 1000).length, 2, 'no empty tail')
})

t.test('chunks never alias pushed buffers; finish resets', async (t) => {
  const chunker = new FixedChunker(4 * KiB)
  const data = seededBytes(seed, 40 * KiB + 7)
  const scratch = Buffer.alloc(3000)
  const chunks: Buffer[] = []
  for (let offset = 0; offset < data.length; offset += scratch.length) {
    chunks.push(...chunker.push(scratch.subarray(0, data.copy(scratch, 0, offset))))
    scratch.fill(0xee)
  }
  chunks.push(...chunker.finish())
  t.ok(Buffer.concat(chunks).equals(data), `seed ${seed}`)
  t.same(chunker.finish(), [], 'empty after finish')
  t.same(chunkAll(chunker, data, () => 5000), chunks, 'reusable after finish')
})

t.test('chunkStream works with the fixed chunker', async (t) => {
  const data = seededBytes(seed, 300 * KiB)
  async function* pieces(): AsyncGenerator<Uint8Array> {
    for (let offset = 0; offset < data.length; offset += 7000) yield data.subarray(offset, offset + 7000)
  }
  const chunks: Buffer[] = []
  for await (const chunk of chunkStream(pieces(), new FixedChunker(128 * KiB))) chunks.push(chunk)
  t.same(chunks.map((c) => c.length), [128 * KiB, 128 * KiB, 44 * KiB])
  t.ok(Buffer.concat(chunks).equals(data))
})

t.test('chunks are buffers from the given allocator', async (t) => {
  const sizes: number[] = []
  const allocate = (sizeBytes: number): Buffer => {
    sizes.push(sizeBytes)
    return Buffer.alloc(sizeBytes, 0xaa)
  }
  const data = seededBytes(seed, 10 * KiB + 1)
  const chunks = chunkAll(new FixedChunker(4 * KiB, allocate), data, () => 3000)
  t.ok(Buffer.concat(chunks).equals(data), `seed ${seed}`)
  t.same(sizes, [4 * KiB, 4 * KiB, 4 * KiB, 2 * KiB + 1], 'the tail is copied into a buffer of its size')
})
