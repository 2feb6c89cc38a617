// Frame payload codec: plaintext -> (compress when it shrinks) -> (seal in encrypted domains)
// -> frame, and back, with every check of docs/format/pack.md 1.2 on the way back.
//
// Contract: decodeFrame returns plaintext only after the frame header matched what the location
// promised, the CRC matched, the payload opened/decompressed to exactly plainBytes, and the
// plaintext re-hashed (keyed with the domain's id key) to the chunk id. Any failure is
// StoreError CHUNK_CORRUPT naming the chunk and where it lives.
// Never: return bytes that failed a check; seal in the plain domain.
import { openChunk, sealChunkParts, type DomainKeys } from '../crypto/index.ts'
import { assert, chunkIdHex, StoreError, type ChunkId, type Random } from '../lib/index.ts'
import { compressChunk, decompressChunk } from './compress.ts'
import type { ChunkHasher } from './hash.ts'
import {
  codecCompressed,
  codecSealed,
  decodeFrameHeader,
  encodeFrameHeader,
  frameBytesOf,
  frameCrcMatches,
  frameHeaderBytes,
  sameFrameInfo,
  type FrameInfo,
} from './pack-format.ts'

/** A frame ready to append: header and payload parts, written back to back. */
export interface EncodedFrame {
  info: FrameInfo
  /** Frame header first, then the payload parts. */
  parts: Buffer[]
  frameBytes: number
}

export interface EncodeOptions {
  compression: boolean
  random: Random
}

export function encodeFrame(id: ChunkId, plain: Buffer, keys: DomainKeys, options: EncodeOptions): EncodedFrame {
  let codec = 0
  let body = plain
  const compressed = options.compression ? compressChunk(plain) : undefined
  if (compressed !== undefined) {
    body = compressed
    codec |= codecCompressed
  }
  let payload: Buffer[] = [body]
  if (keys.cipherKey !== undefined) {
    payload = sealChunkParts(keys, id, body, options.random)
    codec |= codecSealed
  }
  const storedBytes = payload.reduce((sum, part) => sum + part.length, 0)
  const info: FrameInfo = { id, codec, domain: keys.domain, plainBytes: plain.length, storedBytes }
  return { info, parts: [encodeFrameHeader(info, payload), ...payload], frameBytes: frameBytesOf(storedBytes) }
}

function corrupt(id: ChunkId, where: string, reason: string, cause?: unknown): StoreError {
  return new StoreError('CHUNK_CORRUPT', `chunk ${chunkIdHex(id)} in ${where}: ${reason}`, cause === undefined ? undefined : { cause })
}

/**
 * Check a raw frame (header + payload, as read from disk) against what its location says, by
 * header fields and CRC only: enough to copy the frame elsewhere or to recover it.
 * Returns a reason when it does not match.
 */
export function checkRawFrame(frame: Buffer, expected: FrameInfo): string | undefined {
  const reason = checkFrameHeader(frame, expected)
  if (reason !== undefined) return reason
  if (!frameCrcMatches(frame, frame.subarray(frameHeaderBytes))) return 'frame CRC mismatch'
  return undefined
}

/** checkRawFrame without the CRC (header fields and length). */
function checkFrameHeader(frame: Buffer, expected: FrameInfo): string | undefined {
  const header = decodeFrameHeader(frame.subarray(0, frameHeaderBytes))
  if (!header.ok) return header.reason
  if (!sameFrameInfo(header.info, expected)) return 'frame header does not match its location'
  if (frame.length !== frameBytesOf(expected.storedBytes)) return 'frame is truncated'
  return undefined
}

/**
 * Verify and decode a raw frame to its plaintext; CHUNK_CORRUPT on any mismatch.
 *
 * The header is checked field by field against the location; the payload is proven by the
 * content hash at the end (and the AEAD tag when sealed), so the frame CRC is not computed on
 * this path (it was ~5% of a sequential NFS read's server CPU). When the payload fails, the CRC
 * then tells a damaged frame ('frame CRC mismatch', as before) from a frame intact on disk whose
 * content is wrong.
 */
export function decodeFrame(frame: Buffer, expected: FrameInfo, keys: DomainKeys, hasher: ChunkHasher, where: string): Buffer {
  const id = expected.id
  const reason = checkFrameHeader(frame, expected)
  if (reason !== undefined) throw corrupt(id, where, reason)
  const payloadFailed = (why: string, cause?: unknown): StoreError =>
    corrupt(id, where, frameCrcMatches(frame, frame.subarray(frameHeaderBytes)) ? why : 'frame CRC mismatch', cause)
  assert(keys.domain === expected.domain, 'keys of the frame domain')
  let body = frame.subarray(frameHeaderBytes)
  if ((expected.codec & codecSealed) !== 0) {
    if (keys.cipherKey === undefined) throw corrupt(id, where, `sealed frame in key domain ${keys.domain}, which has no cipher key`)
    try {
      body = openChunk(keys, id, body)
    } catch (error) {
      throw payloadFailed('payload failed authentication', error)
    }
  }
  if ((expected.codec & codecCompressed) !== 0) {
    try {
      body = decompressChunk(body, expected.plainBytes)
    } catch (error) {
      throw payloadFailed('payload does not decompress', error)
    }
  }
  if (body.length !== expected.plainBytes) throw payloadFailed(`payload is ${body.length} bytes, expected ${expected.plainBytes}`)
  const actual = hasher.id(body, keys.idKey)
  if (!actual.equals(id)) throw payloadFailed(`content hashes to ${chunkIdHex(actual)}`)
  return Buffer.from(body.buffer, body.byteOffset, body.length)
}
