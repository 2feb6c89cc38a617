// Endpoint -> handler, in one exhaustive switch: a new Endpoint kind fails tsc here until it
// has a handler. Handlers live in handlers/, one file per operation group.
import { assertNever } from '../lib/index.ts'
import type { S3Context, S3Response } from './context.ts'
import type { Endpoint } from './endpoint.ts'
import { withDataManagement, type DataManagementEndpoint } from './data-management.ts'
import { S3Error } from './errors.ts'
import * as buckets from './handlers/buckets.ts'
import { copyObject } from './handlers/copy.ts'
import * as list from './handlers/list.ts'
import * as multipart from './handlers/multipart.ts'
import { deleteObject, deleteObjects } from './handlers/objects-delete.ts'
import { getObject } from './handlers/objects-get.ts'
import { putObject } from './handlers/objects-put.ts'
import * as tagging from './handlers/tagging.ts'

export async function dispatch(context: S3Context, endpoint: Endpoint): Promise<S3Response> {
  return withDataManagement(context, endpoint, dispatchCore)
}

async function dispatchCore(context: S3Context, endpoint: Exclude<Endpoint, DataManagementEndpoint>): Promise<S3Response> {
  switch (endpoint.kind) {
    case 'ListBuckets':
      return buckets.listBuckets(context, endpoint)
    case 'CreateBucket':
      return buckets.createBucket(context, endpoint)
    case 'HeadBucket':
      return buckets.headBucket(context, endpoint)
    case 'DeleteBucket':
      return buckets.deleteBucket(context, endpoint)
    case 'GetBucketLocation':
      return buckets.getBucketLocation(context, endpoint)
    case 'GetBucketVersioning':
      return buckets.getBucketVersioning(context, endpoint)
    case 'PutBucketVersioning':
      return buckets.putBucketVersioning(context, endpoint)
    case 'GetBucketAcl':
      return buckets.getBucketAcl(context, endpoint)
    case 'PutBucketAcl':
      return buckets.putBucketAcl(context, endpoint)
    case 'GetBucketTagging':
      return tagging.getBucketTagging(context, endpoint)
    case 'PutBucketTagging':
      return tagging.putBucketTagging(context, endpoint)
    case 'DeleteBucketTagging':
      return tagging.deleteBucketTagging(context, endpoint)
    case 'ListObjects':
      return list.listObjects(context, endpoint)
    case 'ListObjectsV2':
      return list.listObjectsV2(context, endpoint)
    case 'ListObjectVersions':
      return list.listObjectVersions(context, endpoint)
    case 'ListMultipartUploads':
      return multipart.listMultipartUploads(context, endpoint)
    case 'DeleteObjects':
      return deleteObjects(context, endpoint)
    case 'GetObject':
    case 'HeadObject':
      return getObject(context, endpoint)
    case 'PutObject':
      return putObject(context, endpoint)
    case 'CopyObject':
      return copyObject(context, endpoint)
    case 'DeleteObject':
      return deleteObject(context, endpoint)
    case 'GetObjectTagging':
      return tagging.getObjectTagging(context, endpoint)
    case 'PutObjectTagging':
      return tagging.putObjectTagging(context, endpoint)
    case 'DeleteObjectTagging':
      return tagging.deleteObjectTagging(context, endpoint)
    case 'GetObjectAcl':
    case 'PutObjectAcl':
      return objectAcl(context, endpoint)
    case 'CreateMultipartUpload':
      return multipart.createMultipartUpload(context, endpoint)
    case 'UploadPart':
      return multipart.uploadPart(context, endpoint)
    case 'UploadPartCopy':
      return multipart.uploadPartCopy(context, endpoint)
    case 'CompleteMultipartUpload':
      return multipart.completeMultipartUpload(context, endpoint)
    case 'AbortMultipartUpload':
      return multipart.abortMultipartUpload(context, endpoint)
    case 'ListParts':
      return multipart.listParts(context, endpoint)
    case 'NotImplemented':
      throw new S3Error('NotImplemented', `${endpoint.operation} is not implemented by this server.`, { details: { Operation: endpoint.operation } })
    default:
      return assertNever(endpoint, 'unrouted endpoint')
  }
}

async function objectAcl(context: S3Context, endpoint: Extract<Endpoint, { kind: 'GetObjectAcl' | 'PutObjectAcl' }>): Promise<S3Response> {
  const { version } = await context.objects.headObject({
    bucket: endpoint.bucket,
    key: endpoint.key,
    principal: context.principal,
    ...(endpoint.versionId === undefined ? {} : { versionId: endpoint.versionId }),
    signal: context.signal,
  })
  if (endpoint.kind === 'PutObjectAcl') {
    await buckets.checkCannedAclOnly(context)
    return { status: 200, headers: {} }
  }
  return buckets.ownerAclDocument(version.owner, version.owner === context.principal.userId ? context.principal.displayName : version.owner)
}
