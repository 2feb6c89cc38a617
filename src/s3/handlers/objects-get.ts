// GetObject and HeadObject: Range (incl. suffix ranges) -> 206 with Content-Range, partNumber,
// If-* conditions (evaluated by the objects layer: 412 / 304), response-* overrides,
// x-amz-checksum-mode: ENABLED, and the response headers exactly as S3 writes them. The body is
// the objects layer's verified stream, sent with backpressure; HEAD sends headers only.
import type { GetObjectInput, GetObjectResult, ObjectVersionInfo } from '../../objects/index.ts'
import { emptyResponse, header, type S3Context, type S3Response } from '../context.ts'
import type { ObjectEndpoint, ResponseOverrides } from '../endpoint.ts'
import { S3Error } from '../errors.ts'
import { httpDate, metadataHeaderValue, parseRange, quoteEtag, readConditionsFrom } from '../headers.ts'
import { checksumHeaders } from './common.ts'

type GetEndpoint = Extract<ObjectEndpoint, { kind: 'GetObject' | 'HeadObject' }>

/** The headers S3 sends for a stored version (no length or range: the caller adds those). */
export function versionHeaders(version: ObjectVersionInfo, options: { showVersionId: boolean }): Record<string, string> {
  const headers: Record<string, string> = {
    'last-modified': httpDate(version.lastModifiedMs),
    etag: quoteEtag(version.etag),
    'content-type': version.contentHeaders.contentType ?? 'binary/octet-stream',
    'accept-ranges': 'bytes',
  }
  const { contentEncoding, contentLanguage, contentDisposition, cacheControl, expires } = version.contentHeaders
  if (contentEncoding !== undefined) headers['content-encoding'] = contentEncoding
  if (contentLanguage !== undefined) headers['content-language'] = contentLanguage
  if (contentDisposition !== undefined) headers['content-disposition'] = contentDisposition
  if (cacheControl !== undefined) headers['cache-control'] = cacheControl
  if (expires !== undefined) headers.expires = expires
  for (const [name, value] of Object.entries(version.userMetadata)) headers[`x-amz-meta-${name}`] = metadataHeaderValue(value)
  // A never-versioned bucket's objects have the null version and S3 does not mention it.
  if (options.showVersionId) headers['x-amz-version-id'] = version.versionId
  if (version.storageClass !== 'STANDARD') headers['x-amz-storage-class'] = version.storageClass
  if (version.tagCount > 0) headers['x-amz-tagging-count'] = String(version.tagCount)
  return headers
}

function applyOverrides(headers: Record<string, string>, overrides: ResponseOverrides): void {
  if (overrides.contentType !== undefined) headers['content-type'] = overrides.contentType
  if (overrides.contentLanguage !== undefined) headers['content-language'] = overrides.contentLanguage
  if (overrides.expires !== undefined) headers.expires = overrides.expires
  if (overrides.cacheControl !== undefined) headers['cache-control'] = overrides.cacheControl
  if (overrides.contentDisposition !== undefined) headers['content-disposition'] = overrides.contentDisposition
  if (overrides.contentEncoding !== undefined) headers['content-encoding'] = overrides.contentEncoding
}

function readInput(context: S3Context, endpoint: GetEndpoint): GetObjectInput {
  const range = parseRange(header(context, 'range'))
  if (range !== undefined && endpoint.partNumber !== undefined) {
    throw new S3Error('InvalidRequest', 'Cannot specify both Range header and partNumber query parameter')
  }
  const conditions = readConditionsFrom(context)
  return {
    bucket: endpoint.bucket,
    key: endpoint.key,
    principal: context.principal,
    ...(endpoint.versionId === undefined ? {} : { versionId: endpoint.versionId }),
    ...(range === undefined ? {} : { range }),
    ...(endpoint.partNumber === undefined ? {} : { partNumber: endpoint.partNumber }),
    ...(conditions === undefined ? {} : { conditions }),
    signal: context.signal,
  }
}

function responseHeaders(context: S3Context, endpoint: GetEndpoint, input: GetObjectInput, result: GetObjectResult): { status: number; headers: Record<string, string> } {
  const { version } = result
  const headers = versionHeaders(version, { showVersionId: result.bucketVersioning !== 'Unversioned' || endpoint.versionId !== undefined })
  const partial = (input.range !== undefined || input.partNumber !== undefined) && result.range !== undefined
  if (partial && result.range !== undefined) {
    const { first, last, totalBytes } = result.range
    headers['content-range'] = `bytes ${first}-${last}/${totalBytes}`
    headers['content-length'] = String(last - first + 1)
  } else {
    headers['content-length'] = String(version.sizeBytes)
  }
  if (input.partNumber !== undefined && version.partSizesBytes !== undefined) headers['x-amz-mp-parts-count'] = String(version.partSizesBytes.length)
  // A checksum describes the whole object: sent for whole-object answers only.
  if (header(context, 'x-amz-checksum-mode')?.toUpperCase() === 'ENABLED' && !partial) Object.assign(headers, checksumHeaders(version.checksum))
  applyOverrides(headers, endpoint.overrides)
  return { status: partial ? 206 : 200, headers }
}

export async function getObject(context: S3Context, endpoint: GetEndpoint): Promise<S3Response> {
  const input = readInput(context, endpoint)
  if (endpoint.kind === 'HeadObject') {
    const result = await context.objects.headObject(input)
    const { status, headers } = responseHeaders(context, endpoint, input, result)
    return emptyResponse(status, headers)
  }
  const result = await context.objects.getObject(input)
  try {
    const { status, headers } = responseHeaders(context, endpoint, input, result)
    return result.body === undefined ? emptyResponse(status, headers) : { status, headers, body: result.body }
  } catch (error) {
    // The body must be consumed or released: release it before failing.
    await result.body?.[Symbol.asyncIterator]().return?.()
    throw error
  }
}
