// Listings: ListObjects (current entries), ListObjectVersions (all versions) and
// ListMultipartUploads, all on one delimited scan (docs/format/objects.md 1.1).
//
// The scan walks one key space of a bucket from a start bound, restricted to keys starting with
// the prefix. With a delimiter, the first key under a common prefix yields that prefix and the
// scan seeks past every key under it (one seek, however many keys it holds). Pages grow from a
// small size while no seek interrupts them, so a page of many common prefixes reads few entries
// per prefix. Cost of a listing page: O(page) entries and seeks.
// A continuation equal to a common prefix starts past the whole prefix, so no page repeats an
// entry of the previous one and a listing always moves forward.
import { decodeKey, type Entry, type ReadTx } from '../meta/index.ts'
import { pastStringPrefix, stringPrefixBytes, stringPrefixRange } from '../model/index.ts'

export type ScanItem = { kind: 'entry'; key: string; entry: Entry } | { kind: 'prefix'; prefix: string }

export interface DelimitedScan {
  /** The bucket's key space, e.g. key('s3','cur',bucketId); the object key is its next part. */
  space: Buffer
  prefix: string
  delimiter: string | undefined
  /** Where to begin (already clipped to the prefix range by startAfter()). */
  start: { gt: Buffer } | { gte: Buffer }
  /** How many items the caller wants at most (sizes the first pages). */
  wanted: number
}

const firstPageEntries = 32
const pageEntriesMax = 1000

/** The common prefix key falls under, or undefined. */
export function commonPrefixOf(key: string, prefix: string, delimiter: string | undefined): string | undefined {
  if (delimiter === undefined || delimiter === '' || !key.startsWith(prefix)) return undefined
  const at = key.indexOf(delimiter, prefix.length)
  return at < 0 ? undefined : key.slice(0, at + delimiter.length)
}

function objectKeyOf(entry: Entry, space: Buffer): string {
  // The first part after the space is the object key; decode only that far.
  const parts = decodeKey(entry.key.subarray(space.length))
  return parts[0] as string
}

export async function* delimitedScan(tx: ReadTx, scan: DelimitedScan): AsyncGenerator<ScanItem> {
  const { lt } = stringPrefixRange(scan.space, scan.prefix)
  let bound: { gt: Buffer } | { gte: Buffer } = scan.start
  let limit = scan.delimiter === undefined ? Math.min(pageEntriesMax, scan.wanted + 1) : Math.min(firstPageEntries, scan.wanted + 1)
  for (;;) {
    const page = await tx.scan({ ...bound, lt, limit })
    let seeked = false
    for (const entry of page) {
      const key = objectKeyOf(entry, scan.space)
      const prefix = commonPrefixOf(key, scan.prefix, scan.delimiter)
      if (prefix === undefined) {
        yield { kind: 'entry', key, entry }
        bound = { gt: entry.key }
        continue
      }
      yield { kind: 'prefix', prefix }
      bound = { gte: pastStringPrefix(scan.space, prefix) }
      seeked = true
      break
    }
    if (!seeked && page.length < limit) return
    limit = seeked ? firstPageEntries : Math.min(pageEntriesMax, limit * 2)
  }
}

/**
 * The start bound for a listing that continues after `after` (undefined: from the prefix).
 * `afterEnd` is the first key past every entry of the key `after` in this space.
 */
export function startAfter(space: Buffer, prefix: string, delimiter: string | undefined, after: string | undefined, afterEnd: (key: string) => { gt: Buffer } | { gte: Buffer }): { gt: Buffer } | { gte: Buffer } {
  const prefixStart = { gte: stringPrefixBytes(space, prefix) }
  if (after === undefined) return prefixStart
  if (Buffer.compare(Buffer.from(after, 'utf8'), Buffer.from(prefix, 'utf8')) < 0) return prefixStart
  // Continuing from a common prefix: skip everything under it.
  if (commonPrefixOf(after, prefix, delimiter) === after) return { gte: pastStringPrefix(space, after) }
  return afterEnd(after)
}
