// Storage classes, restore, lifecycle and server-side encryption at the S3 edge, as a layer
// around the core dispatch (dispatch.ts calls withDataManagement):
//   - routing: ?lifecycle, ?encryption and ?intelligent-tiering on a bucket, ?restore on an
//     object become typed DataManagementEndpoints (router.ts asks routeDataManagement first);
//   - object operations that take SSE headers (PUT, copy, multipart, GET/HEAD): the headers are
//     checked here (sse-headers.ts), removed from what the core handlers see (they refuse SSE
//     headers they do not know), and passed to the objects layer with each call; the response
//     gets the encryption headers AWS sends plus x-amz-expiration, x-amz-restore and
//     x-amz-archive-status;
//   - x-amz-storage-class: REDUCED_REDUNDANCY is accepted and stored as STANDARD.
// The core handlers stay unaware of all this: the objects layer they call is wrapped per request.
// Never: let a customer key reach a response, a log line or anything stored.
import type { ArchiveAccessTier, ObjectsService, ObjectVersionInfo, ObjectEncryptionInfo, ExpirationInfo, RestoreInfo } from '../objects/index.ts'
import type { RequestHeaders } from './auth/index.ts'
import type { S3Context, S3Response } from './context.ts'
import type { Endpoint, EndpointKind } from './endpoint.ts'
import { S3Error } from './errors.ts'
import { handleDataManagement } from './handlers-lifecycle.ts'
import { copySourceSsePrefix, encryptionRequestOf, encryptionResponseHeaders, hasSseHeaders, parseRequestEncryption, ssePrefix, type RequestEncryption } from './sse-headers.ts'

export type DataManagementEndpoint =
  | { readonly kind: 'GetBucketLifecycleConfiguration' | 'PutBucketLifecycleConfiguration' | 'DeleteBucketLifecycle'; readonly bucket: string }
  | { readonly kind: 'GetBucketEncryption' | 'PutBucketEncryption' | 'DeleteBucketEncryption'; readonly bucket: string }
  | { readonly kind: 'RestoreObject'; readonly bucket: string; readonly key: string; readonly versionId?: string }
  | { readonly kind: 'GetBucketIntelligentTieringConfiguration' | 'PutBucketIntelligentTieringConfiguration' | 'DeleteBucketIntelligentTieringConfiguration'; readonly bucket: string; readonly id: string }
  | { readonly kind: 'ListBucketIntelligentTieringConfigurations'; readonly bucket: string; readonly continuationToken?: string }

const dataManagementKinds: ReadonlySet<string> = new Set<DataManagementEndpoint['kind']>([
  'GetBucketLifecycleConfiguration', 'PutBucketLifecycleConfiguration', 'DeleteBucketLifecycle',
  'GetBucketEncryption', 'PutBucketEncryption', 'DeleteBucketEncryption', 'RestoreObject',
  'GetBucketIntelligentTieringConfiguration', 'PutBucketIntelligentTieringConfiguration', 'DeleteBucketIntelligentTieringConfiguration',
  'ListBucketIntelligentTieringConfigurations',
])

export function isDataManagementEndpoint(endpoint: Endpoint): endpoint is DataManagementEndpoint {
  return dataManagementKinds.has(endpoint.kind)
}

function methodNotAllowed(method: string, resourceType: string): S3Error {
  return new S3Error('MethodNotAllowed', 'The specified method is not allowed against this resource.', { details: { Method: method, ResourceType: resourceType } })
}

/** The data-management endpoint a request names, or undefined (the core router goes on). */
export function routeDataManagement(method: string, bucket: string, key: string | undefined, query: ReadonlyMap<string, string>): DataManagementEndpoint | undefined {
  if (key === undefined) {
    if (query.has('lifecycle')) {
      const kind = ({ GET: 'GetBucketLifecycleConfiguration', PUT: 'PutBucketLifecycleConfiguration', DELETE: 'DeleteBucketLifecycle' } as const)[method as 'GET']
      if (kind === undefined) throw methodNotAllowed(method, 'LIFECYCLE')
      return { kind, bucket }
    }
    if (query.has('encryption')) {
      const kind = ({ GET: 'GetBucketEncryption', PUT: 'PutBucketEncryption', DELETE: 'DeleteBucketEncryption' } as const)[method as 'GET']
      if (kind === undefined) throw methodNotAllowed(method, 'ENCRYPTION')
      return { kind, bucket }
    }
    if (query.has('intelligent-tiering')) return routeIntelligentTiering(method, bucket, query)
    return undefined
  }
  if (!query.has('restore')) return undefined
  if (method !== 'POST') throw methodNotAllowed(method, 'OBJECT')
  const versionId = query.get('versionId')
  if (versionId === '') throw new S3Error('InvalidArgument', 'Version id cannot be the empty string', { details: { ArgumentName: 'versionId', ArgumentValue: '' } })
  return { kind: 'RestoreObject', bucket, key, ...(versionId === undefined ? {} : { versionId }) }
}

/** ?intelligent-tiering: with an id, Get/Put/Delete one configuration; GET without one lists them. */
function routeIntelligentTiering(method: string, bucket: string, query: ReadonlyMap<string, string>): DataManagementEndpoint {
  const id = query.get('id')
  if (method === 'GET' && id === undefined) {
    const token = query.get('continuation-token')
    return { kind: 'ListBucketIntelligentTieringConfigurations', bucket, ...(token === undefined ? {} : { continuationToken: token }) }
  }
  const kind = ({ GET: 'GetBucketIntelligentTieringConfiguration', PUT: 'PutBucketIntelligentTieringConfiguration', DELETE: 'DeleteBucketIntelligentTieringConfiguration' } as const)[method as 'GET']
  if (kind === undefined) throw methodNotAllowed(method, 'INTELLIGENT_TIERING')
  if (id === undefined || id === '') throw new S3Error('InvalidArgument', 'The id parameter is required', { details: { ArgumentName: 'id', ArgumentValue: id ?? '' } })
  return { kind, bucket, id }
}

/** Which SSE headers each object operation takes (AWS's lists). */
const sseShapes: Partial<Record<EndpointKind, { managed: boolean; customer: boolean; source: boolean }>> = {
  PutObject: { managed: true, customer: true, source: false },
  CopyObject: { managed: true, customer: true, source: true },
  CreateMultipartUpload: { managed: true, customer: true, source: false },
  UploadPart: { managed: false, customer: true, source: false },
  UploadPartCopy: { managed: false, customer: true, source: true },
  CompleteMultipartUpload: { managed: false, customer: true, source: false },
  GetObject: { managed: false, customer: true, source: false },
  HeadObject: { managed: false, customer: true, source: false },
}

const storageClassKinds: ReadonlySet<EndpointKind> = new Set<EndpointKind>(['PutObject', 'CopyObject', 'CreateMultipartUpload'])

function checkShape(kind: EndpointKind, parsed: RequestEncryption): void {
  const shape = sseShapes[kind]
  if (shape === undefined) return
  const refuse = (name: string) => new S3Error('InvalidArgument', `${name} is not supported for this operation.`, { details: { ArgumentName: name } })
  if (parsed.managed !== undefined && !shape.managed) throw refuse(ssePrefix)
  if (parsed.customer !== undefined && !shape.customer) throw refuse(`${ssePrefix}-customer-algorithm`)
  if (parsed.sourceCustomer !== undefined && !shape.source) throw refuse(`${copySourceSsePrefix}-customer-algorithm`)
}

/** The headers the core handlers see: without SSE headers, REDUCED_REDUNDANCY as STANDARD. */
function coreHeaders(headers: RequestHeaders, kind: EndpointKind): RequestHeaders {
  const out: Record<string, RequestHeaders[string]> = {}
  for (const [name, value] of Object.entries(headers)) {
    if (name.startsWith(ssePrefix) || name.startsWith(copySourceSsePrefix)) continue
    out[name] = value
  }
  const storageClass = out['x-amz-storage-class']
  if (storageClassKinds.has(kind) && (storageClass === 'REDUCED_REDUNDANCY' || (Array.isArray(storageClass) && storageClass.join(',') === 'REDUCED_REDUNDANCY'))) {
    out['x-amz-storage-class'] = Array.isArray(storageClass) ? ['STANDARD'] : 'STANDARD'
  }
  return out as RequestHeaders
}

/** What the wrapped objects layer saw come back, for the response headers. */
interface Seen {
  encryption?: ObjectEncryptionInfo
  expiration?: ExpirationInfo
  restore?: RestoreInfo
  archiveStatus?: ArchiveAccessTier
}

function remember(seen: Seen, result: { encryption?: ObjectEncryptionInfo; expiration?: ExpirationInfo; restore?: RestoreInfo; archiveStatus?: ArchiveAccessTier }): void {
  if (result.encryption !== undefined) seen.encryption = result.encryption
  if (result.expiration !== undefined) seen.expiration = result.expiration
  if (result.restore !== undefined) seen.restore = result.restore
  if (result.archiveStatus !== undefined) seen.archiveStatus = result.archiveStatus
}

/** The objects layer for one request: SSE parameters added to each call, results noted. */
function wrapObjects(objects: ObjectsService, parsed: RequestEncryption, seen: Seen): ObjectsService {
  const encryption = encryptionRequestOf(parsed)
  const target = encryption === undefined ? {} : { encryption }
  const customerKey = parsed.customer === undefined ? {} : { customerKey: parsed.customer.key }
  const sourceKey = parsed.sourceCustomer === undefined ? {} : { customerKey: parsed.sourceCustomer.key }
  type Noted = { encryption?: ObjectEncryptionInfo; expiration?: ExpirationInfo }
  const note = <T extends Noted>(result: T): T => {
    remember(seen, result)
    return result
  }
  const version = <T extends { version: ObjectVersionInfo }>(result: T): T => {
    remember(seen, result.version)
    return result
  }
  const overrides: Partial<ObjectsService> = {
    putObject: async (input) => note(await objects.putObject({ ...input, ...target })),
    copyObject: async (input) => note(await objects.copyObject({ ...input, ...target, source: { ...input.source, ...sourceKey } })),
    createMultipartUpload: async (input) => note(await objects.createMultipartUpload({ ...input, ...target })),
    uploadPart: async (input) => note(await objects.uploadPart({ ...input, ...customerKey })),
    uploadPartCopy: async (input) => note(await objects.uploadPartCopy({ ...input, ...customerKey, source: { ...input.source, ...sourceKey } })),
    completeMultipartUpload: async (input) => note(await objects.completeMultipartUpload(input)),
    getObject: async (input) => version(await objects.getObject({ ...input, ...customerKey })),
    headObject: async (input) => version(await objects.headObject({ ...input, ...customerKey })),
  }
  return new Proxy(objects, {
    get(target, name, receiver) {
      if (typeof name === 'string' && name in overrides) return overrides[name as keyof ObjectsService]
      return Reflect.get(target, name, receiver)
    },
  })
}

const httpDate = (ms: number): string => new Date(ms).toUTCString()

const contextKinds: ReadonlySet<EndpointKind> = new Set<EndpointKind>(['PutObject', 'CopyObject', 'CreateMultipartUpload'])

function responseHeaders(seen: Seen, parsed: RequestEncryption, kind: EndpointKind): Record<string, string> {
  const headers: Record<string, string> = encryptionResponseHeaders(seen.encryption, parsed.customer, contextKinds.has(kind))
  if (seen.expiration !== undefined) headers['x-amz-expiration'] = `expiry-date="${httpDate(seen.expiration.expiryMs)}", rule-id="${seen.expiration.ruleId}"`
  if (seen.archiveStatus !== undefined) headers['x-amz-archive-status'] = seen.archiveStatus
  if (seen.restore !== undefined) {
    headers['x-amz-restore'] = seen.restore.ongoing || seen.restore.expiryMs === undefined
      ? `ongoing-request="${String(seen.restore.ongoing)}"`
      : `ongoing-request="false", expiry-date="${httpDate(seen.restore.expiryMs)}"`
  }
  return headers
}

/** Dispatch with data management around the core (see the module comment). */
export async function withDataManagement<E extends Endpoint>(
  context: S3Context,
  endpoint: E,
  core: (context: S3Context, endpoint: Exclude<E, DataManagementEndpoint>) => Promise<S3Response>,
): Promise<S3Response> {
  if (isDataManagementEndpoint(endpoint)) return handleDataManagement(context, endpoint)
  const coreEndpoint = endpoint as Exclude<E, DataManagementEndpoint>
  const kind = endpoint.kind
  if (sseShapes[kind] === undefined && !storageClassKinds.has(kind)) return core(context, coreEndpoint)
  const parsed = hasSseHeaders(context) ? parseRequestEncryption(context, context.origin.startsWith('https:')) : {}
  if (Object.keys(parsed).length > 0 && context.objects.putBucketEncryption === undefined) {
    // An objects layer without encryption (a test double) would drop the request's choice silently.
    throw new S3Error('NotImplemented', 'A header you provided implies functionality that is not implemented: server-side encryption', { details: { Header: ssePrefix } })
  }
  checkShape(kind, parsed)
  const seen: Seen = {}
  const wrapped: S3Context = { ...context, headers: coreHeaders(context.headers, kind), objects: wrapObjects(context.objects, parsed, seen) }
  const response = await core(wrapped, coreEndpoint)
  const extra = responseHeaders(seen, parsed, kind)
  return Object.keys(extra).length === 0 ? response : { ...response, headers: { ...response.headers, ...extra } }
}
