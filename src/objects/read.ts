// GET / HEAD and object tagging: resolve a version (latest or by id), apply S3's read
// conditions, ranges and partNumber, and stream the bytes (reader.ts).
// Delete markers: latest -> NOT_FOUND key; named by id -> INVALID_STATE version
// (MethodNotAllowed); both carry the marker for x-amz-delete-marker (ObjectsError.deleteMarker).
// Never: return data of an archived (GLACIER, DEEP_ARCHIVE, INTELLIGENT_TIERING archive tier)
// object without a restore.
import { objectLimits } from '../lib/index.ts'
import type { ReadTx } from '../meta/index.ts'
import type { BucketRecord, VersionRecord } from '../model/index.ts'
import type { ByteRange, GetObjectInput, GetObjectResult, ObjectVersionInfo, Principal, Tags, UserId, VersionId } from './api.ts'
import { accessBucket } from './buckets.ts'
import { checkReadConditions, partSizesOf, quotedEtag, resolvePartNumber, resolveRange, type ResolvedRange } from './conditions.ts'
import type { ObjectsContext } from './context.ts'
import { noSuchKey, noSuchVersion, ObjectsError } from './errors.ts'
import { readVersion } from './reader.ts'
import { expirationFor } from './lifecycle-config.ts'
import { encryptionInfo, readDecryption } from './sse.ts'
import { archiveStatusOf } from './intelligent-tiering.ts'
import { needsRestore, restoreInfo } from './storage-class.ts'
import { currentVersion, latestVersion, rewriteVersion, versionById } from './versions.ts'
import { validateTags } from './validate.ts'

export function versionInfo(bucket: string, key: string, record: VersionRecord, isLatest: boolean): ObjectVersionInfo {
  const partSizesBytes = partSizesOf(record)
  const restore = restoreInfo(record)
  const archiveStatus = archiveStatusOf(record)
  const encryption = encryptionInfo(record.encryption)
  return {
    bucket,
    key,
    versionId: record.versionId,
    isLatest,
    isDeleteMarker: record.deleteMarker,
    etag: record.deleteMarker ? '' : quotedEtag(record.etag),
    sizeBytes: record.sizeBytes,
    lastModifiedMs: record.lastModifiedMs,
    storageClass: record.storageClass,
    contentHeaders: { ...record.contentHeaders },
    userMetadata: { ...record.userMetadata },
    ...(record.checksum === undefined ? {} : { checksum: { ...record.checksum } }),
    tagCount: record.tags.length,
    owner: record.owner as UserId,
    ...(partSizesBytes === undefined ? {} : { partSizesBytes }),
    ...(restore === undefined ? {} : { restore }),
    ...(archiveStatus === undefined ? {} : { archiveStatus }),
    ...(encryption === undefined ? {} : { encryption }),
  }
}

export interface ResolvedVersion {
  bucket: BucketRecord
  record: VersionRecord
  isLatest: boolean
}

/** The version a request names (latest when versionId is undefined), never a delete marker. */
export async function resolveVersion(tx: ReadTx, bucket: BucketRecord, key: string, versionId: VersionId | undefined): Promise<ResolvedVersion> {
  if (versionId === undefined) {
    const current = await currentVersion(tx, bucket.id, key)
    if (current !== undefined) return { bucket, record: current, isLatest: true }
    const latest = await latestVersion(tx, bucket.id, key)
    const marker = latest?.deleteMarker === true ? { versionId: latest.versionId, lastModifiedMs: latest.lastModifiedMs } : undefined
    throw noSuchKey(bucket.name, key, marker)
  }
  const record = await versionById(tx, bucket.id, key, versionId)
  if (record === undefined) throw noSuchVersion(key, versionId)
  if (record.deleteMarker) {
    throw new ObjectsError('INVALID_STATE', `The specified method is not allowed against this resource: version ${versionId} of ${key} is a delete marker`, {
      subject: 'version',
      hint: 'MethodNotAllowed',
      deleteMarker: { versionId: record.versionId, lastModifiedMs: record.lastModifiedMs },
    })
  }
  const latest = await latestVersion(tx, bucket.id, key)
  return { bucket, record, isLatest: latest?.order === record.order }
}

export async function readAccessibleVersion(context: ObjectsContext, principal: Principal, bucketName: string, key: string, versionId: VersionId | undefined): Promise<ResolvedVersion> {
  return context.meta.read(async (tx) => resolveVersion(tx, await accessBucket(tx, principal, bucketName), key, versionId))
}

/** Archived and without a readable restored copy (storage-class.ts). */
export function isArchived(record: VersionRecord, nowMs: number): boolean {
  return needsRestore(record, nowMs)
}

function servedRange(record: VersionRecord, range: ByteRange | undefined, partNumber: number | undefined): ResolvedRange | undefined {
  if (partNumber !== undefined) {
    if (range !== undefined) throw new ObjectsError('INVALID_ARGUMENT', 'Cannot specify both Range header and partNumber query parameter', { hint: 'InvalidRequest' })
    return resolvePartNumber(record, partNumber)
  }
  return resolveRange(range, record.sizeBytes)
}

export async function getObject(context: ObjectsContext, input: GetObjectInput, withBody: boolean): Promise<GetObjectResult> {
  const { bucket, record, isLatest } = await readAccessibleVersion(context, input.principal, input.bucket, input.key, input.versionId)
  checkReadConditions(input.conditions, record, false)
  if (withBody && isArchived(record, context.clock.nowMs())) {
    throw new ObjectsError('INVALID_STATE', `The operation is not valid for the object's storage class (${record.storageClass}): restore it first`, { subject: 'key', hint: 'InvalidObjectState' })
  }
  const decrypt = await readDecryption(context, record, input.customerKey, withBody) // SSE-C key checks apply to HEAD too
  const range = servedRange(record, input.range, input.partNumber)
  // A GET (ranged or not) is an access for INTELLIGENT_TIERING; HEAD is not (AWS).
  if (withBody) context.accessLog.record(bucket.id, input.key, record, context.clock.nowMs(), context.dataManagement.dayMs)
  const expiration = await expirationFor(context, bucket, input.key, record, isLatest)
  return {
    version: { ...versionInfo(input.bucket, input.key, record, isLatest), ...(expiration === undefined ? {} : { expiration }) },
    bucketVersioning: bucket.versioning,
    ...(range === undefined ? {} : { range: { ...range, totalBytes: record.sizeBytes } }),
    ...(withBody ? { body: decrypt(readVersion(context, record, range, input.signal), range) } : {}),
  }
}

interface TaggingInput {
  bucket: string
  key: string
  principal: Principal
  versionId?: VersionId
}

/** The version id to report: none for objects of never-versioned buckets (as S3). */
function reportedVersionId(bucket: BucketRecord, record: VersionRecord): { versionId?: VersionId } {
  return bucket.versioning === 'Unversioned' ? {} : { versionId: record.versionId }
}

export async function getObjectTagging(context: ObjectsContext, input: TaggingInput): Promise<{ tags: Tags; versionId?: VersionId }> {
  const { bucket, record } = await readAccessibleVersion(context, input.principal, input.bucket, input.key, input.versionId)
  return { tags: record.tags.map((tag) => ({ ...tag })), ...reportedVersionId(bucket, record) }
}

export async function putObjectTagging(context: ObjectsContext, input: TaggingInput & { tags: Tags }): Promise<{ versionId?: VersionId }> {
  validateTags(input.tags, objectLimits.objectTagsMax)
  const tags = input.tags.map((tag) => ({ key: tag.key, value: tag.value }))
  return context.meta.transact(async (tx) => {
    const bucket = await accessBucket(tx, input.principal, input.bucket)
    const { record } = await resolveVersion(tx, bucket, input.key, input.versionId)
    await rewriteVersion(tx, bucket.id, input.key, { ...record, tags })
    return reportedVersionId(bucket, record)
  })
}
