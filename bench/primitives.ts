// Single-core throughput of the primitives on the write and read paths: chunk-id hashes, AEAD,
// compression codecs, the chunkers, buffer allocation. Rates are bytes per CPU-second of this
// process (process.cpuUsage, user + system, all threads), the median of several rounds, so a
// native library that quietly used more threads could not look faster than it is. Wall-clock
// rates are reported beside them.
//
// Run: node bench/primitives.ts [--seconds 1] [--only hash,aead,compress,chunker,copy]  (~2 min)
// The exported functions are reused by the chunk-store benchmark to compute ratios in one run.
// Inputs rotate over >= 64 MiB of buffers so measurements do not run from a warm L2 cache.
import { createCipheriv, createHash, createHmac, randomBytes } from 'node:crypto'
import * as zlib from 'node:zlib'
import { blake3, Blake3Hasher } from '@napi-rs/blake-hash'
import { ContentDefinedChunker, type ContentDefinedChunkerOptions } from '../src/chunk/fastcdc.ts'
import { FixedChunker } from '../src/chunk/fixed.ts'
import { allocateFreshChunk } from '../src/chunk/chunker.ts'
import { compressChunk, decompressChunk } from '../src/chunk/compress.ts'
import { KiB, MiB, formatSize } from '../src/lib/index.ts'

export interface Throughput {
  name: string
  /** Bytes processed per CPU-second of this process: the number to compare. */
  bytesPerCpuSecond: number
  /** Bytes processed per wall-clock second. */
  bytesPerSecond: number
  /** Output bytes / input bytes, for codecs; undefined otherwise. */
  ratio?: number
}

/**
 * Run `work` (which returns the number of bytes it processed) repeatedly for about `seconds`
 * after a short warm-up, in rounds; returns the median round's rates.
 */
export function measureThroughput(name: string, seconds: number, work: () => number): Throughput {
  const roundCount = 5
  const warmUpEndMs = performance.now() + Math.min(250, seconds * 200)
  while (performance.now() < warmUpEndMs) work()
  const rounds: { cpu: number; wall: number }[] = []
  for (let round = 0; round < roundCount; round++) {
    const wallStartMs = performance.now()
    const cpuStart = process.cpuUsage()
    const roundEndMs = wallStartMs + (seconds * 1000) / roundCount
    let bytes = 0
    do bytes += work()
    while (performance.now() < roundEndMs)
    const cpu = process.cpuUsage(cpuStart)
    const cpuSeconds = (cpu.user + cpu.system) / 1e6
    const wallSeconds = (performance.now() - wallStartMs) / 1000
    rounds.push({ cpu: bytes / Math.max(cpuSeconds, 1e-6), wall: bytes / wallSeconds })
  }
  const median = (values: number[]): number => values.sort((a, b) => a - b)[Math.floor(values.length / 2)]!
  return { name, bytesPerCpuSecond: median(rounds.map((r) => r.cpu)), bytesPerSecond: median(rounds.map((r) => r.wall)) }
}

// ---- data ----

/** A seeded xorshift32 stream (reproducible inputs; not for anything but benchmarks). */
function xorshift32(seed: number): () => number {
  let state = seed >>> 0 || 0x9e3779b9
  return () => {
    state ^= state << 13
    state ^= state >>> 17
    state ^= state << 5
    return (state >>>= 0)
  }
}

export type SampleKind = 'random' | 'text' | 'half-zero'

/** Sample data: random bytes; text-like log/JSON lines; 4 KiB pages, half of them zero. */
export function sampleData(kind: SampleKind, lengthBytes: number, seed = 1): Buffer {
  const next = xorshift32(seed)
  switch (kind) {
    case 'random':
      return randomBytes(lengthBytes)
    case 'half-zero': {
      const out = randomBytes(lengthBytes)
      for (let page = 0; page < lengthBytes; page += 4 * KiB) if (next() & 1) out.fill(0, page, page + 4 * KiB)
      return out
    }
    case 'text':
      return textLike(lengthBytes, next)
  }
}

function textLike(lengthBytes: number, next: () => number): Buffer {
  const letters = 'etaoinshrdlcumwfgypbvkjxqz'
  const words = Array.from({ length: 2000 }, () => {
    let word = ''
    for (let i = 2 + (next() % 8); i > 0; i--) word += letters[Math.min(next() % 26, next() % 26)]
    return word
  })
  const levels = ['INFO', 'INFO', 'INFO', 'DEBUG', 'WARN', 'ERROR']
  const out = Buffer.allocUnsafe(lengthBytes)
  let offset = 0
  let timeMs = 1_700_000_000_000
  while (offset < lengthBytes) {
    timeMs += next() % 5000
    let line = `{"ts":"${new Date(timeMs).toISOString()}","level":"${levels[next() % levels.length]}",`
    line += `"req":"${(next() % 0xfffff).toString(16)}","latency_ms":${next() % 900},"msg":"`
    for (let i = 3 + (next() % 12); i > 0; i--) line += words[Math.min(next() % 2000, next() % 2000)] + ' '
    line += '"}\n'
    offset += out.write(line, offset)
  }
  return out
}

/** Buffers of `chunkBytes` totalling at least `totalBytes`, to rotate over. */
function rotation(kind: SampleKind, chunkBytes: number, totalBytes = 64 * MiB): Buffer[] {
  const count = Math.max(4, Math.ceil(totalBytes / chunkBytes))
  const data = sampleData(kind, Math.min(count * chunkBytes, 256 * MiB))
  return Array.from({ length: count }, (_, i) => {
    const offset = (i * chunkBytes) % (data.length - chunkBytes + 1)
    return data.subarray(offset, offset + chunkBytes)
  })
}

// ---- hashes and AEAD ----

export type BenchHash = 'sha256' | 'blake3' | 'blake3-keyed' | 'hmac-sha256' | 'md5'
export const benchHashes: readonly BenchHash[] = ['sha256', 'blake3', 'blake3-keyed', 'hmac-sha256', 'md5']

export function measureHashThroughput(algorithm: BenchHash, chunkBytes: number, seconds: number): Throughput {
  const buffers = rotation('random', chunkBytes)
  const key = randomBytes(32)
  const hash: (data: Buffer) => Buffer = {
    sha256: (data: Buffer) => createHash('sha256').update(data).digest(),
    blake3: (data: Buffer) => blake3(data),
    'blake3-keyed': (data: Buffer) => Blake3Hasher.newKeyed(key).update(data).digestBuffer(),
    'hmac-sha256': (data: Buffer) => createHmac('sha256', key).update(data).digest(),
    md5: (data: Buffer) => createHash('md5').update(data).digest(),
  }[algorithm]
  let index = 0
  return measureThroughput(`${algorithm} ${formatSize(chunkBytes)}`, seconds, () => {
    const data = buffers[index++ % buffers.length]!
    hash(data)
    return data.length
  })
}

/** AES-256-GCM encryption (a fresh cipher and IV per chunk, as the chunk store does). */
export function measureAeadThroughput(chunkBytes: number, seconds: number): Throughput {
  const buffers = rotation('random', chunkBytes)
  const key = randomBytes(32)
  const output = Buffer.allocUnsafe(chunkBytes + 16)
  let index = 0
  return measureThroughput(`aes-256-gcm ${formatSize(chunkBytes)}`, seconds, () => {
    const data = buffers[index++ % buffers.length]!
    const cipher = createCipheriv('aes-256-gcm', key, randomBytes(12))
    const written = cipher.update(data).copy(output)
    cipher.final()
    cipher.getAuthTag().copy(output, written)
    return data.length
  })
}

// ---- compression ----

export type CompressionCandidate = 'zstd-1' | 'zstd-3' | 'deflate-1' | 'brotli-1'
export const compressionCandidates: readonly CompressionCandidate[] = ['zstd-1', 'zstd-3', 'deflate-1', 'brotli-1']

const compressors: Record<CompressionCandidate, (data: Buffer) => Buffer> = {
  'zstd-1': (data) => zlib.zstdCompressSync(data, { params: { [zlib.constants.ZSTD_c_compressionLevel]: 1 } }),
  'zstd-3': (data) => zlib.zstdCompressSync(data, { params: { [zlib.constants.ZSTD_c_compressionLevel]: 3 } }),
  'deflate-1': (data) => zlib.deflateRawSync(data, { level: 1 }),
  'brotli-1': (data) =>
    zlib.brotliCompressSync(data, {
      params: { [zlib.constants.BROTLI_PARAM_QUALITY]: 1, [zlib.constants.BROTLI_PARAM_SIZE_HINT]: data.length },
    }),
}
const decompressors: Record<CompressionCandidate, (data: Buffer) => Buffer> = {
  'zstd-1': (data) => zlib.zstdDecompressSync(data),
  'zstd-3': (data) => zlib.zstdDecompressSync(data),
  'deflate-1': (data) => zlib.inflateRawSync(data),
  'brotli-1': (data) => zlib.brotliDecompressSync(data),
}

/** Compression of `kind` data in `chunkBytes` chunks; ratio is compressed / plain. */
export function measureCompression(
  candidate: CompressionCandidate,
  kind: SampleKind,
  chunkBytes: number,
  seconds: number,
): Throughput {
  const buffers = rotation(kind, chunkBytes, 32 * MiB)
  let index = 0
  let plainBytes = 0
  let compressedBytes = 0
  const result = measureThroughput(`${candidate} compress ${kind}`, seconds, () => {
    const data = buffers[index++ % buffers.length]!
    compressedBytes += compressors[candidate](data).length
    plainBytes += data.length
    return data.length
  })
  return { ...result, ratio: compressedBytes / plainBytes }
}

/** Decompression rate, in plain bytes per second. */
export function measureDecompression(
  candidate: CompressionCandidate,
  kind: SampleKind,
  chunkBytes: number,
  seconds: number,
): Throughput {
  const compressed = rotation(kind, chunkBytes, 32 * MiB).map((data) => compressors[candidate](data))
  let index = 0
  return measureThroughput(`${candidate} decompress ${kind}`, seconds, () =>
    decompressors[candidate](compressed[index++ % compressed.length]!).length,
  )
}

/** The store's compressChunk/decompressChunk (codec + incompressibility pre-check), per data kind. */
export function measureChunkCompression(kind: SampleKind, chunkBytes: number, seconds: number): Throughput[] {
  const buffers = rotation(kind, chunkBytes, 32 * MiB)
  let index = 0
  let plainBytes = 0
  let storedBytes = 0
  const compress = measureThroughput(`compressChunk ${kind}`, seconds, () => {
    const data = buffers[index++ % buffers.length]!
    storedBytes += compressChunk(data)?.length ?? data.length
    plainBytes += data.length
    return data.length
  })
  const stored = buffers.flatMap((data) => {
    const compressed = compressChunk(data)
    return compressed ? [{ compressed, plainBytes: data.length }] : []
  })
  if (stored.length === 0) return [{ ...compress, ratio: storedBytes / plainBytes }]
  const decompress = measureThroughput(`decompressChunk ${kind}`, seconds, () => {
    const { compressed, plainBytes: length } = stored[index++ % stored.length]!
    return decompressChunk(compressed, length).length
  })
  return [{ ...compress, ratio: storedBytes / plainBytes }, decompress]
}

/**
 * zstd-1 through the async zlib API (libuv thread pool), `concurrency` chunks in flight, output
 * chunkSize large enough for one round trip per chunk: the alternative to compressChunk's sync call.
 */
export async function measureAsyncCompression(
  kind: SampleKind,
  chunkBytes: number,
  concurrency: number,
  seconds: number,
): Promise<Throughput> {
  const buffers = rotation(kind, chunkBytes, 32 * MiB)
  const options = { chunkSize: 2 * chunkBytes, params: { [zlib.constants.ZSTD_c_compressionLevel]: 1 } }
  const compress = (data: Buffer): Promise<Buffer> =>
    new Promise((resolve, reject) => zlib.zstdCompress(data, options, (error, out) => (error ? reject(error) : resolve(out))))
  const run = async (untilMs: number): Promise<number> => {
    let next = 0
    let bytes = 0
    const lane = async (): Promise<void> => {
      while (performance.now() < untilMs) {
        const data = buffers[next++ % buffers.length]!
        await compress(data)
        bytes += data.length
      }
    }
    await Promise.all(Array.from({ length: concurrency }, lane))
    return bytes
  }
  await run(performance.now() + 200)
  const wallStartMs = performance.now()
  const cpuStart = process.cpuUsage()
  const bytes = await run(wallStartMs + seconds * 1000)
  const cpu = process.cpuUsage(cpuStart)
  return {
    name: `zstd-1 async x${concurrency} ${kind}`,
    bytesPerCpuSecond: bytes / ((cpu.user + cpu.system) / 1e6),
    bytesPerSecond: bytes / ((performance.now() - wallStartMs) / 1000),
  }
}

// ---- chunkers and copies ----

/**
 * Chunking random data pushed in `pushBytes` pieces (64 KiB ~ socket reads). With `recycle`,
 * chunks go into one reused buffer (the best a recycling ChunkAllocator can do) instead of fresh
 * allocations.
 */
export function measureChunkerThroughput(
  options: ContentDefinedChunkerOptions | { fixedChunkBytes: number },
  pushBytes: number,
  seconds: number,
  recycle = false,
): Throughput {
  const data = sampleData('random', 64 * MiB)
  const isFixed = 'fixedChunkBytes' in options
  const name = isFixed
    ? `fixed ${formatSize(options.fixedChunkBytes)}, pushes of ${formatSize(pushBytes)}`
    : `fastcdc avg ${formatSize(options.averageBytes)}, pushes of ${formatSize(pushBytes)}`
  const slab = Buffer.allocUnsafe(isFixed ? options.fixedChunkBytes : options.maxBytes)
  const allocate = recycle ? (sizeBytes: number) => slab.subarray(0, sizeBytes) : allocateFreshChunk
  return measureThroughput(`${name}${recycle ? ', recycled buffers' : ''}`, seconds, () => {
    const chunker = isFixed ? new FixedChunker(options.fixedChunkBytes, allocate) : new ContentDefinedChunker(options, allocate)
    for (let offset = 0; offset < data.length; offset += pushBytes) chunker.push(data.subarray(offset, offset + pushBytes))
    chunker.finish()
    return data.length
  })
}

/** A memory copy into a reused buffer vs into a freshly allocated one (the chunkers allocate). */
export function measureCopyThroughput(chunkBytes: number, fresh: boolean, seconds: number): Throughput {
  const buffers = rotation('random', chunkBytes)
  const target = Buffer.allocUnsafe(chunkBytes)
  let index = 0
  return measureThroughput(`copy ${formatSize(chunkBytes)} into a ${fresh ? 'fresh' : 'reused'} buffer`, seconds, () => {
    const data = buffers[index++ % buffers.length]!
    ;(fresh ? Buffer.allocUnsafe(chunkBytes) : target).set(data)
    return data.length
  })
}

// ---- report ----

function row(result: Throughput): string {
  const rate = (bytesPerSecond: number): string => `${(bytesPerSecond / 1e6).toFixed(0)}`
  const ratio = result.ratio === undefined ? '' : result.ratio.toFixed(3)
  return `| ${result.name} | ${rate(result.bytesPerCpuSecond)} | ${rate(result.bytesPerSecond)} | ${ratio} |`
}

async function* allMeasurements(seconds: number, only: Set<string> | undefined): AsyncGenerator<Throughput> {
  const wanted = (group: string): boolean => only === undefined || only.has(group)
  if (wanted('hash')) {
    for (const chunkBytes of [1 * MiB, 64 * KiB]) {
      for (const algorithm of benchHashes) yield measureHashThroughput(algorithm, chunkBytes, seconds)
    }
  }
  if (wanted('aead')) for (const chunkBytes of [1 * MiB, 64 * KiB]) yield measureAeadThroughput(chunkBytes, seconds)
  if (wanted('compress')) {
    for (const kind of ['random', 'text', 'half-zero'] as const) {
      for (const candidate of compressionCandidates) yield measureCompression(candidate, kind, 1 * MiB, seconds)
      for (const candidate of compressionCandidates) yield measureDecompression(candidate, kind, 1 * MiB, seconds)
      yield* measureChunkCompression(kind, 1 * MiB, seconds)
      for (const concurrency of [1, 2]) yield await measureAsyncCompression(kind, 1 * MiB, concurrency, seconds)
    }
  }
  if (wanted('chunker')) {
    const defaults = { minBytes: 256 * KiB, averageBytes: 1 * MiB, maxBytes: 4 * MiB }
    for (const recycle of [false, true]) {
      yield measureChunkerThroughput(defaults, 64 * KiB, seconds, recycle)
      yield measureChunkerThroughput(defaults, 1 * MiB, seconds, recycle)
      yield measureChunkerThroughput(defaults, 64 * MiB, seconds, recycle)
      yield measureChunkerThroughput({ fixedChunkBytes: 128 * KiB }, 64 * KiB, seconds, recycle)
    }
  }
  if (wanted('copy')) {
    yield measureCopyThroughput(1 * MiB, false, seconds)
    yield measureCopyThroughput(1 * MiB, true, seconds)
  }
}

if (import.meta.main) {
  const argument = (name: string): string | undefined => {
    const at = process.argv.indexOf(name)
    return at < 0 ? undefined : process.argv[at + 1]
  }
  const seconds = Number(argument('--seconds') ?? 1)
  const onlyText = argument('--only')
  const only = onlyText === undefined ? undefined : new Set(onlyText.split(','))
  console.log(`node ${process.version}, ${seconds} s per measurement, MB = 10^6 bytes\n`)
  console.log('| what | MB per CPU-s | MB/s wall | out/in |')
  console.log('|---|---:|---:|---:|')
  for await (const result of allMeasurements(seconds, only)) console.log(row(result))
}
