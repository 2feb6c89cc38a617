// Multipart upload and part records (docs/format/objects.md 5): JSON after the version byte.
// A part's chunk table is the segment record (uploadId, partNumber), which holds its references.
import { decodeJsonRecord, encodeJsonRecord } from '../meta/index.ts'
import {
  checksumAlgorithms,
  checksumTypes,
  decodeContentHeaders,
  storageClasses,
  type ChecksumAlgorithm,
  type ChecksumType,
  type StorageClass,
  type StoredContentHeaders,
  type StoredTag,
} from './object-version.ts'
import { decodeEncryption, type StoredEncryption } from './lifecycle-version.ts'
import { ShapeReader, corruptRecord } from './shape.ts'

export interface UploadRecord {
  readonly uploadId: string
  readonly key: string
  readonly initiatedMs: number
  readonly owner: string
  readonly storageClass: StorageClass
  readonly contentHeaders: StoredContentHeaders
  readonly userMetadata: Readonly<Record<string, string>>
  readonly tags: readonly StoredTag[]
  readonly checksumAlgorithm?: ChecksumAlgorithm
  readonly checksumType?: ChecksumType
  /** Server-side encryption every part and the completed version get (lifecycle-version.ts). */
  readonly encryption?: StoredEncryption
}

export interface PartRecord {
  readonly partNumber: number
  /** MD5 hex without quotes. */
  readonly etag: string
  readonly sizeBytes: number
  readonly chunkCount: number
  readonly lastModifiedMs: number
  /** base64, in the upload's checksum algorithm. */
  readonly checksum?: string
}

const uploadRecordVersion = 1
const partRecordVersion = 1

function readerOf(bytes: Uint8Array, what: string, expected: number): ShapeReader {
  const { version, value } = decodeJsonRecord(bytes, what)
  if (version !== expected) throw corruptRecord(what, `unknown version ${version}`)
  return new ShapeReader(value, what)
}

export function encodeUpload(record: UploadRecord): Buffer {
  return encodeJsonRecord(uploadRecordVersion, { ...record, tags: record.tags.map((tag) => [tag.key, tag.value]) })
}

export function decodeUpload(bytes: Uint8Array, what: string): UploadRecord {
  const reader = readerOf(bytes, what, uploadRecordVersion)
  const checksumAlgorithm = reader.optionalOneOf('checksumAlgorithm', checksumAlgorithms)
  const checksumType = reader.optionalOneOf('checksumType', checksumTypes)
  return {
    uploadId: reader.string('uploadId'),
    key: reader.string('key'),
    initiatedMs: reader.count('initiatedMs'),
    owner: reader.string('owner'),
    storageClass: reader.oneOf('storageClass', storageClasses),
    contentHeaders: decodeContentHeaders(reader.object('contentHeaders')),
    userMetadata: reader.stringMap('userMetadata'),
    tags: reader.pairs('tags').map(([key, value]) => ({ key, value })),
    ...(checksumAlgorithm === undefined ? {} : { checksumAlgorithm }),
    ...(checksumType === undefined ? {} : { checksumType }),
    ...(reader.has('encryption') ? { encryption: decodeEncryption(reader.object('encryption')) } : {}),
  }
}

export function encodePart(record: PartRecord): Buffer {
  return encodeJsonRecord(partRecordVersion, record)
}

export function decodePart(bytes: Uint8Array, what: string): PartRecord {
  const reader = readerOf(bytes, what, partRecordVersion)
  const checksum = reader.optionalString('checksum')
  return {
    partNumber: reader.count('partNumber'),
    etag: reader.string('etag'),
    sizeBytes: reader.count('sizeBytes'),
    chunkCount: reader.count('chunkCount'),
    lastModifiedMs: reader.count('lastModifiedMs'),
    ...(checksum === undefined ? {} : { checksum }),
  }
}
