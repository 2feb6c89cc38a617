// PutObject: the body streams from the socket through the aws-chunked decoder and the digests
// (body.ts) into the objects layer, which commits only after digests() has verified every claim
// (x-amz-content-sha256, x-amz-checksum-*, Content-MD5) and data and metadata are durable.
// Conditional writes (If-None-Match: *, If-Match) are passed down and enforced atomically there.
import { objectLimits } from '../../lib/index.ts'
import { openBody } from '../body.ts'
import { emptyResponse, header, type S3Context, type S3Response } from '../context.ts'
import type { ObjectTarget } from '../endpoint.ts'
import { S3Error } from '../errors.ts'
import { contentHeadersFrom, quoteEtag, rejectUnsupportedHeaders, storageClassHeader, taggingHeader, userMetadataFrom } from '../headers.ts'
import { checksumHeaders, versionIdHeader } from './common.ts'

/** If-Match / If-None-Match on a write: any ETag for If-Match; only '*' for If-None-Match (as S3). */
export function writeConditions(context: S3Context): { ifMatch?: string; ifNoneMatch?: '*' } {
  const ifMatch = header(context, 'if-match')
  const ifNoneMatch = header(context, 'if-none-match')
  if (ifNoneMatch !== undefined && ifNoneMatch.trim() !== '*') {
    throw new S3Error('NotImplemented', 'A header you provided implies functionality that is not implemented: If-None-Match only supports *', { details: { Header: 'If-None-Match' } })
  }
  return { ...(ifMatch === undefined ? {} : { ifMatch: ifMatch.trim() }), ...(ifNoneMatch === undefined ? {} : { ifNoneMatch: '*' as const }) }
}

export async function putObject(context: S3Context, endpoint: ObjectTarget): Promise<S3Response> {
  rejectUnsupportedHeaders(context)
  const conditions = writeConditions(context)
  const contentHeaders = contentHeadersFrom(context)
  const userMetadata = userMetadataFrom(context)
  const tags = taggingHeader(context)
  const storageClass = storageClassHeader(context)
  const body = openBody(context, { maxBytes: objectLimits.putObjectBytesMax, requireLength: true })
  const result = await context.objects.putObject({
    bucket: endpoint.bucket,
    key: endpoint.key,
    principal: context.principal,
    body: body.stream,
    ...(body.sizeBytes === undefined ? {} : { sizeBytes: body.sizeBytes }),
    digests: body.digests,
    contentHeaders,
    userMetadata,
    ...(tags === undefined ? {} : { tags }),
    ...(storageClass === undefined ? {} : { storageClass }),
    ...conditions,
    signal: context.signal,
  })
  return emptyResponse(200, { etag: quoteEtag(result.etag), ...versionIdHeader(result.versionId), ...checksumHeaders(result.checksum) })
}
