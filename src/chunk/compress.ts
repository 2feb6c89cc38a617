// Per-chunk compression. The codec is recorded in the store format (chunk header codec field):
// `compressionCodec` names what compressChunk produces; decompressChunk reads only that. Never
// change the codec of an existing store without a new codec code.
//
// compressChunk returns undefined when compressing does not pay (the result would not save at
// least 1/16 of the size), and the caller stores the plaintext raw; a cheap sample pre-check skips
// incompressible chunks without compressing them whole. decompressChunk never trusts
// stored bytes: output is bounded by the expected plain length, a different length or any codec
// failure is CHUNK_CORRUPT (with the codec error as cause), never a partial buffer.
//
// Calls are synchronous on purpose: chunks are at most limits.chunkMaxBytes (4 MiB), and the
// thread-pool hop of the async zlib API costs more than it saves on a 2-core machine where the
// event-loop thread is one of only two cores anyway (numbers in
// docs/decisions/chunking-hash-compression.md). Callers that need the event loop free should run
// the chunk pipeline in a worker.
import * as zlib from 'node:zlib'
import { KiB, limits, StoreError } from '../lib/index.ts'

/** The codec name recorded in the format. */
export const compressionCodec = 'zstd'
/** zstd level: 1 is ~2-4x faster than 3 for a few percent of size (measured). */
export const compressionLevel = 1

/** Chunks smaller than this are not worth a codec call (headers would eat the saving). */
const compressMinBytes = 256

const compressOptions: zlib.ZstdOptions = {
  params: {
    [zlib.constants.ZSTD_c_compressionLevel]: compressionLevel,
    [zlib.constants.ZSTD_c_checksumFlag]: 0, // the chunk id already verifies the plaintext
  },
}

// The pre-check: compress 8 slices of 2 KiB spread over the chunk; when that sample does not save
// 1/32, skip the chunk. On 1 MiB of incompressible data it costs ~35 us instead of ~440 us for
// zstd-1 over the whole chunk; on compressible data it adds 1-4% (measured). Spread slices rather
// than one prefix, so a chunk with an incompressible header and compressible body is still tried.
const sampleSliceCount = 8
const sampleSliceBytes = 2 * KiB
const sampleMinPlainBytes = 64 * KiB
/** Reused for every sample: calls are synchronous, so one module-wide buffer is never shared. */
const sampleScratch = Buffer.allocUnsafe(sampleSliceCount * sampleSliceBytes)

function sampleCompresses(plain: Uint8Array): boolean {
  const strideBytes = Math.floor((plain.length - sampleSliceBytes) / (sampleSliceCount - 1))
  for (let slice = 0; slice < sampleSliceCount; slice++) {
    const from = slice * strideBytes
    sampleScratch.set(plain.subarray(from, from + sampleSliceBytes), slice * sampleSliceBytes)
  }
  const compressed = zlib.zstdCompressSync(sampleScratch, compressOptions)
  return compressed.length <= sampleScratch.length - sampleScratch.length / 32
}

/** Compressed bytes when they save at least 1/16 of the size; otherwise undefined (store raw). */
export function compressChunk(plain: Uint8Array): Buffer | undefined {
  if (plain.length < compressMinBytes) return undefined
  if (plain.length >= sampleMinPlainBytes && !sampleCompresses(plain)) return undefined
  const compressed = zlib.zstdCompressSync(plain, compressOptions)
  return compressed.length <= plain.length - plain.length / 16 ? compressed : undefined
}

/**
 * The plaintext of a compressed chunk of `plainBytes` bytes. Throws StoreError('CHUNK_CORRUPT')
 * when the stored bytes do not decode to exactly plainBytes bytes.
 */
export function decompressChunk(stored: Uint8Array, plainBytes: number): Buffer {
  if (!Number.isSafeInteger(plainBytes) || plainBytes < 0 || plainBytes > limits.chunkMaxBytes) {
    throw new StoreError('CHUNK_CORRUPT', `compressed chunk claims an impossible plain length ${plainBytes}`)
  }
  let plain: Buffer
  try {
    plain = zlib.zstdDecompressSync(stored, { maxOutputLength: Math.max(1, plainBytes) })
  } catch (error) {
    throw new StoreError('CHUNK_CORRUPT', `compressed chunk does not decode (${compressionCodec})`, { cause: error })
  }
  if (plain.length !== plainBytes) {
    throw new StoreError('CHUNK_CORRUPT', `compressed chunk decodes to ${plain.length} bytes, expected ${plainBytes}`)
  }
  return plain
}
