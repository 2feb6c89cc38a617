// Listings: ListObjects (V1: marker, NextMarker), ListObjectsV2 (opaque continuation token
// that encodes the key to start after, start-after, fetch-owner, KeyCount) and
// ListObjectVersions (key-marker, version-id-marker, delete markers in order). Paging itself
// (prefix, delimiter, CommonPrefixes, O(page) cost, tokens that land inside a common prefix)
// is the objects layer's; this file renders it and applies encoding-type=url.
// x-amz-optional-object-attributes: RestoreStatus adds <RestoreStatus> to each object or version
// with a restore requested or readable (absent otherwise, as on AWS); other names are refused.
import type { ObjectVersionInfo, Principal } from '../../objects/index.ts'
import { header, xmlResponse, type S3Context, type S3Response } from '../context.ts'
import type { BucketEndpoint, EncodingType } from '../endpoint.ts'
import { S3Error } from '../errors.ts'
import { quoteEtag } from '../headers.ts'
import { xmlTimestamp, type XmlChild } from '../xml.ts'
import { encodeListValue, ownerXml } from './common.ts'

type ListV1 = Extract<BucketEndpoint, { kind: 'ListObjects' }>
type ListV2 = Extract<BucketEndpoint, { kind: 'ListObjectsV2' }>
type ListVersions = Extract<BucketEndpoint, { kind: 'ListObjectVersions' }>

const tokenVersion = '1'

/** V2 continuation token: opaque to clients; base64url of a version tag and the key to start after. */
export function encodeContinuationToken(after: string): string {
  return Buffer.from(`${tokenVersion}${after}`, 'utf8').toString('base64url')
}

export function decodeContinuationToken(token: string): string {
  const text = Buffer.from(token, 'base64url').toString('utf8')
  if (token === '' || !text.startsWith(tokenVersion) || encodeContinuationToken(text.slice(tokenVersion.length)) !== token) {
    throw new S3Error('InvalidArgument', 'The continuation token provided is incorrect', { details: { ArgumentName: 'continuation-token', ArgumentValue: token } })
  }
  return text.slice(tokenVersion.length)
}

const optionalAttributesHeader = 'x-amz-optional-object-attributes'

/** Whether the request asks for RestoreStatus (the only optional attribute S3 defines). */
export function wantsRestoreStatus(context: Pick<S3Context, 'headers'>): boolean {
  const value = header(context, optionalAttributesHeader)
  if (value === undefined) return false
  const names = value.split(',').map((name) => name.trim()).filter((name) => name !== '')
  for (const name of names) {
    if (name !== 'RestoreStatus') {
      throw new S3Error('InvalidArgument', `Invalid attribute name specified: ${name}`, { details: { ArgumentName: optionalAttributesHeader, ArgumentValue: value } })
    }
  }
  return names.length > 0
}

/** <RestoreStatus> of a version with a restore (ongoing, or readable until RestoreExpiryDate). */
function restoreStatusXml(version: ObjectVersionInfo): XmlChild | undefined {
  const restore = version.restore
  if (restore === undefined) return undefined
  return ['RestoreStatus', [
    ['IsRestoreInProgress', restore.ongoing],
    ['RestoreExpiryDate', restore.expiryMs === undefined ? undefined : xmlTimestamp(restore.expiryMs)],
  ]]
}

interface ContentsOptions {
  owner: { principal: Principal } | undefined
  restoreStatus: boolean
}

function contentsXml(version: ObjectVersionInfo, encodingType: EncodingType, options: ContentsOptions): XmlChild {
  const { owner } = options
  const children: XmlChild[] = [
    ['Key', encodeListValue(version.key, encodingType)],
    ['LastModified', xmlTimestamp(version.lastModifiedMs)],
    ['ETag', quoteEtag(version.etag)],
  ]
  if (version.checksum !== undefined) children.push(['ChecksumAlgorithm', version.checksum.algorithm], ['ChecksumType', version.checksum.type])
  children.push(['Size', version.sizeBytes], ['StorageClass', version.storageClass])
  if (owner !== undefined) children.push(ownerXml(version.owner, owner.principal))
  const restoreStatus = options.restoreStatus ? restoreStatusXml(version) : undefined
  if (restoreStatus !== undefined) children.push(restoreStatus)
  return ['Contents', children]
}

function commonPrefixesXml(prefixes: readonly string[], encodingType: EncodingType): XmlChild[] {
  return prefixes.map((prefix): XmlChild => ['CommonPrefixes', [['Prefix', encodeListValue(prefix, encodingType)]]])
}

export async function listObjects(context: S3Context, endpoint: ListV1): Promise<S3Response> {
  const { encodingType } = endpoint
  const restoreStatus = wantsRestoreStatus(context)
  const result = await context.objects.listObjects({
    bucket: endpoint.bucket,
    principal: context.principal,
    ...(endpoint.prefix === undefined ? {} : { prefix: endpoint.prefix }),
    ...(endpoint.delimiter === undefined ? {} : { delimiter: endpoint.delimiter }),
    ...(endpoint.marker === undefined || endpoint.marker === '' ? {} : { after: endpoint.marker }),
    maxKeys: endpoint.maxKeys,
  })
  return xmlResponse('ListBucketResult', [
    ['Name', endpoint.bucket],
    ['Prefix', encodeListValue(endpoint.prefix ?? '', encodingType)],
    ['Marker', encodeListValue(endpoint.marker ?? '', encodingType)],
    ['NextMarker', result.isTruncated ? encodeListValue(result.nextAfter, encodingType) : undefined],
    ['MaxKeys', endpoint.maxKeys],
    ['Delimiter', encodeListValue(endpoint.delimiter, encodingType)],
    ['IsTruncated', result.isTruncated],
    ['EncodingType', encodingType],
    ...result.contents.map((version) => contentsXml(version, encodingType, { owner: { principal: context.principal }, restoreStatus })),
    ...commonPrefixesXml(result.commonPrefixes, encodingType),
  ])
}

export async function listObjectsV2(context: S3Context, endpoint: ListV2): Promise<S3Response> {
  const { encodingType } = endpoint
  const restoreStatus = wantsRestoreStatus(context)
  const after = endpoint.continuationToken !== undefined ? decodeContinuationToken(endpoint.continuationToken) : endpoint.startAfter || undefined
  const result = await context.objects.listObjects({
    bucket: endpoint.bucket,
    principal: context.principal,
    ...(endpoint.prefix === undefined ? {} : { prefix: endpoint.prefix }),
    ...(endpoint.delimiter === undefined ? {} : { delimiter: endpoint.delimiter }),
    ...(after === undefined ? {} : { after }),
    maxKeys: endpoint.maxKeys,
  })
  const next = result.isTruncated && result.nextAfter !== undefined ? encodeContinuationToken(result.nextAfter) : undefined
  return xmlResponse('ListBucketResult', [
    ['Name', endpoint.bucket],
    ['Prefix', encodeListValue(endpoint.prefix ?? '', encodingType)],
    ['Delimiter', encodeListValue(endpoint.delimiter, encodingType)],
    ['MaxKeys', endpoint.maxKeys],
    ['KeyCount', result.contents.length + result.commonPrefixes.length],
    ['IsTruncated', result.isTruncated],
    ['EncodingType', encodingType],
    ['ContinuationToken', endpoint.continuationToken],
    ['NextContinuationToken', next],
    ['StartAfter', encodeListValue(endpoint.startAfter, encodingType)],
    ...result.contents.map((version) => contentsXml(version, encodingType, { owner: endpoint.fetchOwner ? { principal: context.principal } : undefined, restoreStatus })),
    ...commonPrefixesXml(result.commonPrefixes, encodingType),
  ])
}

function versionXml(version: ObjectVersionInfo, encodingType: EncodingType, principal: Principal, restoreStatus: boolean): XmlChild {
  const common: XmlChild[] = [
    ['Key', encodeListValue(version.key, encodingType)],
    ['VersionId', version.versionId],
    ['IsLatest', version.isLatest],
    ['LastModified', xmlTimestamp(version.lastModifiedMs)],
  ]
  if (version.isDeleteMarker) return ['DeleteMarker', [...common, ownerXml(version.owner, principal)]]
  const children: XmlChild[] = [...common, ['ETag', quoteEtag(version.etag)]]
  if (version.checksum !== undefined) children.push(['ChecksumAlgorithm', version.checksum.algorithm], ['ChecksumType', version.checksum.type])
  children.push(['Size', version.sizeBytes], ['StorageClass', version.storageClass], ownerXml(version.owner, principal))
  const restore = restoreStatus ? restoreStatusXml(version) : undefined
  if (restore !== undefined) children.push(restore)
  return ['Version', children]
}

export async function listObjectVersions(context: S3Context, endpoint: ListVersions): Promise<S3Response> {
  const { encodingType } = endpoint
  const restoreStatus = wantsRestoreStatus(context)
  const result = await context.objects.listObjectVersions({
    bucket: endpoint.bucket,
    principal: context.principal,
    ...(endpoint.prefix === undefined ? {} : { prefix: endpoint.prefix }),
    ...(endpoint.delimiter === undefined ? {} : { delimiter: endpoint.delimiter }),
    ...(endpoint.keyMarker === undefined || endpoint.keyMarker === '' ? {} : { keyMarker: endpoint.keyMarker }),
    ...(endpoint.versionIdMarker === undefined ? {} : { versionIdMarker: endpoint.versionIdMarker }),
    maxKeys: endpoint.maxKeys,
  })
  return xmlResponse('ListVersionsResult', [
    ['Name', endpoint.bucket],
    ['Prefix', encodeListValue(endpoint.prefix ?? '', encodingType)],
    ['KeyMarker', encodeListValue(endpoint.keyMarker ?? '', encodingType)],
    ['VersionIdMarker', endpoint.versionIdMarker ?? ''],
    ['NextKeyMarker', result.isTruncated ? encodeListValue(result.nextKeyMarker, encodingType) : undefined],
    ['NextVersionIdMarker', result.isTruncated ? result.nextVersionIdMarker : undefined],
    ['MaxKeys', endpoint.maxKeys],
    ['Delimiter', encodeListValue(endpoint.delimiter, encodingType)],
    ['IsTruncated', result.isTruncated],
    ['EncodingType', encodingType],
    ...result.versions.map((version) => versionXml(version, encodingType, context.principal, restoreStatus)),
    ...commonPrefixesXml(result.commonPrefixes, encodingType),
  ])
}
