// Buckets: create/head/delete/list, versioning state and bucket tags, plus the access check
// every object operation starts with (a principal sees only its own buckets; root may use any).
// Invariants: ('s3','owner',owner,name) exists exactly while the bucket does; a bucket is
// deleted only when it has no version, delete marker or upload (one seek each).
import { objectLimits } from '../lib/index.ts'
import { decodeKey, prefixEnd, scanAll, type ReadTx, type WriteTx } from '../meta/index.ts'
import {
  accessKeyKey,
  bucketEncryptionKey,
  bucketKey,
  bucketSequenceKey,
  decodeBucket,
  decodeSequence,
  encodeBucket,
  encodeSequence,
  lifecycleKey,
  ownerKey,
  ownerRange,
  tieringConfigRange,
  uploadSpace,
  versionSpace,
  type BucketRecord,
} from '../model/index.ts'
import type { BucketInfo, Principal, Tags } from './api.ts'
import type { ObjectsContext } from './context.ts'
import { noSuchBucket, ObjectsError } from './errors.ts'
import { validateBucketName, validateTags } from './validate.ts'

export function bucketInfo(record: BucketRecord): BucketInfo {
  return { name: record.name, owner: record.owner as BucketInfo['owner'], createdMs: record.createdMs, region: record.region, versioning: record.versioning }
}

async function findBucket(tx: ReadTx, name: string): Promise<BucketRecord | undefined> {
  const stored = await tx.get(bucketKey(name))
  return stored === undefined ? undefined : decodeBucket(stored, `('s3','bucket',${JSON.stringify(name)})`)
}

/** The bucket if principal may use it: NOT_FOUND bucket, or ACCESS_DENIED for another's bucket. */
export async function accessBucket(tx: ReadTx, principal: Principal, name: string): Promise<BucketRecord> {
  const bucket = await findBucket(tx, name)
  if (bucket === undefined) throw noSuchBucket(name)
  if (bucket.owner !== principal.userId && !principal.isRoot) {
    throw new ObjectsError('ACCESS_DENIED', `Access Denied: bucket ${name} belongs to another user`, { subject: 'bucket' })
  }
  return bucket
}

export async function createBucket(context: ObjectsContext, principal: Principal, name: string, region: string | undefined): Promise<void> {
  validateBucketName(name)
  await context.meta.transact(async (tx) => {
    const existing = await findBucket(tx, name)
    if (existing !== undefined) {
      const ownedByCaller = existing.owner === principal.userId
      throw new ObjectsError('ALREADY_EXISTS', ownedByCaller
        ? `Your previous request to create the named bucket succeeded and you already own it: ${name}`
        : `The requested bucket name is not available: ${name}`, { subject: 'bucket', hint: ownedByCaller ? 'BucketAlreadyOwnedByYou' : 'BucketAlreadyExists' })
    }
    // A user deleted while this request ran must not end up owning a bucket.
    if (!principal.isRoot && (await tx.get(accessKeyKey(principal.accessKeyId))) === undefined) {
      throw new ObjectsError('ACCESS_DENIED', `Access Denied: access key ${principal.accessKeyId} no longer exists`, { subject: 'user' })
    }
    const id = decodeSequence(await tx.get(bucketSequenceKey()), "('sys','seq','bucket')") + 1
    tx.put(bucketSequenceKey(), encodeSequence(id))
    const record: BucketRecord = {
      id,
      name,
      owner: principal.userId,
      createdMs: context.clock.nowMs(),
      region: region ?? context.defaultRegion,
      versioning: 'Unversioned',
      tags: [],
    }
    tx.put(bucketKey(name), encodeBucket(record))
    tx.put(ownerKey(principal.userId, name), Buffer.alloc(0))
  })
}

export async function headBucket(context: ObjectsContext, principal: Principal, name: string): Promise<BucketInfo> {
  return bucketInfo(await context.meta.read((tx) => accessBucket(tx, principal, name)))
}

async function isEmpty(tx: ReadTx, bucket: BucketRecord): Promise<boolean> {
  const [version] = await tx.scan({ ...prefixRangeOf(versionSpace(bucket.id)), limit: 1 })
  if (version !== undefined) return false
  const [upload] = await tx.scan({ ...prefixRangeOf(uploadSpace(bucket.id)), limit: 1 })
  return upload === undefined
}

function prefixRangeOf(space: Buffer): { gt: Buffer; lt: Buffer } {
  return { gt: space, lt: prefixEnd(space) }
}

export async function deleteBucket(context: ObjectsContext, principal: Principal, name: string): Promise<void> {
  await context.meta.transact(async (tx) => {
    const bucket = await accessBucket(tx, principal, name)
    if (!(await isEmpty(tx, bucket))) {
      throw new ObjectsError('NOT_EMPTY', `The bucket you tried to delete is not empty: ${name} (versions, delete markers or uploads remain)`, { subject: 'bucket' })
    }
    tx.delete(bucketKey(name))
    tx.delete(ownerKey(bucket.owner, name))
    // The bucket's configurations go with it (keyed by its id, so a new bucket of the same name
    // never saw them, but they would stay behind). Bucket keys stay: copies elsewhere may use them.
    tx.delete(lifecycleKey(bucket.id))
    tx.delete(bucketEncryptionKey(bucket.id))
    for await (const entry of scanAll(tx, tieringConfigRange(bucket.id))) tx.delete(entry.key)
  })
}

/** The principal's own buckets, by name (root too sees only its own). */
export async function listBuckets(context: ObjectsContext, principal: Principal): Promise<BucketInfo[]> {
  return context.meta.read(async (tx) => {
    const names: string[] = []
    for await (const entry of scanAll(tx, ownerRange(principal.userId))) names.push(decodeKey(entry.key)[3] as string)
    const buckets: BucketInfo[] = []
    for (let at = 0; at < names.length; at += objectLimits.listPageMax) {
      const page = names.slice(at, at + objectLimits.listPageMax)
      const stored = await tx.getMany(page.map((name) => bucketKey(name)))
      stored.forEach((value, index) => {
        if (value !== undefined) buckets.push(bucketInfo(decodeBucket(value, `('s3','bucket',${JSON.stringify(page[index])})`)))
      })
    }
    return buckets
  })
}

async function updateBucket(context: ObjectsContext, principal: Principal, name: string, change: (bucket: BucketRecord) => BucketRecord): Promise<void> {
  await context.meta.transact(async (tx: WriteTx) => {
    const bucket = await accessBucket(tx, principal, name)
    tx.put(bucketKey(name), encodeBucket(change(bucket)))
  })
}

export async function putBucketVersioning(context: ObjectsContext, principal: Principal, name: string, state: 'Enabled' | 'Suspended'): Promise<void> {
  if (state !== 'Enabled' && state !== 'Suspended') {
    throw new ObjectsError('INVALID_ARGUMENT', `versioning status must be Enabled or Suspended, not ${String(state)}`, { hint: 'InvalidArgument' })
  }
  await updateBucket(context, principal, name, (bucket) => ({ ...bucket, versioning: state }))
}

export async function getBucketTagging(context: ObjectsContext, principal: Principal, name: string): Promise<Tags> {
  const bucket = await context.meta.read((tx) => accessBucket(tx, principal, name))
  if (bucket.tags.length === 0) throw new ObjectsError('NOT_FOUND', 'The TagSet does not exist', { subject: 'configuration', hint: 'NoSuchTagSet' })
  return bucket.tags.map((tag) => ({ ...tag }))
}

export async function putBucketTagging(context: ObjectsContext, principal: Principal, name: string, tags: Tags): Promise<void> {
  validateTags(tags, objectLimits.bucketTagsMax)
  await updateBucket(context, principal, name, (bucket) => ({ ...bucket, tags: tags.map((tag) => ({ key: tag.key, value: tag.value })) }))
}

export async function deleteBucketTagging(context: ObjectsContext, principal: Principal, name: string): Promise<void> {
  await updateBucket(context, principal, name, (bucket) => ({ ...bucket, tags: [] }))
}
