import t from 'tap'
import { createCipheriv, createHash, randomInt } from 'node:crypto'
import { KiB, MiB, limits } from '../lib/index.ts'
import {
  ContentDefinedChunker,
  gearTableCopy,
  normalizationLevel,
  splitMix64Upper32,
  type ContentDefinedChunkerOptions,
} from './fastcdc.ts'
import { chunkStream, type Chunker } from './chunker.ts'

// Every randomized test derives its data from this seed; set CDC_SEED to replay a failure.
const seed = Number(process.env.CDC_SEED ?? randomInt(2 ** 31))
t.comment(`CDC_SEED=${seed}`)

/** Deterministic pseudo-random bytes (AES-256-CTR keystream keyed by the seed). */
function seededBytes(seedValue: number, length: number): Buffer {
  const key = createHash('sha256').update(`cdc-test-${seedValue}`).digest()
  return createCipheriv('aes-256-ctr', key, Buffer.alloc(16)).update(Buffer.alloc(length))
}

/** Deterministic small integers in [0, bound). */
function seededInts(seedValue: number): (bound: number) => number {
  const bytes = seededBytes(seedValue + 1, 1 << 20)
  let offset = 0
  return (bound) => {
    const value = bytes.readUInt32LE(offset % (bytes.length - 4))
    offset += 4
    return value % bound
  }
}

function chunkAll(chunker: Chunker, data: Buffer, pieceBytes: (index: number) => number): Buffer[] {
  const chunks: Buffer[] = []
  let offset = 0
  for (let index = 0; offset < data.length; index++) {
    const end = Math.min(data.length, offset + Math.max(1, pieceBytes(index)))
    chunks.push(...chunker.push(data.subarray(offset, end)))
    offset = end
  }
  chunks.push(...chunker.finish())
  return chunks
}

/** The documented rule, written the slow obvious way, on a whole buffer. */
function referenceLengths(data: Buffer, options: ContentDefinedChunkerOptions): number[] {
  const gear = gearTableCopy()
  const bits = Math.log2(options.averageBytes)
  const maskSmall = (0xffff_ffff << (32 - bits - normalizationLevel)) >>> 0
  const maskLarge = (0xffff_ffff << (32 - bits + normalizationLevel)) >>> 0
  const lengths: number[] = []
  for (let start = 0; start < data.length; ) {
    const remaining = data.length - start
    let length = Math.min(remaining, options.maxBytes)
    let hash = 0
    for (let position = options.minBytes; position < Math.min(remaining, options.maxBytes); position++) {
      hash = (hash * 2 + gear[data[start + position]!]!) % 2 ** 32
      const mask = position < options.averageBytes ? maskSmall : maskLarge
      if ((hash & mask) === 0) {
        length = position
        break
      }
    }
    lengths.push(length)
    start += length
  }
  return lengths
}

const small: ContentDefinedChunkerOptions = { minBytes: 1 * KiB, averageBytes: 4 * KiB, maxBytes: 16 * KiB }
const defaults: ContentDefinedChunkerOptions = {
  minBytes: limits.cdcMinBytesDefault,
  averageBytes: limits.cdcAverageBytesDefault,
  maxBytes: limits.cdcMaxBytesDefault,
}

t.test('the gear table is pinned (it is part of the format)', async (t) => {
  t.equal(splitMix64Upper32(0n, 1)[0], 0xe220a839, 'SplitMix64(0) first output, upper half')
  const digest = createHash('sha256').update(gearTableCopy()).digest('hex')
  t.equal(digest, '08fd4bac4d914a210f84040004a6c1cad41f50c7843500a9072ee7fa0404c03b')
  t.same([...gearTableCopy().subarray(0, 4)], [0xfc465269, 0x5040ab79, 0x839b773d, 0xd9d9508c])
})

t.test('invalid sizes are INVALID_ARGUMENT', async (t) => {
  const bad: ContentDefinedChunkerOptions[] = [
    { ...defaults, minBytes: limits.cdcMinBytesFloor - 1 },
    { ...defaults, minBytes: defaults.averageBytes },
    { ...defaults, averageBytes: defaults.maxBytes },
    { ...defaults, maxBytes: limits.chunkMaxBytes + 1 },
    { ...defaults, averageBytes: 3 * 256 * KiB },
    { ...defaults, minBytes: 1.5 * KiB + 0.5 },
    { ...defaults, maxBytes: Number.NaN },
  ]
  for (const options of bad) {
    t.throws(() => new ContentDefinedChunker(options), { code: 'INVALID_ARGUMENT' }, JSON.stringify(options))
  }
  t.doesNotThrow(() => new ContentDefinedChunker())
  t.doesNotThrow(() => new ContentDefinedChunker({ minBytes: 64, averageBytes: 128, maxBytes: 256 }))
})

t.test('boundaries match the documented rule', async (t) => {
  for (const [options, length] of [[small, 4 * MiB], [defaults, 24 * MiB]] as const) {
    const data = seededBytes(seed, length)
    const lengths = chunkAll(new ContentDefinedChunker(options), data, () => 64 * KiB).map((c) => c.length)
    t.same(lengths, referenceLengths(data, options), `seed ${seed} ${JSON.stringify(options)}`)
  }
})

t.test('chunks concatenate to the input, sizes in bounds, splits do not matter', async (t) => {
  const next = seededInts(seed)
  const cases: [ContentDefinedChunkerOptions, number, string, (index: number) => number][] = [
    [small, 512 * KiB + 17, 'one byte', () => 1],
    [small, 3 * MiB + 5, 'random sizes', () => 1 + next(40 * KiB)],
    [defaults, 20 * MiB + 3, 'random sizes', () => 1 + next(3 * MiB)],
    [defaults, 20 * MiB + 3, 'one buffer', () => Number.MAX_SAFE_INTEGER],
    [defaults, 9 * MiB, 'socket-sized', () => 64 * KiB],
  ]
  for (const [options, length, how, pieceBytes] of cases) {
    const what = `seed ${seed}, ${how}, ${length} bytes, ${JSON.stringify(options)}`
    const data = seededBytes(seed, length)
    const chunks = chunkAll(new ContentDefinedChunker(options), data, pieceBytes)
    t.ok(Buffer.concat(chunks).equals(data), `concatenation equals input (${what})`)
    const outOfBounds = chunks.slice(0, -1).filter((c) => c.length < options.minBytes || c.length > options.maxBytes)
    t.equal(outOfBounds.length, 0, `all but the last chunk within [min, max] (${what})`)
    const oneBuffer = chunkAll(new ContentDefinedChunker(options), data, () => length).map((c) => c.length)
    t.same(chunks.map((c) => c.length), oneBuffer, `boundaries independent of pushes (${what})`)
  }
})

t.test('an insertion near the start leaves most chunks unchanged', async (t) => {
  const data = seededBytes(seed, 32 * MiB)
  const inserted = Buffer.concat([data.subarray(0, 1000), Buffer.from('hello'), data.subarray(1000)])
  const digest = (chunk: Buffer): string => createHash('sha256').update(chunk).digest('hex')
  const before = new Set(chunkAll(new ContentDefinedChunker(), data, () => 1 * MiB).map(digest))
  const after = chunkAll(new ContentDefinedChunker(), inserted, () => 1 * MiB).map(digest)
  const kept = after.filter((id) => before.has(id)).length
  t.ok(kept >= after.length - 2, `seed ${seed}: ${kept} of ${after.length} chunks unchanged`)
})

t.test('average chunk size is near the target on random data', async (t) => {
  for (const [options, length] of [[small, 16 * MiB], [defaults, 64 * MiB]] as const) {
    const chunks = chunkAll(new ContentDefinedChunker(options), seededBytes(seed, length), () => 1 * MiB)
    const averageBytes = length / chunks.length
    t.ok(
      Math.abs(averageBytes / options.averageBytes - 1) < 0.3,
      `seed ${seed}: average ${Math.round(averageBytes)} vs target ${options.averageBytes}`,
    )
  }
})

t.test('all-zero input gives max-size chunks', async (t) => {
  const chunks = chunkAll(new ContentDefinedChunker(), Buffer.alloc(18 * MiB), () => 256 * KiB)
  t.same(chunks.map((c) => c.length), [4 * MiB, 4 * MiB, 4 * MiB, 4 * MiB, 2 * MiB])
})

t.test('chunks never alias pushed buffers; finish resets for the next stream', async (t) => {
  const chunker = new ContentDefinedChunker(small)
  const data = seededBytes(seed, 256 * KiB)
  const expected = chunkAll(new ContentDefinedChunker(small), data, () => 1000)
  const scratch = Buffer.alloc(1000) // a caller reusing one buffer for every push
  const chunks: Buffer[] = []
  for (let offset = 0; offset < data.length; offset += scratch.length) {
    const piece = scratch.subarray(0, data.copy(scratch, 0, offset))
    chunks.push(...chunker.push(piece))
    scratch.fill(0xee)
  }
  chunks.push(...chunker.finish())
  t.same(chunks, expected, `seed ${seed}`)
  t.same(chunkAll(chunker, data, () => 4096), expected, 'reused after finish')
  t.same(chunker.finish(), [], 'an empty stream has no chunks')
})

t.test('chunkStream yields the same chunks and honours the abort signal', async (t) => {
  const data = seededBytes(seed, 2 * MiB)
  async function* pieces(): AsyncGenerator<Uint8Array> {
    for (let offset = 0; offset < data.length; offset += 10_000) yield data.subarray(offset, offset + 10_000)
  }
  const chunks: Buffer[] = []
  for await (const chunk of chunkStream(pieces(), new ContentDefinedChunker(small))) chunks.push(chunk)
  t.same(chunks, chunkAll(new ContentDefinedChunker(small), data, () => data.length))

  const controller = new AbortController()
  const consume = async (): Promise<void> => {
    let count = 0
    for await (const _chunk of chunkStream(pieces(), new ContentDefinedChunker(small), controller.signal)) {
      if (++count === 3) controller.abort()
    }
  }
  await t.rejects(consume(), { code: 'ABORTED' })
})

t.test('chunks are copied into buffers from the given allocator', async (t) => {
  const data = seededBytes(seed, 512 * KiB)
  const sizes: number[] = []
  const allocate = (sizeBytes: number): Buffer => {
    sizes.push(sizeBytes)
    return Buffer.alloc(sizeBytes, 0xaa)
  }
  const chunks = chunkAll(new ContentDefinedChunker(small, allocate), data, () => 3000)
  t.same(chunks, chunkAll(new ContentDefinedChunker(small), data, () => 3000), `seed ${seed}`)
  t.same(sizes, chunks.map((c) => c.length), 'one allocation per chunk, of its exact size')
})
