// S3's view of checksums: header names and client-supplied digests, validated (strict base64 of
// the exact digest length) and compared with AWS's codes: InvalidDigest / InvalidRequest for a
// malformed value, BadDigest for a mismatch. The digest math is in src/lib/checksum.
import { S3AuthError } from '../auth/index.ts'
import { checksumAlgorithms, decodeBase64Digest, digestLengthBytes, toBase64, type ChecksumAlgorithm } from '../../lib/checksum/index.ts'

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
