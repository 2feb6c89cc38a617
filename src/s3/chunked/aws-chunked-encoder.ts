// Encoder for `aws-chunked` bodies, written from the Amazon S3 API reference ("Transferring
// Payload in Multiple Chunks" and "Signature calculations for trailing headers"): the client
// side of aws-chunked.ts, for tests, benchmarks and native tests that need SDK-shaped bodies
// without the SDK. Signed chunks: 'hex-size;chunk-signature=SIG\r\n' + data + '\r\n', the
// final chunk empty; trailers 'name:value\r\n', signed ones followed by
// 'x-amz-trailer-signature:SIG\r\n'; then '\r\n'. Unsigned: 'hex-size\r\n' + data + '\r\n'.
import { createHash } from 'node:crypto'
import { assert } from '../../lib/index.ts'
import { emptySha256Hex, signChunk, signTrailer, type ChunkSigningContext } from '../auth/index.ts'
import type { AwsChunkedMode } from './aws-chunked.ts'

export interface AwsChunkedEncodeOptions {
  readonly mode: AwsChunkedMode
  /** Required for the signed modes. */
  readonly signing?: ChunkSigningContext
  /** Data bytes per chunk (the last data chunk may be shorter). */
  readonly chunkSizeBytes: number
  /** Trailing headers, in order (names lowercase), for the trailer modes. */
  readonly trailers?: ReadonlyArray<readonly [string, string]>
}

/** Yields the encoded body piece by piece (framing and data as separate buffers). */
export function* encodeAwsChunked(data: Uint8Array, options: AwsChunkedEncodeOptions): Generator<Buffer, void, undefined> {
  assert(options.chunkSizeBytes > 0, 'chunk size is positive')
  const signing = options.mode === 'streaming-unsigned-trailer' ? undefined : options.signing
  assert(options.mode === 'streaming-unsigned-trailer' || signing !== undefined, 'signed modes need a signing context')
  assert(options.mode !== 'streaming-signed' || (options.trailers ?? []).length === 0, 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD has no trailers')
  const bytes = Buffer.from(data.buffer, data.byteOffset, data.byteLength)
  let previousSignature = signing?.seedSignature ?? ''
  const header = (sizeBytes: number, sha256Hex: string): Buffer => {
    if (!signing) return Buffer.from(`${sizeBytes.toString(16)}\r\n`)
    previousSignature = signChunk(signing, previousSignature, sha256Hex)
    return Buffer.from(`${sizeBytes.toString(16)};chunk-signature=${previousSignature}\r\n`)
  }
  for (let offset = 0; offset < bytes.length; offset += options.chunkSizeBytes) {
    const chunk = bytes.subarray(offset, offset + options.chunkSizeBytes)
    yield header(chunk.length, signing ? createHash('sha256').update(chunk).digest('hex') : '')
    yield chunk
    yield Buffer.from('\r\n')
  }
  yield header(0, emptySha256Hex)
  let trailerText = ''
  for (const [name, value] of options.trailers ?? []) trailerText += `${name}:${value}\n`
  let tail = trailerText.replaceAll('\n', '\r\n')
  if (signing && options.mode === 'streaming-signed-trailer') {
    const signature = signTrailer(signing, previousSignature, createHash('sha256').update(trailerText).digest('hex'))
    tail += `x-amz-trailer-signature:${signature}\r\n`
  }
  yield Buffer.from(`${tail}\r\n`)
}

/** The whole encoded body in one buffer (tests only: never for real bodies). */
export function encodeAwsChunkedToBuffer(data: Uint8Array, options: AwsChunkedEncodeOptions): Buffer {
  return Buffer.concat([...encodeAwsChunked(data, options)])
}
