// Request -> typed Endpoint (see endpoint.ts). Two steps:
//   1. addressing: which bucket and key a request names, path-style (/bucket/key) or
//      virtual-host-style (Host: bucket.<base domain>, path /key). Keys are percent-decoded
//      once and never normalised ('a//b', '/a', './x' are keys like any other).
//   2. operation: method + level (service, bucket, object) + the subresource in the query.
// Every recognised subresource is routed, to its operation or to NotImplemented; parameters
// that are not subresources (x-id, response-*, list parameters on other operations, presigned
// X-Amz-*) are ignored as AWS ignores them. A method that has no operation at a level is
// MethodNotAllowed. Query values an operation takes are validated here, with AWS's errors.
import { percentDecode, parseRawQuery } from './auth/index.ts'
import type { BucketEndpoint, EncodingType, Endpoint, ObjectEndpoint, ResponseOverrides } from './endpoint.ts'
import { S3Error } from './errors.ts'
import { routeDataManagement } from './data-management.ts'
import { objectLimits, s3ApiLimits } from '../lib/index.ts'

export interface S3Addressing {
  readonly style: 'path' | 'virtual-host'
  readonly bucket?: string
  readonly key?: string
}

/** Query parameters by decoded name; the first occurrence of a repeated name wins. */
export type Query = ReadonlyMap<string, string>

export function parseQuery(rawQuery: string): Query {
  const query = new Map<string, string>()
  for (const parameter of parseRawQuery(rawQuery)) {
    if (!query.has(parameter.name)) query.set(parameter.name, parameter.value)
  }
  return query
}

/** Split a raw request target ('/a/b?x=1') into path and query, as received. */
export function splitTarget(url: string): { rawPath: string; rawQuery: string } {
  const question = url.indexOf('?')
  return question < 0 ? { rawPath: url, rawQuery: '' } : { rawPath: url.slice(0, question), rawQuery: url.slice(question + 1) }
}

function decodeUtf8(raw: string, what: string): string {
  const bytes = percentDecode(raw, false)
  const text = bytes.toString('utf8')
  if (!Buffer.from(text, 'utf8').equals(bytes)) throw new S3Error('InvalidURI', `Couldn't parse the specified URI: the ${what} is not valid UTF-8.`)
  return text
}

/** The bucket a Host header names under one of the base domains, or undefined (path-style). */
export function virtualHostBucket(host: string | undefined, baseDomains: readonly string[]): string | undefined {
  if (host === undefined) return undefined
  const name = host.replace(/:\d+$/, '').replace(/\.$/, '').toLowerCase()
  for (const domain of baseDomains) {
    if (name.length > domain.length + 1 && name.endsWith(`.${domain}`)) return name.slice(0, name.length - domain.length - 1)
  }
  return undefined
}

export function resolveAddressing(host: string | undefined, rawPath: string, baseDomains: readonly string[]): S3Addressing {
  if (!rawPath.startsWith('/')) throw new S3Error('InvalidURI', "Couldn't parse the specified URI.")
  const hostBucket = virtualHostBucket(host, baseDomains)
  if (hostBucket !== undefined) {
    const rawKey = rawPath.slice(1)
    return rawKey === '' ? { style: 'virtual-host', bucket: hostBucket } : { style: 'virtual-host', bucket: hostBucket, key: checkKey(decodeUtf8(rawKey, 'key')) }
  }
  const slash = rawPath.indexOf('/', 1)
  const rawBucket = slash < 0 ? rawPath.slice(1) : rawPath.slice(1, slash)
  if (rawBucket === '') return { style: 'path' }
  const bucket = decodeUtf8(rawBucket, 'bucket name')
  const rawKey = slash < 0 ? '' : rawPath.slice(slash + 1)
  return rawKey === '' ? { style: 'path', bucket } : { style: 'path', bucket, key: checkKey(decodeUtf8(rawKey, 'key')) }
}

function checkKey(key: string): string {
  if (Buffer.byteLength(key, 'utf8') > objectLimits.objectKeyBytesMax) throw new S3Error('KeyTooLongError', 'Your key is too long')
  return key
}

// ---- Operations ---------------------------------------------------------------------------

/** Subresources Cairn recognises but does not implement: query name -> AWS resource name. */
const unsupportedBucketSubresources: Readonly<Record<string, string>> = {
  policy: 'BucketPolicy',
  policyStatus: 'BucketPolicyStatus',
  cors: 'BucketCors',
  lifecycle: 'BucketLifecycleConfiguration',
  encryption: 'BucketEncryption',
  'object-lock': 'ObjectLockConfiguration',
  website: 'BucketWebsite',
  logging: 'BucketLogging',
  notification: 'BucketNotificationConfiguration',
  replication: 'BucketReplication',
  accelerate: 'BucketAccelerateConfiguration',
  requestPayment: 'BucketRequestPayment',
  ownershipControls: 'BucketOwnershipControls',
  publicAccessBlock: 'PublicAccessBlock',
  analytics: 'BucketAnalyticsConfiguration',
  inventory: 'BucketInventoryConfiguration',
  metrics: 'BucketMetricsConfiguration',
  'intelligent-tiering': 'BucketIntelligentTieringConfiguration',
  metadataTable: 'BucketMetadataTableConfiguration',
  metadataConfiguration: 'BucketMetadataConfiguration',
  abac: 'BucketAbac',
  session: 'Session',
}

const unsupportedObjectSubresources: Readonly<Record<string, string>> = {
  'legal-hold': 'ObjectLegalHold',
  retention: 'ObjectRetention',
  attributes: 'ObjectAttributes',
  torrent: 'ObjectTorrent',
  restore: 'RestoreObject',
  select: 'SelectObjectContent',
  renameObject: 'RenameObject',
}

const verbs: Readonly<Record<string, string>> = { GET: 'Get', PUT: 'Put', DELETE: 'Delete', POST: 'Post', HEAD: 'Head' }

function notImplemented(method: string, resource: string, bucket?: string, key?: string): Endpoint {
  // RestoreObject, SelectObjectContent and RenameObject are already full operation names.
  const operation = /^(Restore|Select|Rename|Session)/.test(resource) ? (resource === 'Session' ? 'CreateSession' : resource) : `${verbs[method] ?? method}${resource}`
  return { kind: 'NotImplemented', operation, ...(bucket === undefined ? {} : { bucket }), ...(key === undefined ? {} : { key }) }
}

function methodNotAllowed(method: string, resourceType: string): S3Error {
  return new S3Error('MethodNotAllowed', 'The specified method is not allowed against this resource.', { details: { Method: method, ResourceType: resourceType } })
}

export function route(method: string, addressing: S3Addressing, query: Query, headers: { copySource: boolean }): Endpoint {
  if (method === 'OPTIONS') return notImplemented('', 'PreflightRequest', addressing.bucket, addressing.key)
  if (addressing.bucket === undefined) {
    if (method !== 'GET') throw methodNotAllowed(method, 'SERVICE')
    return {
      kind: 'ListBuckets',
      ...optional('prefix', query.get('prefix')),
      ...optional('continuationToken', query.get('continuation-token')),
      ...optional('maxBuckets', integerParameter(query, 'max-buckets', 1, s3ApiLimits.listBucketsMax)),
    }
  }
  if (addressing.key === undefined) return routeBucket(method, addressing.bucket, query)
  return routeObject(method, addressing.bucket, addressing.key, query, headers.copySource)
}

function routeBucket(method: string, bucket: string, query: Query): Endpoint {
  const managed = routeDataManagement(method, bucket, undefined, query)
  if (managed !== undefined) return managed
  for (const [name, resource] of Object.entries(unsupportedBucketSubresources)) {
    if (query.has(name)) return notImplemented(method, resource, bucket)
  }
  for (const name of Object.keys(unsupportedObjectSubresources)) {
    if (query.has(name)) return notImplemented(method, unsupportedObjectSubresources[name] ?? name, bucket)
  }
  const target = { bucket }
  const pick = (operations: Partial<Record<string, BucketEndpoint['kind']>>, resourceType: string): BucketEndpoint['kind'] => {
    const kind = operations[method]
    if (kind === undefined) throw methodNotAllowed(method, resourceType)
    return kind
  }
  if (query.has('versioning')) return { kind: pick({ GET: 'GetBucketVersioning', PUT: 'PutBucketVersioning' }, 'VERSIONING'), ...target } as BucketEndpoint
  if (query.has('tagging')) return { kind: pick({ GET: 'GetBucketTagging', PUT: 'PutBucketTagging', DELETE: 'DeleteBucketTagging' }, 'TAGGING'), ...target } as BucketEndpoint
  if (query.has('acl')) return { kind: pick({ GET: 'GetBucketAcl', PUT: 'PutBucketAcl' }, 'ACL'), ...target } as BucketEndpoint
  if (query.has('location')) return { kind: pick({ GET: 'GetBucketLocation' }, 'LOCATION'), ...target } as BucketEndpoint
  if (query.has('delete')) return { kind: pick({ POST: 'DeleteObjects' }, 'OBJECT'), ...target } as BucketEndpoint
  if (query.has('uploads')) {
    pick({ GET: 'ListMultipartUploads' }, 'UPLOAD')
    return { kind: 'ListMultipartUploads', ...target, ...listCommon(query), ...optional('keyMarker', query.get('key-marker')), ...optional('uploadIdMarker', query.get('upload-id-marker')), maxUploads: maxParameter(query, 'max-uploads') }
  }
  if (query.has('versions')) {
    pick({ GET: 'ListObjectVersions' }, 'BUCKET')
    const versionIdMarker = query.get('version-id-marker')
    const keyMarker = query.get('key-marker')
    if (versionIdMarker !== undefined && versionIdMarker !== '' && !keyMarker) {
      throw invalidArgument('A version-id marker cannot be specified without a key marker.', 'version-id-marker', versionIdMarker)
    }
    return { kind: 'ListObjectVersions', ...target, ...listCommon(query), ...optional('keyMarker', keyMarker), ...optional('versionIdMarker', versionIdMarker || undefined), maxKeys: maxParameter(query, 'max-keys') }
  }
  switch (method) {
    case 'GET':
      return routeList(bucket, query)
    case 'HEAD':
      return { kind: 'HeadBucket', ...target }
    case 'PUT':
      return { kind: 'CreateBucket', ...target }
    case 'DELETE':
      return { kind: 'DeleteBucket', ...target }
    case 'POST':
      // Browser form uploads (POST Object with a policy document).
      return notImplemented('', 'PostObject', bucket)
    default:
      throw methodNotAllowed(method, 'BUCKET')
  }
}

function routeList(bucket: string, query: Query): BucketEndpoint {
  const common = { bucket, ...listCommon(query), maxKeys: maxParameter(query, 'max-keys') }
  const listType = query.get('list-type')
  if (listType === undefined) return { kind: 'ListObjects', ...common, ...optional('marker', query.get('marker')) }
  if (listType !== '2') throw invalidArgument('Invalid List Type specified in Request', 'list-type', listType)
  const fetchOwner = query.get('fetch-owner')
  return {
    kind: 'ListObjectsV2',
    ...common,
    ...optional('continuationToken', query.get('continuation-token')),
    ...optional('startAfter', query.get('start-after')),
    fetchOwner: fetchOwner === 'true',
  }
}

function routeObject(method: string, bucket: string, key: string, query: Query, copySource: boolean): Endpoint {
  const managed = routeDataManagement(method, bucket, key, query)
  if (managed !== undefined) return managed
  for (const [name, resource] of Object.entries(unsupportedObjectSubresources)) {
    if (query.has(name)) return notImplemented(method, resource, bucket, key)
  }
  for (const [name, resource] of Object.entries(unsupportedBucketSubresources)) {
    if (query.has(name)) return notImplemented(method, resource, bucket, key)
  }
  const target = { bucket, key }
  const versionId = versionIdParameter(query)
  const withVersion = versionId === undefined ? {} : { versionId }
  const uploadId = query.get('uploadId')
  if (query.has('tagging')) {
    const kind = ({ GET: 'GetObjectTagging', PUT: 'PutObjectTagging', DELETE: 'DeleteObjectTagging' } as const)[method as 'GET']
    if (kind === undefined) throw methodNotAllowed(method, 'TAGGING')
    return { kind, ...target, ...withVersion }
  }
  if (query.has('acl')) {
    const kind = ({ GET: 'GetObjectAcl', PUT: 'PutObjectAcl' } as const)[method as 'GET']
    if (kind === undefined) throw methodNotAllowed(method, 'ACL')
    return { kind, ...target, ...withVersion }
  }
  if (query.has('uploads')) {
    if (method !== 'POST') throw methodNotAllowed(method, 'UPLOAD')
    return { kind: 'CreateMultipartUpload', ...target }
  }
  if (uploadId !== undefined) return routeUpload(method, target, uploadId, query, copySource)
  switch (method) {
    case 'GET':
    case 'HEAD': {
      const partNumber = integerParameter(query, 'partNumber', 1, objectLimits.partNumberMax, 'Part number must be an integer between 1 and 10000, inclusive')
      return { kind: method === 'GET' ? 'GetObject' : 'HeadObject', ...target, ...withVersion, ...optional('partNumber', partNumber), overrides: responseOverrides(query) }
    }
    case 'PUT':
      return { kind: copySource ? 'CopyObject' : 'PutObject', ...target }
    case 'DELETE':
      return { kind: 'DeleteObject', ...target, ...withVersion }
    case 'POST':
      throw methodNotAllowed(method, 'OBJECT')
    default:
      throw methodNotAllowed(method, 'OBJECT')
  }
}

function routeUpload(method: string, target: { bucket: string; key: string }, uploadId: string, query: Query, copySource: boolean): ObjectEndpoint {
  if (uploadId === '') throw new S3Error('NoSuchUpload', undefined, { details: { UploadId: uploadId } })
  switch (method) {
    case 'PUT': {
      const partNumber = integerParameter(query, 'partNumber', 1, objectLimits.partNumberMax, 'Part number must be an integer between 1 and 10000, inclusive')
      if (partNumber === undefined) throw invalidArgument('Part number must be an integer between 1 and 10000, inclusive', 'partNumber', '')
      return { kind: copySource ? 'UploadPartCopy' : 'UploadPart', ...target, uploadId, partNumber }
    }
    case 'POST':
      return { kind: 'CompleteMultipartUpload', ...target, uploadId }
    case 'DELETE':
      return { kind: 'AbortMultipartUpload', ...target, uploadId }
    case 'GET':
      return {
        kind: 'ListParts',
        ...target,
        uploadId,
        ...optional('partNumberMarker', integerParameter(query, 'part-number-marker', 0, objectLimits.partNumberMax)),
        maxParts: maxParameter(query, 'max-parts'),
        encodingType: encodingTypeParameter(query),
      }
    default:
      throw methodNotAllowed(method, 'UPLOAD')
  }
}

// ---- Parameters ---------------------------------------------------------------------------

function invalidArgument(message: string, name: string, value: string): S3Error {
  return new S3Error('InvalidArgument', message, { details: { ArgumentName: name, ArgumentValue: value } })
}

function optional<K extends string, V>(name: K, value: V | undefined): { [P in K]?: V } {
  return (value === undefined ? {} : { [name]: value }) as { [P in K]?: V }
}

function listCommon(query: Query): { prefix?: string; delimiter?: string; encodingType: EncodingType } {
  return {
    ...optional('prefix', query.get('prefix') || undefined),
    ...optional('delimiter', query.get('delimiter') || undefined),
    encodingType: encodingTypeParameter(query),
  }
}

function encodingTypeParameter(query: Query): EncodingType {
  const value = query.get('encoding-type')
  if (value === undefined || value === '') return undefined
  if (value.toLowerCase() !== 'url') throw invalidArgument('Invalid Encoding Method specified in Request', 'encoding-type', value)
  return 'url'
}

/** max-keys / max-uploads / max-parts: 0..1000 (larger values are clamped, as AWS does). */
function maxParameter(query: Query, name: string): number {
  const value = integerParameter(query, name, 0, Number.MAX_SAFE_INTEGER, `Provided ${name} not an integer or within integer range`)
  return Math.min(value ?? objectLimits.listPageMax, objectLimits.listPageMax)
}

function integerParameter(query: Query, name: string, min: number, max: number, message?: string): number | undefined {
  const text = query.get(name)
  if (text === undefined) return undefined
  const value = /^\d{1,15}$/.test(text) ? Number(text) : Number.NaN
  if (!(value >= min && value <= max)) throw invalidArgument(message ?? `${name} must be an integer between ${min} and ${max}`, name, text)
  return value
}

function versionIdParameter(query: Query): string | undefined {
  const versionId = query.get('versionId')
  if (versionId === undefined) return undefined
  if (versionId === '') throw invalidArgument('Version id cannot be the empty string', 'versionId', '')
  return versionId
}

function responseOverrides(query: Query): ResponseOverrides {
  return {
    ...optional('contentType', query.get('response-content-type')),
    ...optional('contentLanguage', query.get('response-content-language')),
    ...optional('expires', query.get('response-expires')),
    ...optional('cacheControl', query.get('response-cache-control')),
    ...optional('contentDisposition', query.get('response-content-disposition')),
    ...optional('contentEncoding', query.get('response-content-encoding')),
  }
}
