// ListObjects, ListObjectVersions and ListMultipartUploads pages on the delimited scan (list.ts).
// maxKeys counts entries and common prefixes together, as S3 does; a page is truncated when at
// least one more item exists, and names where the next page starts.
import { decodeVersion, decodeUpload, currentKey, currentSpace, keyUploadsRange, keyVersionsRange, uploadKey, uploadSpace, versionKey, versionSpace } from '../model/index.ts'
import type { ReadTx } from '../meta/index.ts'
import type { ListObjectsInput, ListObjectsResult, ListVersionsInput, ListVersionsResult, MultipartUploadInfo, ObjectVersionInfo, Principal, UserId } from './api.ts'
import { accessBucket } from './buckets.ts'
import type { ObjectsContext } from './context.ts'
import { invalidArgument } from './errors.ts'
import { delimitedScan, startAfter, type DelimitedScan } from './list.ts'
import { versionInfo } from './read.ts'
import { pageSize } from './validate.ts'
import { latestVersion, orderOfVersion } from './versions.ts'

function delimiterOf(delimiter: string | undefined): string | undefined {
  return delimiter === undefined || delimiter === '' ? undefined : delimiter
}

export async function listObjects(context: ObjectsContext, input: ListObjectsInput): Promise<ListObjectsResult> {
  const maxKeys = pageSize(input.maxKeys, 'max-keys')
  const prefix = input.prefix ?? ''
  const delimiter = delimiterOf(input.delimiter)
  return context.meta.read(async (tx) => {
    const bucket = await accessBucket(tx, input.principal, input.bucket)
    const space = currentSpace(bucket.id)
    const start = startAfter(space, prefix, delimiter, input.after, (key) => ({ gt: currentKey(bucket.id, key) }))
    const contents: ObjectVersionInfo[] = []
    const commonPrefixes: string[] = []
    let last: string | undefined
    let isTruncated = false
    if (maxKeys === 0) return { contents, commonPrefixes, isTruncated }
    for await (const item of delimitedScan(tx, { space, prefix, delimiter, start, wanted: maxKeys })) {
      if (contents.length + commonPrefixes.length === maxKeys) {
        isTruncated = true
        break
      }
      if (item.kind === 'prefix') {
        commonPrefixes.push(item.prefix)
        last = item.prefix
      } else {
        contents.push(versionInfo(input.bucket, item.key, decodeVersion(item.entry.value, `('s3','cur',${bucket.id},${JSON.stringify(item.key)})`), true))
        last = item.key
      }
    }
    return { contents, commonPrefixes, isTruncated, ...(isTruncated && last !== undefined ? { nextAfter: last } : {}) }
  })
}

async function versionsStart(tx: ReadTx, bucketId: number, input: ListVersionsInput, prefix: string, delimiter: string | undefined): Promise<DelimitedScan['start']> {
  const space = versionSpace(bucketId)
  const afterKey = (key: string) => ({ gte: keyVersionsRange(bucketId, key).lt })
  if (input.keyMarker === undefined) {
    if (input.versionIdMarker !== undefined) throw invalidArgument('InvalidArgument', 'A version-id marker cannot be specified without a key marker.')
    return startAfter(space, prefix, delimiter, undefined, afterKey)
  }
  const keyMarker = input.keyMarker
  if (input.versionIdMarker === undefined) return startAfter(space, prefix, delimiter, keyMarker, afterKey)
  const order = await orderOfVersion(tx, bucketId, keyMarker, input.versionIdMarker)
  // A null version named by the marker that is gone since: continue with the next key.
  return startAfter(space, prefix, delimiter, keyMarker, () => (order === undefined ? afterKey(keyMarker) : { gt: versionKey(bucketId, keyMarker, order) }))
}

export async function listObjectVersions(context: ObjectsContext, input: ListVersionsInput): Promise<ListVersionsResult> {
  const maxKeys = pageSize(input.maxKeys, 'max-keys')
  const prefix = input.prefix ?? ''
  const delimiter = delimiterOf(input.delimiter)
  return context.meta.read(async (tx) => {
    const bucket = await accessBucket(tx, input.principal, input.bucket)
    const start = await versionsStart(tx, bucket.id, input, prefix, delimiter)
    const versions: ObjectVersionInfo[] = []
    const commonPrefixes: string[] = []
    let last: { key: string; versionId?: string } | undefined
    let previousKey: string | undefined
    let isTruncated = false
    if (maxKeys === 0) return { versions, commonPrefixes, isTruncated }
    for await (const item of delimitedScan(tx, { space: versionSpace(bucket.id), prefix, delimiter, start, wanted: maxKeys })) {
      if (versions.length + commonPrefixes.length === maxKeys) {
        isTruncated = true
        break
      }
      if (item.kind === 'prefix') {
        commonPrefixes.push(item.prefix)
        last = { key: item.prefix }
        continue
      }
      const record = decodeVersion(item.entry.value, `('s3','ver',${bucket.id},${JSON.stringify(item.key)})`)
      let isLatest = item.key !== previousKey
      // The page began inside this key's versions: ask whether a newer version exists.
      if (isLatest && previousKey === undefined && item.key === input.keyMarker) isLatest = (await latestVersion(tx, bucket.id, item.key))?.order === record.order
      previousKey = item.key
      versions.push(versionInfo(input.bucket, item.key, record, isLatest))
      last = { key: item.key, versionId: record.versionId }
    }
    return {
      versions,
      commonPrefixes,
      isTruncated,
      ...(isTruncated && last !== undefined ? { nextKeyMarker: last.key } : {}),
      ...(isTruncated && last?.versionId !== undefined ? { nextVersionIdMarker: last.versionId } : {}),
    }
  })
}

export interface ListUploadsInput {
  bucket: string
  principal: Principal
  prefix?: string
  delimiter?: string
  keyMarker?: string
  uploadIdMarker?: string
  maxUploads: number
}

export interface ListUploadsResult {
  uploads: MultipartUploadInfo[]
  commonPrefixes: string[]
  isTruncated: boolean
  nextKeyMarker?: string
  nextUploadIdMarker?: string
}

export async function listMultipartUploads(context: ObjectsContext, input: ListUploadsInput): Promise<ListUploadsResult> {
  const maxUploads = pageSize(input.maxUploads, 'max-uploads')
  const prefix = input.prefix ?? ''
  const delimiter = delimiterOf(input.delimiter)
  return context.meta.read(async (tx) => {
    const bucket = await accessBucket(tx, input.principal, input.bucket)
    const space = uploadSpace(bucket.id)
    const { uploadIdMarker } = input
    // upload-id-marker counts only with a key marker (S3 ignores it otherwise).
    const start = startAfter(space, prefix, delimiter, input.keyMarker, (key) =>
      uploadIdMarker === undefined ? { gte: keyUploadsRange(bucket.id, key).lt } : { gt: uploadKey(bucket.id, key, uploadIdMarker) })
    const uploads: MultipartUploadInfo[] = []
    const commonPrefixes: string[] = []
    let last: { key: string; uploadId?: string } | undefined
    let isTruncated = false
    if (maxUploads === 0) return { uploads, commonPrefixes, isTruncated }
    for await (const item of delimitedScan(tx, { space, prefix, delimiter, start, wanted: maxUploads })) {
      if (uploads.length + commonPrefixes.length === maxUploads) {
        isTruncated = true
        break
      }
      if (item.kind === 'prefix') {
        commonPrefixes.push(item.prefix)
        last = { key: item.prefix }
        continue
      }
      const upload = uploadInfo(input.bucket, decodeUpload(item.entry.value, `('s3','upload',${bucket.id},${JSON.stringify(item.key)})`))
      uploads.push(upload)
      last = { key: item.key, uploadId: upload.uploadId }
    }
    return {
      uploads,
      commonPrefixes,
      isTruncated,
      ...(isTruncated && last !== undefined ? { nextKeyMarker: last.key } : {}),
      ...(isTruncated && last?.uploadId !== undefined ? { nextUploadIdMarker: last.uploadId } : {}),
    }
  })
}

export function uploadInfo(bucket: string, record: ReturnType<typeof decodeUpload>): MultipartUploadInfo {
  return {
    uploadId: record.uploadId,
    bucket,
    key: record.key,
    initiatedMs: record.initiatedMs,
    owner: record.owner as UserId,
    storageClass: record.storageClass,
    ...(record.checksumAlgorithm === undefined ? {} : { checksumAlgorithm: record.checksumAlgorithm }),
    ...(record.checksumType === undefined ? {} : { checksumType: record.checksumType }),
  }
}
