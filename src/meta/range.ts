// Shared argument checks and sorted-array range helpers for MetaStore backends.
//
// Contract: a KeyRange has at most one lower bound (gt | gte) and at most one upper bound
// (lt | lte); `limit` is an integer in 1..limits.metaScanPageMax. Anything else is a bug in the
// caller and throws TypeError (callers never pass user input here unvalidated).
// Keys are compared with Buffer.compare (memcmp, shorter prefix first).
import { limits } from '../lib/index.ts'
import type { Entry, Key, KeyRange, Value } from './meta-store.ts'

/** Throw TypeError unless key is a non-empty byte string. */
export function checkKey(key: Key): void {
  if (!(key instanceof Uint8Array)) throw new TypeError('metadata keys are Uint8Array')
  // Empty keys are legal in LevelDB but not in every backend; no tuple key is empty.
  if (key.length === 0) throw new TypeError('metadata keys are non-empty')
}

/** Throw TypeError unless value is a byte string within limits.metaValueBytesMax. */
export function checkValue(value: Value): void {
  if (!(value instanceof Uint8Array)) throw new TypeError('metadata values are Uint8Array')
  if (value.length > limits.metaValueBytesMax) {
    throw new TypeError(`metadata value of ${value.length} bytes exceeds metaValueBytesMax`)
  }
}

/** Throw TypeError unless range is a well-formed, bounded page request. */
export function checkRange(range: KeyRange): void {
  const { limit } = range
  if (!Number.isInteger(limit) || limit <= 0 || limit > limits.metaScanPageMax) {
    throw new TypeError(`scan limit must be an integer in 1..${limits.metaScanPageMax}, got ${limit}`)
  }
  if (range.gt !== undefined && range.gte !== undefined) throw new TypeError('scan takes gt or gte, not both')
  if (range.lt !== undefined && range.lte !== undefined) throw new TypeError('scan takes lt or lte, not both')
  for (const bound of [range.gt, range.gte, range.lt, range.lte]) {
    if (bound !== undefined && !(bound instanceof Uint8Array)) throw new TypeError('scan bounds are Uint8Array')
  }
}

/** Does key lie inside the bounds of range (limit and direction ignored)? */
export function inRange(key: Uint8Array, range: Omit<KeyRange, 'limit'>): boolean {
  if (range.gt !== undefined && Buffer.compare(key, range.gt) <= 0) return false
  if (range.gte !== undefined && Buffer.compare(key, range.gte) < 0) return false
  if (range.lt !== undefined && Buffer.compare(key, range.lt) >= 0) return false
  if (range.lte !== undefined && Buffer.compare(key, range.lte) > 0) return false
  return true
}

/** First index in sorted whose key is >= key (or > key when `after`). */
export function lowerIndex(sorted: readonly { key: Buffer }[], key: Uint8Array, after: boolean): number {
  let low = 0
  let high = sorted.length
  while (low < high) {
    const middle = (low + high) >>> 1
    const order = Buffer.compare((sorted[middle] as { key: Buffer }).key, key)
    if (order < 0 || (after && order === 0)) low = middle + 1
    else high = middle
  }
  return low
}

/** Index of key in sorted, or -1. */
export function findIndex(sorted: readonly { key: Buffer }[], key: Uint8Array): number {
  const at = lowerIndex(sorted, key, false)
  const found = sorted[at]
  return found !== undefined && Buffer.compare(found.key, key) === 0 ? at : -1
}

/**
 * The elements of a key-sorted array inside range, in range direction, at most `limit` of them.
 * `limit` is not checked here: backends call this with internal page sizes.
 */
export function sliceRange<T extends { key: Buffer }>(sorted: readonly T[], range: KeyRange): T[] {
  let start = 0
  let end = sorted.length
  if (range.gt !== undefined) start = lowerIndex(sorted, range.gt, true)
  if (range.gte !== undefined) start = lowerIndex(sorted, range.gte, false)
  if (range.lt !== undefined) end = lowerIndex(sorted, range.lt, false)
  if (range.lte !== undefined) end = lowerIndex(sorted, range.lte, true)
  if (end <= start) return []
  if (range.reverse === true) return sorted.slice(Math.max(start, end - range.limit), end).reverse()
  return sorted.slice(start, Math.min(end, start + range.limit))
}

/** Copy an entry so callers never alias a backend's stored buffers. */
export function copyEntry(entry: Entry): Entry {
  return { key: Buffer.from(entry.key), value: Buffer.from(entry.value) }
}
