// Object-level checksums of multipart uploads, computed at CompleteMultipartUpload from the
// parts' digests alone (never from the data):
// - COMPOSITE: the checksum of the concatenated binary part checksums, shown as 'base64-N'
//   (CRC32, CRC32C, SHA1, SHA256);
// - FULL_OBJECT: the CRC of the whole object, combined from part CRCs and part sizes
//   (CRC32, CRC32C, CRC64NVME), shown as plain base64 like a single PUT's;
// - the multipart ETag: hex MD5 of the concatenated binary part MD5s, '-N'.
// Parts are given in part-number order; the caller has already checked that order.
import { assert } from '../assert.ts'
import { createChecksum, digestLengthBytes, toBase64, type ChecksumAlgorithm } from './digest.ts'
import { combineCrc, crc32cParameters, crc32Parameters, crc64NvmeParameters, crcFromDigest, crcToDigest, type CrcParameters } from './crc-combine.ts'

export type ChecksumType = 'COMPOSITE' | 'FULL_OBJECT'

const fullObjectParameters: Partial<Record<ChecksumAlgorithm, CrcParameters>> = {
  CRC32: crc32Parameters,
  CRC32C: crc32cParameters,
  CRC64NVME: crc64NvmeParameters,
}

/** Which (algorithm, type) pairs S3 supports for multipart uploads. */
export function isChecksumTypeSupported(algorithm: ChecksumAlgorithm, type: ChecksumType): boolean {
  return type === 'FULL_OBJECT' ? fullObjectParameters[algorithm] !== undefined : algorithm !== 'CRC64NVME'
}

/** S3's default when CreateMultipartUpload names an algorithm but no x-amz-checksum-type. */
export function defaultChecksumType(algorithm: ChecksumAlgorithm): ChecksumType {
  return algorithm === 'CRC64NVME' ? 'FULL_OBJECT' : 'COMPOSITE'
}

export interface PartDigest {
  /** The part's checksum (raw bytes) in the upload's algorithm. */
  readonly digest: Uint8Array
  readonly sizeBytes: number
}

/** 'base64(checksum(part1 || part2 || ...))-N'. */
export function compositeChecksum(algorithm: ChecksumAlgorithm, partDigests: readonly Uint8Array[]): string {
  assert(isChecksumTypeSupported(algorithm, 'COMPOSITE'), `${algorithm} has no composite form`)
  assert(partDigests.length > 0, 'a multipart upload has at least one part')
  const checksum = createChecksum(algorithm)
  for (const digest of partDigests) {
    assert(digest.length === digestLengthBytes[algorithm], 'part digest length matches the algorithm')
    checksum.update(digest)
  }
  return `${toBase64(checksum.digest())}-${partDigests.length}`
}

/** The whole object's CRC (raw bytes) from its parts' CRCs and sizes. */
export function fullObjectChecksum(algorithm: ChecksumAlgorithm, parts: readonly PartDigest[]): Buffer {
  const parameters = fullObjectParameters[algorithm]
  assert(parameters !== undefined, `${algorithm} has no full-object form`)
  let crc = 0n
  for (const part of parts) {
    assert(part.digest.length === parameters.width / 8, 'part digest length matches the CRC width')
    crc = combineCrc(parameters, crc, crcFromDigest(part.digest), part.sizeBytes)
  }
  return crcToDigest(parameters, crc)
}

/** The ETag of a completed multipart upload, without quotes: hex(MD5(md5_1 || ... || md5_N))-N. */
export function multipartEtag(partMd5s: readonly Uint8Array[]): string {
  assert(partMd5s.length > 0, 'a multipart upload has at least one part')
  const md5 = createChecksum('MD5')
  for (const digest of partMd5s) {
    assert(digest.length === digestLengthBytes.MD5, 'part MD5 is 16 bytes')
    md5.update(digest)
  }
  return `${md5.digest().toString('hex')}-${partMd5s.length}`
}
