// Incremental digests behind S3's integrity features, with one interface: the flexible checksums
// (CRC32, CRC32C, CRC64NVME, SHA1, SHA256; x-amz-checksum-*) and MD5 (ETag, Content-MD5).
// CRC32/CRC32C are native (@node-rs/crc32), CRC64NVME is crc64nvme.ts, the SHAs and MD5 are
// node:crypto. Digests are the raw big-endian bytes; on the wire they travel as base64.
// Pure math shared by the objects layer (which stores and combines checksums) and the S3 edge
// (which parses and verifies client digests with AWS's error codes in src/s3/checksum).
// A checksum object is single-use: digest() ends it.
import { createHash, type Hash } from 'node:crypto'
import { crc32, crc32c } from '@node-rs/crc32'
import { assert } from '../assert.ts'
import { Crc64Nvme } from './crc64nvme.ts'

export const checksumAlgorithms = ['CRC32', 'CRC32C', 'CRC64NVME', 'SHA1', 'SHA256'] as const
/** An S3 flexible-checksum algorithm, spelled as in x-amz-checksum-algorithm. */
export type ChecksumAlgorithm = (typeof checksumAlgorithms)[number]
/** Everything createChecksum computes: the flexible checksums plus MD5 (ETag, Content-MD5). */
export type DigestAlgorithm = ChecksumAlgorithm | 'MD5'

export const digestLengthBytes = {
  CRC32: 4,
  CRC32C: 4,
  CRC64NVME: 8,
  SHA1: 20,
  SHA256: 32,
  MD5: 16,
} as const satisfies Record<DigestAlgorithm, number>

export interface Checksum {
  readonly algorithm: DigestAlgorithm
  update(bytes: Uint8Array): this
  /** The digest as raw bytes. Ends the checksum: no update or digest after it. */
  digest(): Buffer
}

class NativeCrc32 implements Checksum {
  readonly algorithm: 'CRC32' | 'CRC32C'
  readonly #compute: typeof crc32
  #state = 0
  #ended = false
  constructor(algorithm: 'CRC32' | 'CRC32C') {
    this.algorithm = algorithm
    this.#compute = algorithm === 'CRC32' ? crc32 : crc32c
  }
  update(bytes: Uint8Array): this {
    assert(!this.#ended, 'checksum updated after digest')
    if (bytes.length > 0) this.#state = this.#compute(bytes, this.#state)
    return this
  }
  digest(): Buffer {
    assert(!this.#ended, 'checksum digested twice')
    this.#ended = true
    const out = Buffer.allocUnsafe(4)
    out.writeUInt32BE(this.#state >>> 0, 0)
    return out
  }
}

class Crc64NvmeChecksum implements Checksum {
  readonly algorithm = 'CRC64NVME'
  readonly #crc = new Crc64Nvme()
  #ended = false
  update(bytes: Uint8Array): this {
    assert(!this.#ended, 'checksum updated after digest')
    this.#crc.update(bytes)
    return this
  }
  digest(): Buffer {
    assert(!this.#ended, 'checksum digested twice')
    this.#ended = true
    return this.#crc.digest()
  }
}

class NodeHashChecksum implements Checksum {
  readonly algorithm: 'SHA1' | 'SHA256' | 'MD5'
  readonly #hash: Hash
  constructor(algorithm: 'SHA1' | 'SHA256' | 'MD5') {
    this.algorithm = algorithm
    this.#hash = createHash(algorithm === 'SHA1' ? 'sha1' : algorithm === 'SHA256' ? 'sha256' : 'md5')
  }
  update(bytes: Uint8Array): this {
    this.#hash.update(bytes)
    return this
  }
  digest(): Buffer {
    return this.#hash.digest()
  }
}

export function createChecksum(algorithm: DigestAlgorithm): Checksum {
  switch (algorithm) {
    case 'CRC32':
    case 'CRC32C':
      return new NativeCrc32(algorithm)
    case 'CRC64NVME':
      return new Crc64NvmeChecksum()
    case 'SHA1':
    case 'SHA256':
    case 'MD5':
      return new NodeHashChecksum(algorithm)
  }
}

/** One-shot digest of a whole buffer (small payloads, tests). */
export function digestOf(algorithm: DigestAlgorithm, bytes: Uint8Array): Buffer {
  return createChecksum(algorithm).update(bytes).digest()
}

export function toBase64(digest: Uint8Array): string {
  return Buffer.from(digest.buffer, digest.byteOffset, digest.byteLength).toString('base64')
}

/** Canonical base64 of exactly `lengthBytes` bytes, or undefined (Buffer.from would accept junk). */
export function decodeBase64Digest(text: string, lengthBytes: number): Buffer | undefined {
  const trimmed = text.trim()
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(trimmed) || trimmed.length % 4 !== 0) return undefined
  const bytes = Buffer.from(trimmed, 'base64')
  if (bytes.length !== lengthBytes || bytes.toString('base64') !== trimmed) return undefined
  return bytes
}
