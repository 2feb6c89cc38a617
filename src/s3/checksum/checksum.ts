// Incremental digests behind S3's integrity features, with one interface: the flexible checksums
// (CRC32, CRC32C, CRC64NVME, SHA1, SHA256; x-amz-checksum-*) and MD5 (ETag, Content-MD5).
// CRC32/CRC32C are native (@node-rs/crc32), CRC64NVME is crc64nvme.ts, the SHAs and MD5 are
// node:crypto. Digests are the raw big-endian bytes; on the wire they travel as base64.
// Client-supplied digests are validated here (strict base64 of the exact digest length) and
// compared here, with AWS's codes: InvalidDigest / InvalidRequest for a malformed value,
// BadDigest for a mismatch. A checksum object is single-use: digest() ends it.
import { createHash, type Hash } from 'node:crypto'
import { crc32, crc32c } from '@node-rs/crc32'
import { assert } from '../../lib/index.ts'
import { S3AuthError } from '../auth/index.ts'
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

/** 'CRC32' -> 'x-amz-checksum-crc32'. */
export function checksumHeaderName(algorithm: ChecksumAlgorithm): string {
  return `x-amz-checksum-${algorithm.toLowerCase()}`
}

/** 'x-amz-checksum-crc32' (any case) -> 'CRC32'; undefined for any other name. */
export function checksumAlgorithmFromHeaderName(name: string): ChecksumAlgorithm | undefined {
  const lower = name.trim().toLowerCase()
  return checksumAlgorithms.find((algorithm) => checksumHeaderName(algorithm) === lower)
}

/** x-amz-checksum-algorithm / x-amz-sdk-checksum-algorithm value (case-insensitive). */
export function parseChecksumAlgorithm(text: string, headerName = 'x-amz-checksum-algorithm'): ChecksumAlgorithm {
  const upper = text.trim().toUpperCase()
  const algorithm = checksumAlgorithms.find((candidate) => candidate === upper)
  if (!algorithm) throw new S3AuthError('InvalidRequest', `Value for ${headerName} header is invalid.`)
  return algorithm
}

/** A client's x-amz-checksum-* value (header or trailer) as digest bytes; InvalidRequest when malformed. */
export function parseChecksumValue(algorithm: ChecksumAlgorithm, base64: string): Buffer {
  const digest = decodeBase64Digest(base64, digestLengthBytes[algorithm])
  if (!digest) throw new S3AuthError('InvalidRequest', `Value for ${checksumHeaderName(algorithm)} header is invalid.`)
  return digest
}

/** The Content-MD5 header as digest bytes; InvalidDigest when malformed. */
export function parseContentMd5(base64: string): Buffer {
  const digest = decodeBase64Digest(base64, digestLengthBytes.MD5)
  if (!digest) throw new S3AuthError('InvalidDigest', 'The Content-MD5 you specified was not valid.')
  return digest
}

/** Throws BadDigest unless the computed checksum equals the client's. */
export function verifyChecksum(algorithm: ChecksumAlgorithm, expected: Uint8Array, computed: Uint8Array): void {
  if (!Buffer.from(expected).equals(Buffer.from(computed))) {
    throw new S3AuthError('BadDigest', `The ${algorithm} you specified did not match the calculated checksum.`, {
      details: { [`Expected${algorithm}`]: toBase64(expected), [`Calculated${algorithm}`]: toBase64(computed) },
    })
  }
}

/** Throws BadDigest unless the body's MD5 equals Content-MD5. */
export function verifyContentMd5(expected: Uint8Array, computed: Uint8Array): void {
  if (!Buffer.from(expected).equals(Buffer.from(computed))) {
    throw new S3AuthError('BadDigest', 'The Content-MD5 you specified did not match what we received.', {
      details: { ExpectedDigest: toBase64(expected), CalculatedDigest: toBase64(computed) },
    })
  }
}
