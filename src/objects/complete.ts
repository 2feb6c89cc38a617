// CompleteMultipartUpload, AbortMultipartUpload and ListParts (see multipart.ts for the model).
import { compositeChecksum, decodeBase64Digest, digestLengthBytes, fullObjectChecksum, multipartEtag, toBase64 } from '../lib/checksum/index.ts'
import { assert, objectLimits, throwIfAborted } from '../lib/index.ts'
import { scanAll, type WriteTx } from '../meta/index.ts'
import { decodePart, newVersionIdSuffix, partKey, partRange, uploadKey, type PartRecord, type StoredChecksum, type UploadRecord } from '../model/index.ts'
import type { MultipartUploadInfo, PartInfo, Principal, PutObjectResult } from './api.ts'
import { accessBucket } from './buckets.ts'
import { bareEtag, quotedEtag } from './conditions.ts'
import type { ObjectsContext } from './context.ts'
import { invalidArgument, ObjectsError } from './errors.ts'
import { uploadInfo } from './listings.ts'
import { findUpload, partInfo } from './multipart.ts'
import { pageSize, validateObjectKey } from './validate.ts'
import { encryptionInfo } from './sse.ts'
import { commitVersion, dropSegment, type VersionDraft, type WriteConditions } from './versions.ts'

export interface CompleteInput {
  bucket: string
  key: string
  uploadId: string
  principal: Principal
  parts: ReadonlyArray<{ partNumber: number; etag: string; checksum?: string }>
  ifMatch?: string
  ifNoneMatch?: '*'
  signal: AbortSignal
}

function invalidPart(message: string): ObjectsError {
  return new ObjectsError('INVALID_STATE', `One or more of the specified parts could not be found. ${message}`, { subject: 'part', hint: 'InvalidPart' })
}

function checkPartList(parts: CompleteInput['parts']): void {
  if (parts.length === 0) throw invalidArgument('MalformedXML', 'The XML you provided was not well-formed or did not validate against our published schema: no parts')
  if (parts.length > objectLimits.partNumberMax) throw invalidArgument('InvalidArgument', `at most ${objectLimits.partNumberMax} parts`)
  let previous = 0
  for (const part of parts) {
    if (!Number.isInteger(part.partNumber) || part.partNumber < 1 || part.partNumber > objectLimits.partNumberMax) {
      throw invalidArgument('InvalidArgument', `Part number must be an integer between 1 and ${objectLimits.partNumberMax}, inclusive`)
    }
    if (part.partNumber <= previous) throw invalidArgument('InvalidPartOrder', 'The list of parts was not in ascending order. The parts list must be specified in order by part number.')
    previous = part.partNumber
  }
}

/** The stored parts the request names, checked against its ETags, checksums and size rules. */
function matchParts(requested: CompleteInput['parts'], stored: Array<PartRecord | undefined>): PartRecord[] {
  const parts = requested.map((part, at) => {
    const record = stored[at]
    if (record === undefined) throw invalidPart(`Part ${part.partNumber} was never uploaded.`)
    if (bareEtag(part.etag) !== record.etag) throw invalidPart(`The ETag of part ${part.partNumber} does not match (${part.etag}).`)
    if (part.checksum !== undefined && record.checksum !== undefined && part.checksum !== record.checksum) {
      throw invalidPart(`The checksum of part ${part.partNumber} does not match.`)
    }
    return record
  })
  parts.forEach((part, at) => {
    if (at < parts.length - 1 && part.sizeBytes < objectLimits.partBytesMin) {
      throw invalidArgument('EntityTooSmall', `Your proposed upload is smaller than the minimum allowed size: part ${part.partNumber} has ${part.sizeBytes} bytes (minimum ${objectLimits.partBytesMin})`)
    }
  })
  const total = parts.reduce((sum, part) => sum + part.sizeBytes, 0)
  if (total > objectLimits.objectBytesMax) throw invalidArgument('EntityTooLarge', `Your proposed upload exceeds the maximum allowed object size (${objectLimits.objectBytesMax})`)
  return parts
}

/** The object's checksum from the parts' checksums; undefined unless every part has one. */
function objectChecksum(upload: UploadRecord, parts: PartRecord[]): StoredChecksum | undefined {
  const algorithm = upload.checksumAlgorithm
  const type = upload.checksumType
  if (algorithm === undefined || type === undefined || parts.some((part) => part.checksum === undefined)) return undefined
  const digests = parts.map((part) => {
    const digest = decodeBase64Digest(part.checksum as string, digestLengthBytes[algorithm])
    assert(digest !== undefined, 'stored part checksums are canonical base64 of their algorithm')
    return { digest, sizeBytes: part.sizeBytes }
  })
  const value = type === 'COMPOSITE'
    ? compositeChecksum(algorithm, digests.map((part) => part.digest))
    : toBase64(fullObjectChecksum(algorithm, digests))
  return { algorithm, type, value }
}

/** Delete every part record of an upload; drop the segments of those not kept. */
async function clearParts(context: ObjectsContext, tx: WriteTx, uploadId: string, kept: ReadonlySet<number>): Promise<void> {
  const numbers: number[] = []
  for await (const entry of scanAll(tx, partRange(uploadId))) numbers.push(decodePart(entry.value, `('s3','part',${uploadId})`).partNumber)
  for (const partNumber of numbers) {
    tx.delete(partKey(uploadId, partNumber))
    if (!kept.has(partNumber)) await dropSegment(context.chunkStore, tx, uploadId, partNumber)
  }
}

export async function completeMultipartUpload(context: ObjectsContext, input: CompleteInput): Promise<PutObjectResult> {
  validateObjectKey(input.key)
  checkPartList(input.parts)
  throwIfAborted(input.signal)
  const conditions: WriteConditions = { ...(input.ifMatch === undefined ? {} : { ifMatch: input.ifMatch }), ...(input.ifNoneMatch === undefined ? {} : { ifNoneMatch: input.ifNoneMatch }) }
  const idSuffix = newVersionIdSuffix(context.random)
  const { record, versioning } = await context.meta.transact(async (tx) => {
    const bucket = await accessBucket(tx, input.principal, input.bucket)
    const upload = await findUpload(tx, bucket, input.key, input.uploadId)
    const stored = await tx.getMany(input.parts.map((part) => partKey(input.uploadId, part.partNumber)))
    const parts = matchParts(input.parts, stored.map((value, at) => (value === undefined ? undefined : decodePart(value, `('s3','part',${input.uploadId},${input.parts[at]?.partNumber})`))))
    const checksum = objectChecksum(upload, parts)
    const draft: VersionDraft = {
      deleteMarker: false,
      sizeBytes: parts.reduce((sum, part) => sum + part.sizeBytes, 0),
      etag: multipartEtag(parts.map((part) => Buffer.from(part.etag, 'hex'))),
      ...(checksum === undefined ? {} : { checksum }),
      contentHeaders: upload.contentHeaders,
      userMetadata: upload.userMetadata,
      tags: upload.tags,
      storageClass: upload.storageClass,
      ...(upload.encryption === undefined ? {} : { encryption: upload.encryption }),
      owner: input.principal.userId,
      data: {
        kind: 'segments',
        manifestId: upload.uploadId,
        multipart: true,
        segments: parts.map((part) => ({ index: part.partNumber, sizeBytes: part.sizeBytes, chunkCount: part.chunkCount, ...(part.checksum === undefined ? {} : { checksum: part.checksum }) })),
      },
    }
    await clearParts(context, tx, upload.uploadId, new Set(parts.map((part) => part.partNumber)))
    tx.delete(uploadKey(bucket.id, input.key, upload.uploadId))
    const record = await commitVersion(context.chunkStore, tx, bucket, input.key, draft, { nowMs: context.clock.nowMs(), idSuffix, conditions })
    return { record, versioning: bucket.versioning }
  }, { signal: input.signal })
  return {
    etag: quotedEtag(record.etag),
    ...(versioning === 'Unversioned' ? {} : { versionId: record.versionId }),
    ...(record.checksum === undefined ? {} : { checksum: record.checksum }),
    sizeBytes: record.sizeBytes,
    ...(record.encryption === undefined ? {} : { encryption: encryptionInfo(record.encryption) }),
  }
}

export async function abortMultipartUpload(context: ObjectsContext, input: { bucket: string; key: string; uploadId: string; principal: Principal }): Promise<void> {
  validateObjectKey(input.key)
  await context.meta.transact(async (tx) => {
    const bucket = await accessBucket(tx, input.principal, input.bucket)
    const upload = await findUpload(tx, bucket, input.key, input.uploadId)
    await clearParts(context, tx, upload.uploadId, new Set())
    tx.delete(uploadKey(bucket.id, input.key, upload.uploadId))
  })
}

export interface ListPartsInput {
  bucket: string
  key: string
  uploadId: string
  principal: Principal
  partNumberMarker?: number
  maxParts: number
}

export async function listParts(context: ObjectsContext, input: ListPartsInput): Promise<{ upload: MultipartUploadInfo; parts: PartInfo[]; isTruncated: boolean; nextPartNumberMarker?: number }> {
  validateObjectKey(input.key)
  const maxParts = pageSize(input.maxParts, 'max-parts')
  return context.meta.read(async (tx) => {
    const bucket = await accessBucket(tx, input.principal, input.bucket)
    const upload = await findUpload(tx, bucket, input.key, input.uploadId)
    const range = partRange(upload.uploadId)
    const marker = input.partNumberMarker ?? 0
    if (!Number.isInteger(marker) || marker < 0) throw invalidArgument('InvalidArgument', 'part-number-marker must be a non-negative integer')
    const entries = maxParts === 0 ? [] : await tx.scan({ gt: partKey(upload.uploadId, marker), lt: range.lt, limit: maxParts + 1 })
    const isTruncated = entries.length > maxParts
    const parts = entries.slice(0, maxParts).map((entry) => partInfo(decodePart(entry.value, `('s3','part',${upload.uploadId})`), upload))
    const last = parts.at(-1)
    return { upload: uploadInfo(input.bucket, upload), parts, isTruncated, ...(isTruncated && last !== undefined ? { nextPartNumberMarker: last.partNumber } : {}) }
  })
}
