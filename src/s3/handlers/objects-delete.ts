// DeleteObject (204; x-amz-delete-marker and x-amz-version-id as S3 sends them; a missing key
// or version is not an error, as in S3) and DeleteObjects (up to 1000 keys, quiet or verbose,
// per-key errors in the result, deleted with a bounded fan-out, results in request order).
import { isStoreError, s3ApiLimits } from '../../lib/index.ts'
import type { DeleteObjectResult } from '../../objects/index.ts'
import { readSmallBody } from '../body.ts'
import { emptyResponse, xmlResponse, type S3Context, type S3Response } from '../context.ts'
import type { BucketTarget, ObjectTarget } from '../endpoint.ts'
import { S3Error, toS3Error } from '../errors.ts'
import { childList, childText, parseXmlBody, requireChildText, type XmlChild } from '../xml.ts'

/** S3 answers 204 for a key or version that does not exist; only a missing bucket fails. */
function isMissingObject(error: unknown): boolean {
  return isStoreError(error, 'NOT_FOUND') && (error.subject === 'key' || error.subject === 'version')
}

async function deleteOne(context: S3Context, bucket: string, key: string, versionId: string | undefined): Promise<DeleteObjectResult> {
  try {
    return await context.objects.deleteObject({ bucket, key, principal: context.principal, ...(versionId === undefined ? {} : { versionId }), signal: context.signal })
  } catch (error) {
    if (isMissingObject(error)) return versionId === undefined ? { deleteMarker: false } : { versionId, deleteMarker: false }
    throw error
  }
}

export async function deleteObject(context: S3Context, endpoint: ObjectTarget & { readonly versionId?: string }): Promise<S3Response> {
  const result = await deleteOne(context, endpoint.bucket, endpoint.key, endpoint.versionId)
  const headers: Record<string, string> = {}
  if (result.deleteMarker) headers['x-amz-delete-marker'] = 'true'
  if (result.versionId !== undefined) headers['x-amz-version-id'] = result.versionId
  return emptyResponse(204, headers)
}

interface DeleteRequestEntry {
  readonly key: string
  readonly versionId?: string
}

function parseDeleteRequest(body: Buffer): { quiet: boolean; entries: DeleteRequestEntry[] } {
  if (body.length === 0) throw new S3Error('MissingRequestBodyError', 'Request Body is empty')
  const root = parseXmlBody(body, 'Delete')
  const quietText = childText(root, 'Quiet')
  const objects = childList(root, 'Object')
  if (objects.length === 0 || objects.length > s3ApiLimits.deleteObjectsKeysMax) throw new S3Error('MalformedXML')
  const entries = objects.map((node): DeleteRequestEntry => {
    const versionId = childText(node, 'VersionId')
    return { key: requireChildText(node, 'Key'), ...(versionId === undefined || versionId === '' ? {} : { versionId }) }
  })
  return { quiet: quietText?.trim().toLowerCase() === 'true', entries }
}

function deletedXml(entry: DeleteRequestEntry, result: DeleteObjectResult): XmlChild {
  const children: XmlChild[] = [['Key', entry.key]]
  if (entry.versionId !== undefined) {
    children.push(['VersionId', entry.versionId])
    if (result.deleteMarker) children.push(['DeleteMarker', true], ['DeleteMarkerVersionId', entry.versionId])
  } else if (result.deleteMarker) {
    children.push(['DeleteMarker', true])
    if (result.versionId !== undefined) children.push(['DeleteMarkerVersionId', result.versionId])
  }
  return ['Deleted', children]
}

function errorXml(entry: DeleteRequestEntry, error: S3Error): XmlChild {
  return ['Error', [['Key', entry.key], ['VersionId', entry.versionId], ['Code', error.code], ['Message', error.message]]]
}

/** Run `work` over items with at most `concurrency` at once; results in item order. */
async function mapBounded<T, R>(items: readonly T[], concurrency: number, work: (item: T) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length)
  let next = 0
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const index = next++
      results[index] = await work(items[index] as T)
    }
  }
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker))
  return results
}

export async function deleteObjects(context: S3Context, endpoint: BucketTarget): Promise<S3Response> {
  const { quiet, entries } = parseDeleteRequest(await readSmallBody(context))
  // A missing bucket fails the whole request, not each key.
  await context.objects.headBucket(context.principal, endpoint.bucket)
  const outcomes = await mapBounded(entries, s3ApiLimits.deleteObjectsConcurrency, async (entry): Promise<XmlChild | undefined> => {
    try {
      const result = await deleteOne(context, endpoint.bucket, entry.key, entry.versionId)
      return quiet ? undefined : deletedXml(entry, result)
    } catch (error) {
      const s3Error = toS3Error(error, { bucket: endpoint.bucket, key: entry.key })
      if (s3Error === undefined) throw error
      return errorXml(entry, s3Error)
    }
  })
  return xmlResponse('DeleteResult', outcomes.filter((outcome): outcome is XmlChild => outcome !== undefined))
}
