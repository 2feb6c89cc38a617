// Tagging: Get/Put/DeleteObjectTagging and Get/Put/DeleteBucketTagging, and the Tagging XML
// document both use (<Tagging><TagSet><Tag><Key/><Value/></Tag>...</TagSet></Tagging>).
// Tag rules (count, lengths, unique keys) are checked at this edge before the objects layer.
import { objectLimits } from '../../lib/index.ts'
import type { Tags } from '../../objects/index.ts'
import { readSmallBody } from '../body.ts'
import { emptyResponse, xmlResponse, type S3Context, type S3Response } from '../context.ts'
import type { BucketTarget, ObjectTarget } from '../endpoint.ts'
import { S3Error } from '../errors.ts'
import { childList, childNode, parseXmlBody, requireChildText, type XmlChild } from '../xml.ts'

export function tagSetXml(tags: Tags): XmlChild {
  return ['TagSet', tags.map((tag): XmlChild => ['Tag', [['Key', tag.key], ['Value', tag.value]]])]
}

export function parseTagging(body: Buffer, maxTags: number): Tags {
  if (body.length === 0) throw new S3Error('MissingRequestBodyError', 'Request Body is empty')
  const root = parseXmlBody(body, 'Tagging')
  const tagSet = childNode(root, 'TagSet')
  if (tagSet === undefined) throw new S3Error('MalformedXML', 'The XML you provided was not well-formed or did not validate against our published schema.')
  const tags = childList(tagSet, 'Tag').map((tag) => ({ key: requireChildText(tag, 'Key'), value: requireChildText(tag, 'Value') }))
  // Only the count is checked here (the body is already bounded); the objects layer owns the rest.
  if (tags.length > maxTags) throw new S3Error('InvalidTag', `Object tags cannot be greater than ${maxTags}`)
  return tags
}

function versionHeader(versionId: string | undefined): Record<string, string> {
  return versionId === undefined ? {} : { 'x-amz-version-id': versionId }
}

type VersionedTarget = ObjectTarget & { readonly versionId?: string }

function objectInput(context: S3Context, endpoint: VersionedTarget) {
  return { bucket: endpoint.bucket, key: endpoint.key, principal: context.principal, ...(endpoint.versionId === undefined ? {} : { versionId: endpoint.versionId }) }
}

export async function getObjectTagging(context: S3Context, endpoint: VersionedTarget): Promise<S3Response> {
  const result = await context.objects.getObjectTagging(objectInput(context, endpoint))
  return xmlResponse('Tagging', [tagSetXml(result.tags)], versionHeader(result.versionId))
}

export async function putObjectTagging(context: S3Context, endpoint: VersionedTarget): Promise<S3Response> {
  const tags = parseTagging(await readSmallBody(context), objectLimits.objectTagsMax)
  const result = await context.objects.putObjectTagging({ ...objectInput(context, endpoint), tags })
  return emptyResponse(200, versionHeader(result.versionId))
}

export async function deleteObjectTagging(context: S3Context, endpoint: VersionedTarget): Promise<S3Response> {
  const result = await context.objects.deleteObjectTagging(objectInput(context, endpoint))
  return emptyResponse(204, versionHeader(result.versionId))
}

export async function getBucketTagging(context: S3Context, endpoint: BucketTarget): Promise<S3Response> {
  const tags = await context.objects.getBucketTagging(context.principal, endpoint.bucket)
  if (tags.length === 0) throw new S3Error('NoSuchTagSet', undefined, { details: { BucketName: endpoint.bucket } })
  return xmlResponse('Tagging', [tagSetXml(tags)])
}

export async function putBucketTagging(context: S3Context, endpoint: BucketTarget): Promise<S3Response> {
  const tags = parseTagging(await readSmallBody(context), objectLimits.bucketTagsMax)
  await context.objects.putBucketTagging(context.principal, endpoint.bucket, tags)
  return emptyResponse(204)
}

export async function deleteBucketTagging(context: S3Context, endpoint: BucketTarget): Promise<S3Response> {
  await context.objects.deleteBucketTagging(context.principal, endpoint.bucket)
  return emptyResponse(204)
}
