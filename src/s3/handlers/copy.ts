// CopyObject and the x-amz-copy-source header it shares with UploadPartCopy. The source is
// '[/]bucket/key[?versionId=id]', URL-encoded (decoded here from the header's bytes, so raw
// UTF-8 works too). Copy conditions (x-amz-copy-source-if-*) fail with 412 only, never 304.
// Metadata and tagging directives are COPY (default) or REPLACE; copying an object onto itself
// without changing anything is refused, as by S3. No data is copied here: the objects layer
// references the source's chunks.
import { isStoreError } from '../../lib/index.ts'
import type { ChecksumAlgorithm, CopySource } from '../../objects/index.ts'
import { parseChecksumAlgorithm } from '../checksum/index.ts'
import { header, xmlResponse, type S3Context, type S3Response } from '../context.ts'
import type { ObjectTarget } from '../endpoint.ts'
import { S3Error } from '../errors.ts'
import { contentHeadersFrom, quoteEtag, readConditionsFrom, rejectUnsupportedHeaders, storageClassHeader, taggingHeader, userMetadataFrom } from '../headers.ts'
import { xmlTimestamp } from '../xml.ts'
import { checksumXml, versionIdHeader } from './common.ts'

function invalidSource(message: string, value: string): S3Error {
  return new S3Error('InvalidArgument', message, { details: { ArgumentName: 'x-amz-copy-source', ArgumentValue: value } })
}

/** Percent-decode the bytes of a header value (Node hands header bytes over as latin1). */
function decodeHeaderBytes(text: string): string {
  const bytes = Buffer.from(text, 'latin1')
  const out = Buffer.alloc(bytes.length)
  let length = 0
  for (let index = 0; index < bytes.length; index++) {
    const byte = bytes[index] as number
    if (byte === 0x25 && index + 2 < bytes.length && /^[0-9a-fA-F]{2}$/.test(bytes.toString('latin1', index + 1, index + 3))) {
      out[length++] = Number.parseInt(bytes.toString('latin1', index + 1, index + 3), 16)
      index += 2
    } else {
      out[length++] = byte
    }
  }
  const decoded = out.subarray(0, length)
  const textOut = decoded.toString('utf8')
  if (!Buffer.from(textOut, 'utf8').equals(decoded)) throw invalidSource('Invalid copy source encoding', text)
  return textOut
}

/** x-amz-copy-source -> bucket, key, versionId (the copy conditions are added by the caller). */
export function parseCopySource(text: string): { bucket: string; key: string; versionId?: string } {
  const question = text.indexOf('?')
  const path = question < 0 ? text : text.slice(0, question)
  let versionId: string | undefined
  if (question >= 0) {
    const parameters = new URLSearchParams(text.slice(question + 1))
    const value = parameters.get('versionId')
    if (value === null || value === '' || [...parameters.keys()].length !== 1) throw invalidSource('Invalid copy source version id', text)
    versionId = value
  }
  if (path.startsWith('arn:')) throw new S3Error('NotImplemented', 'Copy sources named by access point ARN are not implemented.')
  const decoded = decodeHeaderBytes(path).replace(/^\//, '')
  const slash = decoded.indexOf('/')
  if (slash <= 0 || slash === decoded.length - 1) throw invalidSource('Invalid copy source object key', text)
  return { bucket: decoded.slice(0, slash), key: decoded.slice(slash + 1), ...(versionId === undefined ? {} : { versionId }) }
}

/** The copy source of a request, with its x-amz-copy-source-if-* conditions. */
export function copySourceOf(context: S3Context): CopySource {
  const text = header(context, 'x-amz-copy-source')
  if (text === undefined) throw new TypeError('routed as a copy without x-amz-copy-source')
  const conditions = readConditionsFrom(context, 'x-amz-copy-source-')
  return { ...parseCopySource(text), ...(conditions === undefined ? {} : { conditions }) }
}

/** Copy conditions are answered 412 whatever failed (S3 never answers a copy with 304). */
export async function withCopyConditions<T>(operation: () => Promise<T>): Promise<T> {
  try {
    return await operation()
  } catch (error) {
    if (isStoreError(error, 'NOT_MODIFIED')) throw new S3Error('PreconditionFailed', undefined, { cause: error })
    throw error
  }
}

function directive(context: S3Context, name: string): 'COPY' | 'REPLACE' {
  const value = header(context, name)
  if (value === undefined) return 'COPY'
  if (value === 'COPY' || value === 'REPLACE') return value
  throw new S3Error('InvalidArgument', `Unknown ${name === 'x-amz-metadata-directive' ? 'metadata' : 'tagging'} directive.`, { details: { ArgumentName: name, ArgumentValue: value } })
}

export async function copyObject(context: S3Context, endpoint: ObjectTarget): Promise<S3Response> {
  rejectUnsupportedHeaders(context)
  const source = copySourceOf(context)
  const metadataDirective = directive(context, 'x-amz-metadata-directive')
  const taggingDirective = directive(context, 'x-amz-tagging-directive')
  const storageClass = storageClassHeader(context)
  const algorithmText = header(context, 'x-amz-checksum-algorithm')
  const checksumAlgorithm: ChecksumAlgorithm | undefined = algorithmText === undefined ? undefined : parseChecksumAlgorithm(algorithmText)
  if (source.bucket === endpoint.bucket && source.key === endpoint.key && source.versionId === undefined && metadataDirective === 'COPY' && storageClass === undefined && checksumAlgorithm === undefined) {
    throw new S3Error('InvalidRequest', "This copy request is illegal because it is trying to copy an object to itself without changing the object's metadata, storage class, website redirect location or encryption attributes.")
  }
  const tags = taggingDirective === 'REPLACE' ? (taggingHeader(context) ?? []) : undefined
  const result = await withCopyConditions(() =>
    context.objects.copyObject({
      source,
      bucket: endpoint.bucket,
      key: endpoint.key,
      principal: context.principal,
      metadataDirective,
      taggingDirective,
      ...(metadataDirective === 'REPLACE' ? { contentHeaders: contentHeadersFrom(context), userMetadata: userMetadataFrom(context) } : {}),
      ...(tags === undefined ? {} : { tags }),
      ...(storageClass === undefined ? {} : { storageClass }),
      ...(checksumAlgorithm === undefined ? {} : { checksumAlgorithm }),
      signal: context.signal,
    }),
  )
  const headers = { ...versionIdHeader(result.versionId), ...(result.sourceVersionId === undefined ? {} : { 'x-amz-copy-source-version-id': result.sourceVersionId }) }
  return xmlResponse('CopyObjectResult', [['ETag', quoteEtag(result.etag)], ['LastModified', xmlTimestamp(result.lastModifiedMs)], ...checksumXml(result.checksum)], headers)
}
