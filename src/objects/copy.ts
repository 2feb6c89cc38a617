// CopyObject: a new version that references the source's chunks (no data copied): an embedded
// table is copied into the new record, segments get a new manifest id with their own records,
// and every reference is added in the commit transaction. Data is read only when the copy asks
// for a checksum algorithm the source does not have.
// S3 rules: metadata and tagging directives, copy-source conditions (all failures are 412), a
// delete marker named by version id is InvalidRequest, copying onto itself needs a change.
import { createChecksum, toBase64 } from '../lib/checksum/index.ts'
import { objectLimits, throwIfAborted, type Random } from '../lib/index.ts'
import type { WriteTx } from '../meta/index.ts'
import { decodeVersion, newUploadId, newVersionIdSuffix, versionKey, type ChunkReference, type StoredChecksum, type VersionData, type VersionRecord } from '../model/index.ts'
import type { ChunkStore } from '../chunk/index.ts'
import type { CopyObjectInput, CopySource, Principal, PutObjectResult, VersionId } from './api.ts'
import { accessBucket } from './buckets.ts'
import { checkReadConditions, quotedEtag } from './conditions.ts'
import type { ObjectsContext } from './context.ts'
import { versionTier } from './intelligent-tiering.ts'
import { invalidArgument, noSuchKey, ObjectsError } from './errors.ts'
import { isArchived, readAccessibleVersion, type ResolvedVersion } from './read.ts'
import { readVersion } from './reader.ts'
import { validateObjectKey, validateStorageClass, validateTags, validateUserMetadata } from './validate.ts'
import { commitVersion, readSegment, writeSegment, type VersionDraft } from './versions.ts'
import { putDue } from './restore.ts'
import { encryptionInfo, resolveWriteEncryption } from './sse.ts'
import { checkSourceKeyUsable, copyNeedsData, copyObjectByData, referenceCopyEncryption } from './sse-copy.ts'

/** Resolve and check a copy source: access, delete markers, conditions, archive state. */
export async function resolveCopySource(context: ObjectsContext, principal: Principal, source: CopySource): Promise<ResolvedVersion> {
  validateObjectKey(source.key)
  let resolved: ResolvedVersion
  try {
    resolved = await readAccessibleVersion(context, principal, source.bucket, source.key, source.versionId)
  } catch (error) {
    if (error instanceof ObjectsError && error.hint === 'MethodNotAllowed') {
      throw new ObjectsError('INVALID_ARGUMENT', 'The source of a copy request may not specifically refer to a delete marker by version id.', { hint: 'InvalidRequest', cause: error })
    }
    throw error
  }
  checkReadConditions(source.conditions, resolved.record, true)
  if (isArchived(resolved.record, context.clock.nowMs())) {
    throw new ObjectsError('INVALID_STATE', `The source object of the COPY action is not in the active tier (${resolved.record.storageClass}): restore it first`, { subject: 'key', hint: 'InvalidObjectState' })
  }
  // Reading a copy source is an access for INTELLIGENT_TIERING (CopyObject, UploadPartCopy).
  context.accessLog.record(resolved.bucket.id, source.key, resolved.record, context.clock.nowMs(), context.dataManagement.dayMs)
  return resolved
}

/** Re-read the source version inside the commit transaction: it must still be there. */
export async function sourceInTransaction(tx: WriteTx, principal: Principal, source: CopySource, expected: VersionRecord): Promise<VersionRecord> {
  const bucket = await accessBucket(tx, principal, source.bucket)
  const stored = await tx.get(versionKey(bucket.id, source.key, expected.order))
  const record = stored === undefined ? undefined : decodeVersion(stored, `('s3','ver',${bucket.id},${JSON.stringify(source.key)})`)
  if (record === undefined || record.versionId !== expected.versionId) throw noSuchKey(source.bucket, source.key)
  return record
}

/** The same bytes as data, as data of a new version: segments are copied under a new manifest id. */
export async function cloneData(chunkStore: ChunkStore, tx: WriteTx, data: VersionData, manifestId: string): Promise<VersionData> {
  if (data.kind !== 'segments') return data
  for (const segment of data.segments) {
    const chunks: ChunkReference[] = await readSegment(tx, data.manifestId, segment.index)
    await writeSegment(chunkStore, tx, manifestId, segment.index, chunks)
  }
  return { ...data, manifestId }
}

function isSelfCopy(input: CopyObjectInput, source: ResolvedVersion): boolean {
  return input.source.bucket === input.bucket && input.source.key === input.key && source.isLatest
}

async function copyChecksum(context: ObjectsContext, input: CopyObjectInput, source: VersionRecord): Promise<StoredChecksum | undefined> {
  const algorithm = input.checksumAlgorithm
  if (algorithm === undefined || source.checksum?.algorithm === algorithm) return source.checksum
  // A new algorithm: compute it over the source's bytes (verified chunk reads).
  const checksum = createChecksum(algorithm)
  for await (const piece of readVersion(context, source, undefined, input.signal)) checksum.update(piece)
  return { algorithm, type: 'FULL_OBJECT', value: toBase64(checksum.digest()) }
}

function copyDraft(input: CopyObjectInput, source: VersionRecord, checksum: StoredChecksum | undefined): VersionDraft {
  const replaceMetadata = input.metadataDirective === 'REPLACE'
  const replaceTags = input.taggingDirective === 'REPLACE'
  return {
    deleteMarker: false,
    sizeBytes: source.sizeBytes,
    etag: source.etag,
    ...(checksum === undefined ? {} : { checksum }),
    contentHeaders: replaceMetadata ? { ...(input.contentHeaders ?? {}) } : { ...source.contentHeaders },
    userMetadata: replaceMetadata ? { ...(input.userMetadata ?? {}) } : { ...source.userMetadata },
    tags: replaceTags ? (input.tags ?? []).map((tag) => ({ key: tag.key, value: tag.value })) : source.tags,
    storageClass: validateStorageClass(input.storageClass),
    owner: input.principal.userId,
    data: source.data,
  }
}

function newManifestId(context: { clock: { nowMs(): number }; random: Random }): string {
  return newUploadId(context.clock.nowMs(), context.random)
}

export async function copyObject(
  context: ObjectsContext,
  input: CopyObjectInput,
): Promise<PutObjectResult & { lastModifiedMs: number; sourceVersionId?: VersionId }> {
  validateObjectKey(input.key)
  if (input.metadataDirective === 'REPLACE') validateUserMetadata(input.userMetadata ?? {})
  if (input.taggingDirective === 'REPLACE') validateTags(input.tags ?? [], objectLimits.objectTagsMax)
  const source = await resolveCopySource(context, input.principal, input.source)
  if (source.record.sizeBytes > objectLimits.copyObjectBytesMax) {
    throw invalidArgument('InvalidRequest', `The specified copy source is larger than the maximum allowable size for a copy source: ${objectLimits.copyObjectBytesMax}`)
  }
  const changes = input.metadataDirective === 'REPLACE' || input.storageClass !== undefined || input.checksumAlgorithm !== undefined || input.encryption !== undefined
  if (isSelfCopy(input, source) && !changes) {
    throw invalidArgument('InvalidRequest', "This copy request is illegal because it is trying to copy an object to itself without changing the object's metadata, storage class, website redirect location or encryption attributes.")
  }
  const target = await resolveWriteEncryption(context, input.principal, input.bucket, input.encryption)
  if (copyNeedsData(source.record, target)) return copyObjectByData(context, input, source)
  await checkSourceKeyUsable(context, source.record)
  const checksum = await copyChecksum(context, input, source.record)
  throwIfAborted(input.signal)
  const idSuffix = newVersionIdSuffix(context.random)
  const manifestId = newManifestId(context)
  const { record, versioning } = await context.meta.transact(async (tx) => {
    const current = await sourceInTransaction(tx, input.principal, input.source, source.record)
    const bucket = await accessBucket(tx, input.principal, input.bucket)
    const data = await cloneData(context.chunkStore, tx, current.data, manifestId)
    const encryption = referenceCopyEncryption(current, target)
    // A copy into SSE-KMS gets an opaque ETag of its own (sse.ts); otherwise the source's stays.
    const etag = target.stored === undefined ? current.etag : target.etag(current.etag)
    const draft = { ...copyDraft(input, current, checksum), etag, data, ...(encryption === undefined ? {} : { encryption }) }
    const record = await commitVersion(context.chunkStore, tx, bucket, input.key, draft, { nowMs: context.clock.nowMs(), idSuffix })
    // The shared chunks follow the new class's tier in the background (restore-worker.ts).
    if (versionTier(record) !== versionTier(current)) putDue(tx, record.lastModifiedMs, bucket.id, input.key, record, 'tier-move')
    return { record, versioning: bucket.versioning }
  }, { signal: input.signal })
  return {
    etag: quotedEtag(record.etag),
    ...(versioning === 'Unversioned' ? {} : { versionId: record.versionId }),
    ...(record.checksum === undefined ? {} : { checksum: record.checksum }),
    sizeBytes: record.sizeBytes,
    lastModifiedMs: record.lastModifiedMs,
    ...(record.encryption === undefined ? {} : { encryption: encryptionInfo(record.encryption) }),
    ...(source.bucket.versioning === 'Unversioned' ? {} : { sourceVersionId: source.record.versionId }),
  }
}
