// HTTP header conventions of S3, in one place: dates (IMF-fixdate out, the three HTTP formats
// in), ETags (always quoted on the wire), content headers stored with an object, user metadata
// (x-amz-meta-*), x-amz-tagging, storage classes, read conditions, Range, and headers that ask
// for features Cairn does not have (answered with NotImplemented, never ignored).
import type { ByteRange, ContentHeaders, ReadConditions, StorageClass, Tags } from '../objects/index.ts'
import type { RequestHeaders } from './auth/index.ts'
import { header } from './context.ts'
import { S3Error } from './errors.ts'

type HeaderSource = { readonly headers: RequestHeaders }

/** 'Wed, 21 Oct 2015 07:28:00 GMT' (RFC 7231 IMF-fixdate), as S3 sends Last-Modified. */
export function httpDate(ms: number): string {
  return new Date(ms).toUTCString()
}

/** Milliseconds of an HTTP date (IMF-fixdate, RFC 850, asctime) or ISO 8601; undefined when unparseable. */
export function parseHttpDate(text: string | undefined): number | undefined {
  if (text === undefined) return undefined
  const ms = Date.parse(text)
  return Number.isFinite(ms) ? ms : undefined
}

export function quoteEtag(etag: string): string {
  return etag.startsWith('"') || etag.startsWith('W/"') ? etag : `"${etag}"`
}

/** Content-Encoding without the aws-chunked transfer coding (which is never stored). */
function storedContentEncoding(value: string | undefined): string | undefined {
  if (value === undefined) return undefined
  const codings = value.split(',').map((coding) => coding.trim()).filter((coding) => coding !== '' && coding.toLowerCase() !== 'aws-chunked')
  return codings.length === 0 ? undefined : codings.join(', ')
}

export function contentHeadersFrom(request: HeaderSource): ContentHeaders {
  const pick = (name: string) => header(request, name)
  const entries: Array<[keyof ContentHeaders, string | undefined]> = [
    ['contentType', pick('content-type')],
    ['contentEncoding', storedContentEncoding(pick('content-encoding'))],
    ['contentLanguage', pick('content-language')],
    ['contentDisposition', pick('content-disposition')],
    ['cacheControl', pick('cache-control')],
    ['expires', pick('expires')],
  ]
  const headers: ContentHeaders = {}
  for (const [name, value] of entries) if (value !== undefined) headers[name] = value
  return headers
}

/** x-amz-meta-* as name (lowercase, without the prefix) -> value. The size rule is the objects layer's. */
export function userMetadataFrom(request: HeaderSource): Record<string, string> {
  const metadata: Record<string, string> = {}
  for (const [name, value] of Object.entries(request.headers)) {
    if (!name.startsWith('x-amz-meta-') || value === undefined) continue
    metadata[name.slice('x-amz-meta-'.length)] = typeof value === 'string' ? value : value.join(',')
  }
  return metadata
}

/** A header-safe metadata value: latin1 passes (the bytes the client sent), anything wider is RFC 2047 encoded. */
export function metadataHeaderValue(value: string): string {
  // eslint-disable-next-line no-control-regex
  if (!/[^\t\x20-\x7e\x80-\xff]/.test(value)) return value
  return `=?UTF-8?B?${Buffer.from(value, 'utf8').toString('base64')}?=`
}

/** The x-amz-tagging header ('k1=v1&k2=v2', form-encoded), or undefined when absent. */
export function taggingHeader(request: HeaderSource): Tags | undefined {
  const text = header(request, 'x-amz-tagging')
  if (text === undefined) return undefined
  // Tag rules (count, lengths, characters, unique keys) are the objects layer's.
  return [...new URLSearchParams(text)].map(([key, value]) => ({ key, value }))
}

const storageClasses: readonly StorageClass[] = ['STANDARD', 'STANDARD_IA', 'ONEZONE_IA', 'INTELLIGENT_TIERING', 'GLACIER_IR', 'GLACIER', 'DEEP_ARCHIVE']

export function storageClassHeader(request: HeaderSource): StorageClass | undefined {
  const text = header(request, 'x-amz-storage-class')
  if (text === undefined) return undefined
  const storageClass = storageClasses.find((candidate) => candidate === text.trim())
  if (storageClass === undefined) throw new S3Error('InvalidStorageClass', 'The storage class you specified is not valid', { details: { StorageClassRequested: text } })
  return storageClass
}

/** Conditions of a read, from If-* (or x-amz-copy-source-if-* with the prefix). Invalid dates are ignored, as by S3. */
export function readConditionsFrom(request: HeaderSource, prefix = ''): ReadConditions | undefined {
  const conditions: ReadConditions = {}
  const ifMatch = header(request, `${prefix}if-match`)
  const ifNoneMatch = header(request, `${prefix}if-none-match`)
  const ifModifiedSinceMs = parseHttpDate(header(request, `${prefix}if-modified-since`))
  const ifUnmodifiedSinceMs = parseHttpDate(header(request, `${prefix}if-unmodified-since`))
  if (ifMatch !== undefined) conditions.ifMatch = ifMatch
  if (ifNoneMatch !== undefined) conditions.ifNoneMatch = ifNoneMatch
  if (ifModifiedSinceMs !== undefined) conditions.ifModifiedSinceMs = ifModifiedSinceMs
  if (ifUnmodifiedSinceMs !== undefined) conditions.ifUnmodifiedSinceMs = ifUnmodifiedSinceMs
  return Object.keys(conditions).length === 0 ? undefined : conditions
}

/**
 * A Range header: 'bytes=first-last', 'bytes=first-' or 'bytes=-suffix'. Anything else (several
 * ranges, other units, last < first) is ignored and the whole object is served, as by S3.
 */
export function parseRange(text: string | undefined): ByteRange | undefined {
  if (text === undefined) return undefined
  const match = /^bytes=(\d{0,16})-(\d{0,16})$/.exec(text.trim())
  if (!match) return undefined
  const [, firstText = '', lastText = ''] = match
  if (firstText === '' && lastText === '') return undefined
  if (firstText === '') return { suffixBytes: Number(lastText) }
  const first = Number(firstText)
  if (lastText === '') return { first }
  const last = Number(lastText)
  return last < first ? undefined : { first, last }
}

/** 'bytes=first-last' of x-amz-copy-source-range: both ends required (InvalidArgument otherwise). */
export function parseCopySourceRange(text: string | undefined): { first: number; last: number } | undefined {
  if (text === undefined) return undefined
  const match = /^bytes=(\d{1,16})-(\d{1,16})$/.exec(text.trim())
  const first = Number(match?.[1])
  const last = Number(match?.[2])
  if (!match || last < first) {
    throw new S3Error('InvalidArgument', 'The x-amz-copy-source-range value must be of the form bytes=first-last where first and last are the zero-based offsets of the first and last bytes to copy', {
      details: { ArgumentName: 'x-amz-copy-source-range', ArgumentValue: text },
    })
  }
  return { first, last }
}

/** Canned ACLs equivalent to Cairn's only model (the owner has full control). */
const ownerOnlyAcls = new Set(['private', 'bucket-owner-full-control'])

/**
 * Headers asking for features Cairn does not implement: server-side encryption choices, object
 * lock, website redirects, grants and canned ACLs other than private. Refused, never ignored.
 */
export function rejectUnsupportedHeaders(request: HeaderSource): void {
  const acl = header(request, 'x-amz-acl')
  if (acl !== undefined && !ownerOnlyAcls.has(acl.trim())) {
    throw new S3Error('AccessControlListNotSupported', 'The bucket does not allow ACLs')
  }
  for (const name of Object.keys(request.headers)) {
    if (request.headers[name] === undefined) continue
    if (name.startsWith('x-amz-grant-')) throw new S3Error('AccessControlListNotSupported', 'The bucket does not allow ACLs')
    if (
      name.startsWith('x-amz-server-side-encryption') ||
      name.startsWith('x-amz-object-lock-') ||
      name === 'x-amz-website-redirect-location' ||
      name === 'x-amz-write-offset-bytes' ||
      name === 'x-amz-bucket-object-lock-enabled'
    ) {
      if (name === 'x-amz-bucket-object-lock-enabled' && header(request, name)?.trim().toLowerCase() === 'false') continue
      throw new S3Error('NotImplemented', `A header you provided implies functionality that is not implemented: ${name}`, { details: { Header: name } })
    }
  }
}
