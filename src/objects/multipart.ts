// Multipart uploads: create, upload part, complete, abort, list parts.
//
// A part is a part record plus a segment record (its chunk table) keyed by the upload id; the
// segment holds the part's chunk references. Re-uploading a part number replaces both and drops
// the old references in the same transaction. Completion checks the part list (ascending, known,
// matching ETags, every part but the last >= 5 MiB), then turns the named parts' segments into
// the new version's manifest (no chunk table is copied or rewritten), drops the parts not named
// and deletes the upload. Abort drops everything of the upload.
import { defaultChecksumType, isChecksumTypeSupported } from '../lib/checksum/index.ts'
import { objectLimits, throwIfAborted } from '../lib/index.ts'
import type { ReadTx, WriteTx } from '../meta/index.ts'
import {
  decodePart,
  decodeUpload,
  encodePart,
  encodeUpload,
  isUploadId,
  newUploadId,
  partKey,
  uploadKey,
  type BucketRecord,
  type ChunkReference,
  type PartRecord,
  type UploadRecord,
} from '../model/index.ts'
import type { BodyDigests, ChecksumAlgorithm, ChecksumType, ContentHeaders, EncryptionRequest, MultipartUploadInfo, PartInfo, Principal, StorageClass, Tags } from './api.ts'
import { accessBucket } from './buckets.ts'
import { quotedEtag } from './conditions.ts'
import { tierOf, type ObjectsContext } from './context.ts'
import { invalidArgument, noSuchUpload } from './errors.ts'
import { ingest } from './ingest.ts'
import { uploadInfo } from './listings.ts'
import { validateObjectKey, validatePartNumber, validateStorageClass, validateTags, validateUserMetadata } from './validate.ts'
import { encryptionInfo, partWriteEncryption, resolveWriteEncryption } from './sse.ts'
import { dropSegment, writeSegment } from './versions.ts'

export interface CreateUploadInput {
  bucket: string
  key: string
  principal: Principal
  contentHeaders: ContentHeaders
  userMetadata: Record<string, string>
  tags?: Tags
  storageClass?: StorageClass
  checksumAlgorithm?: ChecksumAlgorithm
  checksumType?: ChecksumType
  encryption?: EncryptionRequest
}

function uploadChecksum(input: CreateUploadInput): { checksumAlgorithm?: ChecksumAlgorithm; checksumType?: ChecksumType } {
  if (input.checksumAlgorithm === undefined) {
    if (input.checksumType !== undefined) throw invalidArgument('InvalidRequest', 'x-amz-checksum-type requires x-amz-checksum-algorithm')
    return {}
  }
  const checksumType = input.checksumType ?? defaultChecksumType(input.checksumAlgorithm)
  if (!isChecksumTypeSupported(input.checksumAlgorithm, checksumType)) {
    throw invalidArgument('InvalidRequest', `The ${checksumType} checksum type is not supported for ${input.checksumAlgorithm}`)
  }
  return { checksumAlgorithm: input.checksumAlgorithm, checksumType }
}

export async function createMultipartUpload(context: ObjectsContext, input: CreateUploadInput): Promise<MultipartUploadInfo> {
  validateObjectKey(input.key)
  validateUserMetadata(input.userMetadata)
  const tags = input.tags ?? []
  validateTags(tags, objectLimits.objectTagsMax)
  const { stored: encryption } = await resolveWriteEncryption(context, input.principal, input.bucket, input.encryption)
  const record: UploadRecord = {
    uploadId: newUploadId(context.clock.nowMs(), context.random),
    key: input.key,
    initiatedMs: context.clock.nowMs(),
    owner: input.principal.userId,
    storageClass: validateStorageClass(input.storageClass),
    contentHeaders: { ...input.contentHeaders },
    userMetadata: { ...input.userMetadata },
    tags: tags.map((tag) => ({ key: tag.key, value: tag.value })),
    ...uploadChecksum(input),
    ...(encryption === undefined ? {} : { encryption }),
  }
  await context.meta.transact(async (tx) => {
    const bucket = await accessBucket(tx, input.principal, input.bucket)
    tx.put(uploadKey(bucket.id, input.key, record.uploadId), encodeUpload(record))
  })
  return { ...uploadInfo(input.bucket, record), ...(encryption === undefined ? {} : { encryption: encryptionInfo(encryption) }) }
}

/** The upload named by (bucket, key, uploadId), or NOT_FOUND upload. */
export async function findUpload(tx: ReadTx, bucket: BucketRecord, key: string, uploadId: string): Promise<UploadRecord> {
  if (!isUploadId(uploadId)) throw noSuchUpload(uploadId)
  const stored = await tx.get(uploadKey(bucket.id, key, uploadId))
  if (stored === undefined) throw noSuchUpload(uploadId)
  return decodeUpload(stored, `('s3','upload',${bucket.id},${JSON.stringify(key)},${uploadId})`)
}

async function findPart(tx: ReadTx, uploadId: string, partNumber: number): Promise<PartRecord | undefined> {
  const stored = await tx.get(partKey(uploadId, partNumber))
  return stored === undefined ? undefined : decodePart(stored, `('s3','part',${uploadId},${partNumber})`)
}

export interface PartTarget {
  bucket: string
  key: string
  uploadId: string
  partNumber: number
  principal: Principal
}

/** Check the target upload exists before reading a body (fail fast). */
export async function uploadForPart(context: ObjectsContext, target: PartTarget): Promise<UploadRecord> {
  validatePartNumber(target.partNumber)
  validateObjectKey(target.key)
  return context.meta.read(async (tx) => findUpload(tx, await accessBucket(tx, target.principal, target.bucket), target.key, target.uploadId))
}

/** Store a part: replace any earlier part of that number, dropping its references. */
export async function commitPart(context: ObjectsContext, target: PartTarget, part: Omit<PartRecord, 'lastModifiedMs' | 'chunkCount'>, chunks: ChunkReference[], signal: AbortSignal): Promise<PartRecord> {
  return context.meta.transact(async (tx: WriteTx) => {
    const bucket = await accessBucket(tx, target.principal, target.bucket)
    await findUpload(tx, bucket, target.key, target.uploadId)
    if ((await findPart(tx, target.uploadId, target.partNumber)) !== undefined) await dropSegment(context.chunkStore, tx, target.uploadId, target.partNumber)
    const record: PartRecord = { ...part, chunkCount: chunks.length, lastModifiedMs: context.clock.nowMs() }
    tx.put(partKey(target.uploadId, target.partNumber), encodePart(record))
    await writeSegment(context.chunkStore, tx, target.uploadId, target.partNumber, chunks)
    return record
  }, { signal })
}

export function partInfo(record: PartRecord, upload: UploadRecord): PartInfo {
  const checksum = record.checksum !== undefined && upload.checksumAlgorithm !== undefined
    ? { checksum: { algorithm: upload.checksumAlgorithm, type: upload.checksumType ?? defaultChecksumType(upload.checksumAlgorithm), value: record.checksum } }
    : {}
  const encryption = encryptionInfo(upload.encryption)
  return { partNumber: record.partNumber, etag: quotedEtag(record.etag), sizeBytes: record.sizeBytes, lastModifiedMs: record.lastModifiedMs, ...checksum, ...(encryption === undefined ? {} : { encryption }) }
}

/** The part checksum to keep: the one in the upload's algorithm; another algorithm is an error. */
function partChecksum(upload: UploadRecord, digests: BodyDigests): string | undefined {
  const given = digests.checksum
  if (given === undefined || upload.checksumAlgorithm === undefined) return undefined
  if (given.algorithm !== upload.checksumAlgorithm) {
    throw invalidArgument('InvalidRequest', `Checksum Type mismatch occurred, expected checksum Type: ${upload.checksumAlgorithm.toLowerCase()}, actual checksum Type: ${given.algorithm.toLowerCase()}`)
  }
  return given.value
}

export interface UploadPartInput extends PartTarget {
  body: AsyncIterable<Uint8Array>
  sizeBytes?: number
  digests: () => Promise<BodyDigests>
  signal: AbortSignal
  customerKey?: Buffer
}

export async function uploadPart(context: ObjectsContext, input: UploadPartInput): Promise<PartInfo> {
  const upload = await uploadForPart(context, input)
  const encryption = await partWriteEncryption(context, upload.encryption, input.customerKey)
  // Held until the part committed: a slow body must not find its first chunks collected.
  using hold = context.chunkStore.hold()
  const ingested = await ingest(context, encryption.wrap(input.body, input.partNumber), {
    tier: tierOf(upload.storageClass),
    domain: encryption.domain,
    signal: input.signal,
    hold,
    ...(input.sizeBytes === undefined ? {} : { sizeBytes: input.sizeBytes }),
    sizeBytesMax: objectLimits.partBytesMax,
    tooLargeHint: 'EntityTooLarge',
    inline: false,
  })
  const digests = await input.digests()
  throwIfAborted(input.signal)
  const checksum = partChecksum(upload, digests)
  const record = await commitPart(context, input, {
    partNumber: input.partNumber,
    etag: encryption.etag(digests.md5Hex),
    sizeBytes: ingested.sizeBytes,
    ...(checksum === undefined ? {} : { checksum }),
  }, ingested.chunks, input.signal)
  return partInfo(record, upload)
}
