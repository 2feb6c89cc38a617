// Bucket operations: CreateBucket (AWS naming rules, LocationConstraint), HeadBucket,
// DeleteBucket, ListBuckets (prefix, max-buckets, continuation token), GetBucketLocation,
// Get/PutBucketVersioning, and the read-only ACL model (the owner has full control; canned
// 'private' accepted, anything else AccessControlListNotSupported, as on an AWS bucket whose
// ACLs are disabled).
import { isStoreError, s3ApiLimits } from '../../lib/index.ts'
import { validateBucketName, type BucketInfo, type Principal } from '../../objects/index.ts'
import { readSmallBody } from '../body.ts'
import { emptyResponse, header, xmlResponse, type S3Context, type S3Response } from '../context.ts'
import type { BucketTarget, ServiceEndpoint } from '../endpoint.ts'
import { S3Error } from '../errors.ts'
import { rejectUnsupportedHeaders } from '../headers.ts'
import { childText, parseXmlBody, xmlTextDocument, xmlTimestamp, type XmlChild } from '../xml.ts'

export function ownerXml(id: string, displayName: string): XmlChild {
  return ['Owner', [['ID', id], ['DisplayName', displayName]]]
}

function locationConstraint(body: Buffer): string | undefined {
  if (body.length === 0) return undefined
  const root = parseXmlBody(body, 'CreateBucketConfiguration')
  const location = childText(root, 'LocationConstraint')
  return location === '' ? undefined : location
}

export async function createBucket(context: S3Context, endpoint: BucketTarget): Promise<S3Response> {
  validateBucketName(endpoint.bucket) // before reading the body
  rejectUnsupportedHeaders(context)
  const ownership = header(context, 'x-amz-object-ownership')
  if (ownership !== undefined && ownership !== 'BucketOwnerEnforced') {
    throw new S3Error('NotImplemented', `Object ownership ${ownership} is not implemented; buckets are BucketOwnerEnforced.`, { details: { Header: 'x-amz-object-ownership' } })
  }
  const location = locationConstraint(await readSmallBody(context))
  const { region } = context.settings
  if (location !== undefined && region !== undefined && location !== region) {
    throw new S3Error('IllegalLocationConstraintException', `The ${location} location constraint is incompatible for the region specific endpoint this request was sent to.`)
  }
  try {
    await context.objects.createBucket(context.principal, endpoint.bucket, { region: location ?? context.settings.defaultRegion })
  } catch (error) {
    if (isStoreError(error, 'ALREADY_EXISTS') && (await ownedBy(context.principal, context, endpoint.bucket))) {
      throw new S3Error('BucketAlreadyOwnedByYou', undefined, { details: { BucketName: endpoint.bucket }, cause: error })
    }
    throw error
  }
  return emptyResponse(200, { location: `/${endpoint.bucket}` })
}

async function ownedBy(principal: Principal, context: S3Context, bucket: string): Promise<boolean> {
  try {
    return (await context.objects.headBucket(principal, bucket)).owner === principal.userId
  } catch (error) {
    if (isStoreError(error)) return false
    throw error
  }
}

export async function headBucket(context: S3Context, endpoint: BucketTarget): Promise<S3Response> {
  const info = await context.objects.headBucket(context.principal, endpoint.bucket)
  return emptyResponse(200, { 'x-amz-bucket-region': info.region, 'x-amz-access-point-alias': 'false' })
}

export async function deleteBucket(context: S3Context, endpoint: BucketTarget): Promise<S3Response> {
  await context.objects.deleteBucket(context.principal, endpoint.bucket)
  return emptyResponse(204)
}

function bucketToken(name: string): string {
  return Buffer.from(name, 'utf8').toString('base64url')
}

function bucketFromToken(token: string): string {
  const name = Buffer.from(token, 'base64url').toString('utf8')
  if (token === '' || bucketToken(name) !== token) {
    throw new S3Error('InvalidArgument', 'The continuation token provided is incorrect', { details: { ArgumentName: 'continuation-token', ArgumentValue: token } })
  }
  return name
}

export async function listBuckets(context: S3Context, endpoint: ServiceEndpoint): Promise<S3Response> {
  const after = endpoint.continuationToken === undefined ? undefined : bucketFromToken(endpoint.continuationToken)
  const all = (await context.objects.listBuckets(context.principal))
    .filter((bucket) => (endpoint.prefix === undefined || bucket.name.startsWith(endpoint.prefix)) && (after === undefined || bucket.name > after))
    .sort((left, right) => (left.name < right.name ? -1 : left.name > right.name ? 1 : 0))
  const max = endpoint.maxBuckets ?? s3ApiLimits.listBucketsMax
  const page = all.slice(0, max)
  const last = page[page.length - 1]
  const truncated = all.length > page.length && last !== undefined
  const bucketXml = (bucket: BucketInfo): XmlChild => ['Bucket', [['Name', bucket.name], ['CreationDate', xmlTimestamp(bucket.createdMs)], ['BucketRegion', bucket.region]]]
  return xmlResponse('ListAllMyBucketsResult', [
    ownerXml(context.principal.userId, context.principal.displayName),
    ['Buckets', page.map(bucketXml)],
    ['ContinuationToken', truncated ? bucketToken(last.name) : undefined],
    ['Prefix', endpoint.prefix],
  ])
}

export async function getBucketLocation(context: S3Context, endpoint: BucketTarget): Promise<S3Response> {
  const info = await context.objects.headBucket(context.principal, endpoint.bucket)
  // us-east-1 is spelled as an empty constraint (S3's historical default region).
  const body = xmlTextDocument('LocationConstraint', info.region === 'us-east-1' ? '' : info.region)
  return { status: 200, headers: { 'content-type': 'application/xml' }, body }
}

export async function getBucketVersioning(context: S3Context, endpoint: BucketTarget): Promise<S3Response> {
  const info = await context.objects.headBucket(context.principal, endpoint.bucket)
  return xmlResponse('VersioningConfiguration', [['Status', info.versioning === 'Unversioned' ? undefined : info.versioning]])
}

export async function putBucketVersioning(context: S3Context, endpoint: BucketTarget): Promise<S3Response> {
  const root = parseXmlBody(await readSmallBody(context), 'VersioningConfiguration')
  const status = childText(root, 'Status')
  const mfaDelete = childText(root, 'MfaDelete')
  if (mfaDelete === 'Enabled') throw new S3Error('NotImplemented', 'MFA Delete is not implemented.')
  if (mfaDelete !== undefined && mfaDelete !== 'Disabled') throw new S3Error('MalformedXML')
  if (status !== 'Enabled' && status !== 'Suspended') {
    throw new S3Error('IllegalVersioningConfigurationException', 'The Versioning element must be specified')
  }
  await context.objects.putBucketVersioning(context.principal, endpoint.bucket, status)
  return emptyResponse(200)
}

/** The owner-only ACL every bucket and object has. */
export function ownerAclDocument(ownerId: string, displayName: string): S3Response {
  const grantee = 'Grantee xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:type="CanonicalUser"'
  return xmlResponse('AccessControlPolicy', [
    ownerXml(ownerId, displayName),
    ['AccessControlList', [['Grant', [[grantee, [['ID', ownerId], ['DisplayName', displayName]]], ['Permission', 'FULL_CONTROL']]]]],
  ])
}

/** Put*Acl: only the canned ACLs that mean "the owner has full control" (no body, no grants). */
export async function checkCannedAclOnly(context: S3Context): Promise<void> {
  rejectUnsupportedHeaders(context)
  if (header(context, 'x-amz-acl') === undefined || (await readSmallBody(context)).length > 0) {
    throw new S3Error('AccessControlListNotSupported', 'The bucket does not allow ACLs')
  }
}

export async function getBucketAcl(context: S3Context, endpoint: BucketTarget): Promise<S3Response> {
  const info = await context.objects.headBucket(context.principal, endpoint.bucket)
  return ownerAclDocument(info.owner, info.owner === context.principal.userId ? context.principal.displayName : info.owner)
}

export async function putBucketAcl(context: S3Context, endpoint: BucketTarget): Promise<S3Response> {
  await context.objects.headBucket(context.principal, endpoint.bucket)
  await checkCannedAclOnly(context)
  return emptyResponse(200)
}
