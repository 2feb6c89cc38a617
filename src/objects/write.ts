// PutObject and DeleteObject.
//
// PUT: validate, check bucket access and the write conditions early (fail before reading a
// body), stream the body into chunks (ingest.ts), ask the edge for the digests, then ONE
// transaction: re-check access and conditions (atomically: the transaction is the commit
// point), write segments, the version, current entry and null pointer, and move references.
// An abort or a digest failure before the commit leaves nothing but unreferenced chunks.
// DELETE: AWS's rules per versioning state (versions.ts); with a version id, a permanent removal.
import { assert, objectLimits, throwIfAborted, type Clock, type Random } from '../lib/index.ts'
import type { WriteTx } from '../meta/index.ts'
import { newUploadId, newVersionIdSuffix, type ChunkReference, type VersionData } from '../model/index.ts'
import type { DeleteObjectResult, PutObjectInput, PutObjectResult, Principal, VersionId } from './api.ts'
import { accessBucket } from './buckets.ts'
import { quotedEtag } from './conditions.ts'
import { tierOf, type ObjectsContext } from './context.ts'
import { ingest, type Ingested } from './ingest.ts'
import { validateObjectKey, validateStorageClass, validateTags, validateUserMetadata } from './validate.ts'
import { encryptionInfo, resolveWriteEncryption } from './sse.ts'
import {
  checkWriteConditions,
  commitVersion,
  currentVersion,
  latestVersion,
  refreshCurrent,
  removeVersion,
  versionById,
  writeSegment,
  type VersionDraft,
} from './versions.ts'
import type { ChunkStore } from '../chunk/index.ts'

/** A version's data plus the segment records to write with it (large single-PUT objects). */
export interface PlannedData {
  data: VersionData
  segments: Array<{ manifestId: string; index: number; chunks: ChunkReference[] }>
}

/** Inline, embedded table, or segments of manifestSegmentChunksMax references each. */
export function planData(ingested: Ingested, clock: Clock, random: Random): PlannedData {
  if (ingested.inline !== undefined || ingested.sizeBytes === 0) {
    return { data: { kind: 'inline', bytes: ingested.inline ?? Buffer.alloc(0) }, segments: [] }
  }
  return planChunks(ingested.chunks, clock, random)
}

export function planChunks(chunks: ChunkReference[], clock: Clock, random: Random): PlannedData {
  if (chunks.length <= objectLimits.manifestEmbeddedChunksMax) return { data: { kind: 'chunks', chunks }, segments: [] }
  const manifestId = newUploadId(clock.nowMs(), random)
  const segments: PlannedData['segments'] = []
  for (let at = 0; at < chunks.length; at += objectLimits.manifestSegmentChunksMax) {
    segments.push({ manifestId, index: segments.length, chunks: chunks.slice(at, at + objectLimits.manifestSegmentChunksMax) })
  }
  const infos = segments.map((segment) => ({
    index: segment.index,
    sizeBytes: segment.chunks.reduce((sum, chunk) => sum + chunk.sizeBytes, 0),
    chunkCount: segment.chunks.length,
  }))
  return { data: { kind: 'segments', manifestId, multipart: false, segments: infos }, segments }
}

export async function writePlannedSegments(chunkStore: ChunkStore, tx: WriteTx, planned: PlannedData): Promise<void> {
  for (const segment of planned.segments) await writeSegment(chunkStore, tx, segment.manifestId, segment.index, segment.chunks)
}

export async function putObject(context: ObjectsContext, input: PutObjectInput): Promise<PutObjectResult> {
  validateObjectKey(input.key)
  validateUserMetadata(input.userMetadata)
  const tags = input.tags ?? []
  validateTags(tags, objectLimits.objectTagsMax)
  const storageClass = validateStorageClass(input.storageClass)
  const conditions = { ...(input.ifMatch === undefined ? {} : { ifMatch: input.ifMatch }), ...(input.ifNoneMatch === undefined ? {} : { ifNoneMatch: input.ifNoneMatch }) }
  await context.meta.read(async (tx) => {
    const bucket = await accessBucket(tx, input.principal, input.bucket)
    checkWriteConditions(await currentVersion(tx, bucket.id, input.key), conditions, bucket.name, input.key)
  })
  const encryption = await resolveWriteEncryption(context, input.principal, input.bucket, input.encryption)
  // Held until the version committed: a slow body must not find its first chunks collected.
  using hold = context.chunkStore.hold()
  const ingested = await ingest(context, encryption.wrap(input.body, 0), {
    tier: tierOf(storageClass),
    domain: encryption.domain,
    inline: encryption.inline,
    signal: input.signal,
    hold,
    ...(input.sizeBytes === undefined ? {} : { sizeBytes: input.sizeBytes }),
    sizeBytesMax: objectLimits.putObjectBytesMax,
    tooLargeHint: 'EntityTooLarge',
  })
  const digests = await input.digests()
  assert(/^[0-9a-f]{32}$/.test(digests.md5Hex), 'the edge gives the MD5 as 32 lowercase hex digits')
  throwIfAborted(input.signal)
  const planned = planData(ingested, context.clock, context.random)
  const draft: VersionDraft = {
    deleteMarker: false,
    sizeBytes: ingested.sizeBytes,
    etag: encryption.etag(digests.md5Hex),
    ...(digests.checksum === undefined ? {} : { checksum: digests.checksum }),
    contentHeaders: { ...input.contentHeaders },
    userMetadata: { ...input.userMetadata },
    tags: tags.map((tag) => ({ key: tag.key, value: tag.value })),
    storageClass,
    owner: input.principal.userId,
    data: planned.data,
    ...(encryption.stored === undefined ? {} : { encryption: encryption.stored }),
  }
  const idSuffix = newVersionIdSuffix(context.random)
  const { record, versioning } = await context.meta.transact(async (tx) => {
    const bucket = await accessBucket(tx, input.principal, input.bucket)
    await writePlannedSegments(context.chunkStore, tx, planned)
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

export function deleteMarkerDraft(owner: string): VersionDraft {
  return { deleteMarker: true, sizeBytes: 0, etag: '', contentHeaders: {}, userMetadata: {}, tags: [], storageClass: 'STANDARD', owner, data: { kind: 'none' } }
}

export interface DeleteObjectInput {
  bucket: string
  key: string
  principal: Principal
  versionId?: VersionId
  signal: AbortSignal
}

export async function deleteObject(context: ObjectsContext, input: DeleteObjectInput): Promise<DeleteObjectResult> {
  validateObjectKey(input.key)
  throwIfAborted(input.signal)
  const idSuffix = newVersionIdSuffix(context.random)
  return context.meta.transact(async (tx) => {
    const bucket = await accessBucket(tx, input.principal, input.bucket)
    const { chunkStore } = context
    if (input.versionId !== undefined) {
      // Permanent removal of one version (or marker); a well-formed id that names nothing is a no-op, as in S3.
      const record = await versionById(tx, bucket.id, input.key, input.versionId)
      if (record === undefined) return { versionId: input.versionId, deleteMarker: false }
      const latest = await latestVersion(tx, bucket.id, input.key)
      await removeVersion(chunkStore, tx, bucket.id, input.key, record)
      if (latest?.order === record.order) await refreshCurrent(tx, bucket.id, input.key)
      return { versionId: record.versionId, deleteMarker: record.deleteMarker }
    }
    if (bucket.versioning === 'Unversioned') {
      const record = await versionById(tx, bucket.id, input.key, 'null')
      if (record !== undefined) {
        await removeVersion(chunkStore, tx, bucket.id, input.key, record)
        await refreshCurrent(tx, bucket.id, input.key)
      }
      return { deleteMarker: false }
    }
    const marker = await commitVersion(chunkStore, tx, bucket, input.key, deleteMarkerDraft(input.principal.userId), { nowMs: context.clock.nowMs(), idSuffix })
    return { versionId: marker.versionId, deleteMarker: true }
  }, { signal: input.signal })
}
