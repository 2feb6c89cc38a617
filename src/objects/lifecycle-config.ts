// Put/Get/DeleteBucketLifecycleConfiguration over ('s3','lifecycle',bucketId), and the
// x-amz-expiration a version gets from it (docs/lifecycle.md).
// A configuration is replaced whole by every PUT (as in S3); DELETE of none is a no-op (204).
import type { ReadTx } from '../meta/index.ts'
import { decodeLifecycle, encodeLifecycle, lifecycleKey, type BucketRecord, type LifecycleConfiguration, type VersionRecord } from '../model/index.ts'
import type { ExpirationInfo, Principal } from './api.ts'
import { accessBucket } from './buckets.ts'
import type { ObjectsContext } from './context.ts'
import { ObjectsError } from './errors.ts'
import { expirationOf } from './lifecycle-rules.ts'
import { validateLifecycle } from './lifecycle-validate.ts'
import { currentVersion } from './versions.ts'

export async function lifecycleOf(tx: ReadTx, bucket: BucketRecord): Promise<LifecycleConfiguration | undefined> {
  const stored = await tx.get(lifecycleKey(bucket.id))
  return stored === undefined ? undefined : decodeLifecycle(stored, `('s3','lifecycle',${bucket.id})`).configuration
}

export async function putBucketLifecycle(context: ObjectsContext, principal: Principal, name: string, configuration: LifecycleConfiguration): Promise<void> {
  const validated = validateLifecycle(configuration, context.random)
  await context.meta.transact(async (tx) => {
    const bucket = await accessBucket(tx, principal, name)
    tx.put(lifecycleKey(bucket.id), encodeLifecycle({ bucketName: name, updatedMs: context.clock.nowMs(), configuration: validated }))
  })
}

export async function getBucketLifecycle(context: ObjectsContext, principal: Principal, name: string): Promise<LifecycleConfiguration> {
  const configuration = await context.meta.read(async (tx) => lifecycleOf(tx, await accessBucket(tx, principal, name)))
  if (configuration === undefined) {
    throw new ObjectsError('NOT_FOUND', 'The lifecycle configuration does not exist', { subject: 'configuration', hint: 'NoSuchLifecycleConfiguration' })
  }
  return configuration
}

export async function deleteBucketLifecycle(context: ObjectsContext, principal: Principal, name: string): Promise<void> {
  await context.meta.transact(async (tx) => {
    const bucket = await accessBucket(tx, principal, name)
    tx.delete(lifecycleKey(bucket.id))
  })
}

/** x-amz-expiration of a version (undefined for delete markers, noncurrent versions, or no rule). */
export async function expirationFor(context: ObjectsContext, bucket: BucketRecord, key: string, record: Pick<VersionRecord, 'sizeBytes' | 'tags' | 'lastModifiedMs' | 'deleteMarker'>, isLatest: boolean): Promise<ExpirationInfo | undefined> {
  if (!isLatest || record.deleteMarker) return undefined
  const configuration = await context.meta.read((tx) => lifecycleOf(tx, bucket))
  if (configuration === undefined) return undefined
  return expirationOf(configuration, context.dataManagement, { key, sizeBytes: record.sizeBytes, tags: record.tags, lastModifiedMs: record.lastModifiedMs })
}

/** The same for a write the caller just made (PUT, Complete, Copy), looked up by bucket name. */
export async function expirationAfterWrite(context: ObjectsContext, principal: Principal, bucketName: string, key: string): Promise<ExpirationInfo | undefined> {
  return context.meta.read(async (tx) => {
    const bucket = await accessBucket(tx, principal, bucketName)
    const configuration = await lifecycleOf(tx, bucket)
    if (configuration === undefined) return undefined
    const current = await currentVersion(tx, bucket.id, key)
    if (current === undefined) return undefined
    return expirationOf(configuration, context.dataManagement, { key, sizeBytes: current.sizeBytes, tags: current.tags, lastModifiedMs: current.lastModifiedMs })
  })
}
