// Chunk ids. The algorithm is recorded in the store's format record and in every pack header,
// so a store keeps the algorithm it was created with. In an encrypted key domain the id is a
// keyed hash (keyed BLAKE3 / HMAC-SHA256 with the domain's id key), so equal plaintexts dedup
// inside a domain and nothing about them is comparable across domains.
import { createHash, createHmac } from 'node:crypto'
import { blake3, Blake3Hasher } from '@napi-rs/blake-hash'
import { assert, chunkIdFrom, type ChunkId } from '../lib/index.ts'

export type HashAlgorithm = 'sha256' | 'blake3'

/**
 * The algorithm a new store is created with. BLAKE3 (AVX-512 here) hashes 1 MiB chunks at
 * ~6.7 GB per CPU-second against ~1.8 for SHA-256 with SHA extensions, and keyed BLAKE3 beats
 * HMAC-SHA256 by ~3.6x at 1 MiB and ~1.8x at 64 KiB (bench/primitives.ts; numbers in
 * docs/decisions/chunking-hash-compression.md).
 */
export const defaultHashAlgorithm: HashAlgorithm = 'blake3'

/** Format codes (pack header, format record). Never renumber. */
export const hashAlgorithmCodes = { sha256: 1, blake3: 2 } as const satisfies Record<HashAlgorithm, number>

export function hashAlgorithmFromCode(code: number): HashAlgorithm {
  if (code === hashAlgorithmCodes.sha256) return 'sha256'
  if (code === hashAlgorithmCodes.blake3) return 'blake3'
  throw new TypeError(`unknown hash algorithm code ${code}`)
}

export interface ChunkHasher {
  readonly algorithm: HashAlgorithm
  /** Id of a chunk's plaintext; keyed when idKey (32 bytes) is given. */
  id(plain: Uint8Array, idKey?: Buffer): ChunkId
}

export function createChunkHasher(algorithm: HashAlgorithm): ChunkHasher {
  switch (algorithm) {
    case 'sha256':
      return {
        algorithm,
        id(plain, idKey) {
          const hash = idKey ? createHmac('sha256', idKey) : createHash('sha256')
          return chunkIdFrom(hash.update(plain).digest())
        },
      }
    case 'blake3':
      return {
        algorithm,
        id(plain, idKey) {
          // A Buffer view of the same bytes (no copy): the 1.3.4 typings take Buffer, not Uint8Array.
          const bytes = Buffer.isBuffer(plain) ? plain : Buffer.from(plain.buffer, plain.byteOffset, plain.byteLength)
          if (!idKey) return chunkIdFrom(blake3(bytes))
          assert(idKey.length === 32, 'keyed BLAKE3 takes a 32-byte key')
          return chunkIdFrom(Blake3Hasher.newKeyed(idKey).update(bytes).digestBuffer())
        },
      }
  }
}
