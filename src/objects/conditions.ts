// Read and write conditions (If-Match & co.) and byte ranges, as S3 evaluates them.
//
// Read conditions, in S3's order (RFC 7232 section 6 as S3 applies it):
//   1. If-Match false -> 412. If-Match absent and If-Unmodified-Since false -> 412.
//   2. If-None-Match matches -> 304 (412 for copy sources). If-None-Match absent and
//      If-Modified-Since false -> 304 (412 for copy sources).
// So If-Match true overrides a failing If-Unmodified-Since, and If-None-Match false overrides
// If-Modified-Since, exactly as AWS documents for GetObject and CopyObject.
// Dates compare at whole seconds (HTTP dates have no milliseconds).
import { objectLimits } from '../lib/index.ts'
import type { VersionRecord } from '../model/index.ts'
import type { ByteRange, ReadConditions } from './api.ts'
import { ObjectsError, preconditionFailed } from './errors.ts'

/** An ETag without quotes or weak prefix. */
export function bareEtag(etag: string): string {
  let text = etag.trim()
  if (text.startsWith('W/')) text = text.slice(2)
  if (text.length >= 2 && text.startsWith('"') && text.endsWith('"')) text = text.slice(1, -1)
  return text
}

export function quotedEtag(etag: string): string {
  return `"${etag}"`
}

/** Does an If-Match / If-None-Match list ('"a", "b"', '*') name this ETag? */
export function etagListMatches(list: string, etag: string): boolean {
  return list.split(',').some((entry) => {
    const candidate = entry.trim()
    return candidate === '*' || bareEtag(candidate) === etag
  })
}

function wholeSeconds(ms: number): number {
  return Math.floor(ms / 1000)
}

/** Throws PRECONDITION_FAILED or NOT_MODIFIED per S3's rules; forCopy turns 304s into 412s. */
export function checkReadConditions(conditions: ReadConditions | undefined, record: VersionRecord, forCopy: boolean): void {
  if (conditions === undefined) return
  const header = (name: string) => (forCopy ? `x-amz-copy-source-${name.toLowerCase()}` : name)
  const modified = wholeSeconds(record.lastModifiedMs)
  if (conditions.ifMatch !== undefined) {
    if (!etagListMatches(conditions.ifMatch, record.etag)) throw preconditionFailed(header('If-Match'))
  } else if (conditions.ifUnmodifiedSinceMs !== undefined && modified > wholeSeconds(conditions.ifUnmodifiedSinceMs)) {
    throw preconditionFailed(header('If-Unmodified-Since'))
  }
  const notModified = (name: string) =>
    forCopy ? preconditionFailed(header(name)) : new ObjectsError('NOT_MODIFIED', `not modified (${name})`)
  if (conditions.ifNoneMatch !== undefined) {
    if (etagListMatches(conditions.ifNoneMatch, record.etag)) throw notModified('If-None-Match')
  } else if (conditions.ifModifiedSinceMs !== undefined && modified <= wholeSeconds(conditions.ifModifiedSinceMs)) {
    throw notModified('If-Modified-Since')
  }
}

export interface ResolvedRange {
  first: number
  last: number
}

function unsatisfiable(totalBytes: number): ObjectsError {
  return new ObjectsError('INVALID_RANGE', `The requested range is not satisfiable (object size ${totalBytes})`)
}

/**
 * Resolve a Range against an object of totalBytes. Undefined means the whole object (also for a
 * suffix range of an empty object, which RFC 9110 calls satisfiable). INVALID_RANGE when the
 * first byte is past the end or the suffix is zero.
 */
export function resolveRange(range: ByteRange | undefined, totalBytes: number): ResolvedRange | undefined {
  if (range === undefined) return undefined
  if ('suffixBytes' in range) {
    if (!Number.isSafeInteger(range.suffixBytes) || range.suffixBytes <= 0) throw unsatisfiable(totalBytes)
    if (totalBytes === 0) return undefined
    return { first: Math.max(0, totalBytes - range.suffixBytes), last: totalBytes - 1 }
  }
  if (!Number.isSafeInteger(range.first) || range.first < 0 || range.first >= totalBytes) throw unsatisfiable(totalBytes)
  const last = range.last === undefined ? totalBytes - 1 : Math.min(range.last, totalBytes - 1)
  if (last < range.first) throw unsatisfiable(totalBytes)
  return { first: range.first, last }
}

/** Part sizes of a version (multipart objects), or undefined for single-part ones. */
export function partSizesOf(record: VersionRecord): number[] | undefined {
  return record.data.kind === 'segments' && record.data.multipart ? record.data.segments.map((segment) => segment.sizeBytes) : undefined
}

/** The byte range of part partNumber (1-based, as S3 counts the parts of the completed object). */
export function resolvePartNumber(record: VersionRecord, partNumber: number): ResolvedRange | undefined {
  if (!Number.isInteger(partNumber) || partNumber < 1 || partNumber > objectLimits.partNumberMax) {
    throw new ObjectsError('INVALID_ARGUMENT', `Part number must be an integer between 1 and ${objectLimits.partNumberMax}`, { hint: 'InvalidArgument' })
  }
  const sizes = partSizesOf(record)
  if (sizes === undefined) {
    // A single-part object is its own part 1.
    if (partNumber !== 1) throw new ObjectsError('INVALID_RANGE', 'The requested partnumber is not satisfiable', { hint: 'InvalidPartNumber' })
    return record.sizeBytes === 0 ? undefined : { first: 0, last: record.sizeBytes - 1 }
  }
  if (partNumber > sizes.length) throw new ObjectsError('INVALID_RANGE', 'The requested partnumber is not satisfiable', { hint: 'InvalidPartNumber' })
  let first = 0
  for (let index = 0; index < partNumber - 1; index++) first += sizes[index] as number
  const size = sizes[partNumber - 1] as number
  if (size === 0) {
    // An empty part is only servable as the whole (empty) object: a range cannot name no bytes.
    if (record.sizeBytes === 0) return undefined
    throw new ObjectsError('INVALID_RANGE', 'The requested part is empty', { hint: 'InvalidPartNumber' })
  }
  return { first, last: first + size - 1 }
}
