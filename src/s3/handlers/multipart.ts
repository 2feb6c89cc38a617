// Multipart uploads: Create (content headers, metadata, tags, storage class, checksum algorithm
// and type), UploadPart (streamed and verified like PutObject), UploadPartCopy (with
// x-amz-copy-source-range), Complete (part list checked for order here; sizes, ETags and
// checksums by the objects layer, which stitches manifests without copying data), Abort,
// ListParts and ListMultipartUploads.
import { objectLimits } from '../../lib/index.ts'
import type { ChecksumAlgorithm, ChecksumType, MultipartUploadInfo, PartInfo } from '../../objects/index.ts'
import { openBody, readSmallBody } from '../body.ts'
import { defaultChecksumType, isChecksumTypeSupported, parseChecksumAlgorithm } from '../checksum/index.ts'
import { emptyResponse, header, xmlResponse, type S3Context, type S3Response } from '../context.ts'
import type { BucketEndpoint, ObjectEndpoint, ObjectTarget } from '../endpoint.ts'
import { S3Error } from '../errors.ts'
import { contentHeadersFrom, parseCopySourceRange, quoteEtag, rejectUnsupportedHeaders, storageClassHeader, taggingHeader, userMetadataFrom } from '../headers.ts'
import { childList, childText, parseXmlBody, requireChildText, xmlTimestamp, type XmlChild } from '../xml.ts'
import { checksumHeaders, checksumXml, encodeListValue, ownerXml, versionIdHeader } from './common.ts'
import { copySourceOf, withCopyConditions } from './copy.ts'
import { writeConditions } from './objects-put.ts'

type UploadTarget = ObjectTarget & { readonly uploadId: string }
type PartTarget = UploadTarget & { readonly partNumber: number }

function checksumChoice(context: S3Context): { checksumAlgorithm?: ChecksumAlgorithm; checksumType?: ChecksumType } {
  const algorithmText = header(context, 'x-amz-checksum-algorithm')
  const typeText = header(context, 'x-amz-checksum-type')
  if (algorithmText === undefined) {
    if (typeText !== undefined) throw new S3Error('InvalidRequest', 'The x-amz-checksum-type header can only be used with the x-amz-checksum-algorithm header.')
    return {}
  }
  const algorithm = parseChecksumAlgorithm(algorithmText)
  const type = typeText === undefined ? defaultChecksumType(algorithm) : typeText.trim().toUpperCase()
  if ((type !== 'COMPOSITE' && type !== 'FULL_OBJECT') || !isChecksumTypeSupported(algorithm, type)) {
    throw new S3Error('InvalidRequest', `The ${algorithm} checksum algorithm does not support the ${typeText ?? type} checksum type.`)
  }
  return { checksumAlgorithm: algorithm, checksumType: type }
}

function uploadChecksumHeaders(upload: MultipartUploadInfo): Record<string, string> {
  const headers: Record<string, string> = {}
  if (upload.checksumAlgorithm !== undefined) headers['x-amz-checksum-algorithm'] = upload.checksumAlgorithm
  if (upload.checksumType !== undefined) headers['x-amz-checksum-type'] = upload.checksumType
  return headers
}

export async function createMultipartUpload(context: S3Context, endpoint: ObjectTarget): Promise<S3Response> {
  rejectUnsupportedHeaders(context)
  const tags = taggingHeader(context)
  const storageClass = storageClassHeader(context)
  const upload = await context.objects.createMultipartUpload({
    bucket: endpoint.bucket,
    key: endpoint.key,
    principal: context.principal,
    contentHeaders: contentHeadersFrom(context),
    userMetadata: userMetadataFrom(context),
    ...(tags === undefined ? {} : { tags }),
    ...(storageClass === undefined ? {} : { storageClass }),
    ...checksumChoice(context),
  })
  return xmlResponse('InitiateMultipartUploadResult', [['Bucket', endpoint.bucket], ['Key', endpoint.key], ['UploadId', upload.uploadId]], uploadChecksumHeaders(upload))
}

export async function uploadPart(context: S3Context, endpoint: PartTarget): Promise<S3Response> {
  const body = openBody(context, { maxBytes: objectLimits.putObjectBytesMax, requireLength: true })
  const part = await context.objects.uploadPart({
    bucket: endpoint.bucket,
    key: endpoint.key,
    uploadId: endpoint.uploadId,
    partNumber: endpoint.partNumber,
    principal: context.principal,
    body: body.stream,
    ...(body.sizeBytes === undefined ? {} : { sizeBytes: body.sizeBytes }),
    digests: body.digests,
    signal: context.signal,
  })
  return emptyResponse(200, { etag: quoteEtag(part.etag), ...partChecksumHeaders(part) })
}

function partChecksumHeaders(part: PartInfo): Record<string, string> {
  if (part.checksum === undefined) return {}
  const { 'x-amz-checksum-type': _type, ...value } = checksumHeaders(part.checksum)
  return value
}

export async function uploadPartCopy(context: S3Context, endpoint: PartTarget): Promise<S3Response> {
  const range = parseCopySourceRange(header(context, 'x-amz-copy-source-range'))
  const source = { ...copySourceOf(context), ...(range === undefined ? {} : { range }) }
  const part = await withCopyConditions(() =>
    context.objects.uploadPartCopy({ bucket: endpoint.bucket, key: endpoint.key, uploadId: endpoint.uploadId, partNumber: endpoint.partNumber, principal: context.principal, source, signal: context.signal }),
  )
  const headers: Record<string, string> = source.versionId === undefined ? {} : { 'x-amz-copy-source-version-id': source.versionId }
  return xmlResponse('CopyPartResult', [['ETag', quoteEtag(part.etag)], ['LastModified', xmlTimestamp(part.lastModifiedMs)], ...checksumXml(part.checksum, false)], headers)
}

/** The part list of CompleteMultipartUpload: ascending part numbers, ETags normalised to quoted form. */
function parseCompletion(body: Buffer): Array<{ partNumber: number; etag: string; checksum?: string }> {
  if (body.length === 0) throw new S3Error('MalformedXML')
  const root = parseXmlBody(body, 'CompleteMultipartUpload')
  const parts = childList(root, 'Part').map((node) => {
    const numberText = requireChildText(node, 'PartNumber').trim()
    const partNumber = /^\d{1,5}$/.test(numberText) ? Number(numberText) : Number.NaN
    if (!(partNumber >= 1 && partNumber <= objectLimits.partNumberMax)) throw new S3Error('InvalidArgument', 'Part number must be an integer between 1 and 10000, inclusive')
    const etag = requireChildText(node, 'ETag').trim().replace(/^"+|"+$/g, '')
    const checksum = ['ChecksumCRC32', 'ChecksumCRC32C', 'ChecksumCRC64NVME', 'ChecksumSHA1', 'ChecksumSHA256'].map((name) => childText(node, name)).find((value) => value !== undefined)
    return { partNumber, etag: quoteEtag(etag), ...(checksum === undefined ? {} : { checksum }) }
  })
  if (parts.length === 0) throw new S3Error('MalformedXML')
  for (let index = 1; index < parts.length; index++) {
    if ((parts[index]?.partNumber ?? 0) <= (parts[index - 1]?.partNumber ?? 0)) throw new S3Error('InvalidPartOrder')
  }
  return parts
}

export async function completeMultipartUpload(context: S3Context, endpoint: UploadTarget): Promise<S3Response> {
  const conditions = writeConditions(context)
  const parts = parseCompletion(await readSmallBody(context))
  const result = await context.objects.completeMultipartUpload({
    bucket: endpoint.bucket,
    key: endpoint.key,
    uploadId: endpoint.uploadId,
    principal: context.principal,
    parts,
    ...conditions,
    signal: context.signal,
  })
  const location = `${context.origin}/${encodeURIComponent(endpoint.bucket)}/${endpoint.key.split('/').map(encodeURIComponent).join('/')}`
  return xmlResponse(
    'CompleteMultipartUploadResult',
    [['Location', location], ['Bucket', endpoint.bucket], ['Key', endpoint.key], ['ETag', quoteEtag(result.etag)], ...checksumXml(result.checksum)],
    versionIdHeader(result.versionId),
  )
}

export async function abortMultipartUpload(context: S3Context, endpoint: UploadTarget): Promise<S3Response> {
  await context.objects.abortMultipartUpload({ bucket: endpoint.bucket, key: endpoint.key, uploadId: endpoint.uploadId, principal: context.principal })
  return emptyResponse(204)
}

function partXml(part: PartInfo): XmlChild {
  return ['Part', [['PartNumber', part.partNumber], ['LastModified', xmlTimestamp(part.lastModifiedMs)], ['ETag', quoteEtag(part.etag)], ['Size', part.sizeBytes], ...checksumXml(part.checksum, false)]]
}

export async function listParts(context: S3Context, endpoint: Extract<ObjectEndpoint, { kind: 'ListParts' }>): Promise<S3Response> {
  const result = await context.objects.listParts({
    bucket: endpoint.bucket,
    key: endpoint.key,
    uploadId: endpoint.uploadId,
    principal: context.principal,
    ...(endpoint.partNumberMarker === undefined ? {} : { partNumberMarker: endpoint.partNumberMarker }),
    maxParts: endpoint.maxParts,
  })
  const { upload } = result
  return xmlResponse('ListPartsResult', [
    ['Bucket', endpoint.bucket],
    ['Key', encodeListValue(endpoint.key, endpoint.encodingType)],
    ['UploadId', endpoint.uploadId],
    ['PartNumberMarker', endpoint.partNumberMarker ?? 0],
    ['NextPartNumberMarker', result.nextPartNumberMarker],
    ['MaxParts', endpoint.maxParts],
    ['IsTruncated', result.isTruncated],
    ['EncodingType', endpoint.encodingType],
    ownerXml(upload.owner, context.principal, 'Initiator'),
    ownerXml(upload.owner, context.principal),
    ['StorageClass', upload.storageClass],
    ['ChecksumAlgorithm', upload.checksumAlgorithm],
    ['ChecksumType', upload.checksumType],
    ...result.parts.map(partXml),
  ])
}

export async function listMultipartUploads(context: S3Context, endpoint: Extract<BucketEndpoint, { kind: 'ListMultipartUploads' }>): Promise<S3Response> {
  const { encodingType } = endpoint
  const result = await context.objects.listMultipartUploads({
    bucket: endpoint.bucket,
    principal: context.principal,
    ...(endpoint.prefix === undefined ? {} : { prefix: endpoint.prefix }),
    ...(endpoint.delimiter === undefined ? {} : { delimiter: endpoint.delimiter }),
    ...(endpoint.keyMarker === undefined || endpoint.keyMarker === '' ? {} : { keyMarker: endpoint.keyMarker }),
    ...(endpoint.uploadIdMarker === undefined || endpoint.uploadIdMarker === '' ? {} : { uploadIdMarker: endpoint.uploadIdMarker }),
    maxUploads: endpoint.maxUploads,
  })
  const uploadXml = (upload: MultipartUploadInfo): XmlChild => [
    'Upload',
    [
      ['Key', encodeListValue(upload.key, encodingType)],
      ['UploadId', upload.uploadId],
      ownerXml(upload.owner, context.principal, 'Initiator'),
      ownerXml(upload.owner, context.principal),
      ['StorageClass', upload.storageClass],
      ['Initiated', xmlTimestamp(upload.initiatedMs)],
      ['ChecksumAlgorithm', upload.checksumAlgorithm],
      ['ChecksumType', upload.checksumType],
    ],
  ]
  return xmlResponse('ListMultipartUploadsResult', [
    ['Bucket', endpoint.bucket],
    ['KeyMarker', encodeListValue(endpoint.keyMarker ?? '', encodingType)],
    ['UploadIdMarker', endpoint.uploadIdMarker ?? ''],
    ['NextKeyMarker', result.isTruncated ? encodeListValue(result.nextKeyMarker, encodingType) : undefined],
    ['NextUploadIdMarker', result.isTruncated ? result.nextUploadIdMarker : undefined],
    ['Prefix', encodeListValue(endpoint.prefix, encodingType)],
    ['Delimiter', encodeListValue(endpoint.delimiter, encodingType)],
    ['MaxUploads', endpoint.maxUploads],
    ['IsTruncated', result.isTruncated],
    ['EncodingType', encodingType],
    ...result.uploads.map(uploadXml),
    ...result.commonPrefixes.map((prefix): XmlChild => ['CommonPrefixes', [['Prefix', encodeListValue(prefix, encodingType)]]]),
  ])
}
