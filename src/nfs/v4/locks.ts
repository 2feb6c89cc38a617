// Byte-range locks of one file (POSIX semantics, held in memory): ranges are [start, end) over
// 0..2^64 with end 2^64 meaning "to end of file". Two ranges conflict when they overlap, belong
// to different lock owners and at least one is a write lock. Taking a lock over the owner's own
// ranges replaces them where they overlap (upgrade, downgrade, split); unlocking splits.
import { assert } from '../../lib/index.ts'
import { uint64Max } from './constants.ts'

export type LockKind = 'read' | 'write'

export interface LockRange<Owner> {
  readonly owner: Owner
  readonly kind: LockKind
  readonly start: bigint
  readonly end: bigint
}

export const endOfFile = uint64Max + 1n

/** [offset, offset+length) per NFSv4 (length all-ones = to EOF); undefined for a bad range (NFS4ERR_INVAL). */
export function lockRangeOf(offset: bigint, length: bigint): { start: bigint; end: bigint } | undefined {
  if (length === 0n) return undefined
  if (length === uint64Max) return { start: offset, end: endOfFile }
  const end = offset + length
  if (end > endOfFile) return undefined
  return { start: offset, end }
}

/** The wire length of a range (all-ones for to-EOF). */
export function lockLengthOf(range: { start: bigint; end: bigint }): bigint {
  return range.end === endOfFile ? uint64Max : range.end - range.start
}

const overlaps = (a: { start: bigint; end: bigint }, b: { start: bigint; end: bigint }): boolean => a.start < b.end && b.start < a.end

export class FileLocks<Owner> {
  #ranges: LockRange<Owner>[] = []

  get size(): number {
    return this.#ranges.length
  }

  /** The first range of another owner that conflicts with the request, if any. */
  conflict(owner: Owner, kind: LockKind, start: bigint, end: bigint, sameOwner: (a: Owner, b: Owner) => boolean = Object.is): LockRange<Owner> | undefined {
    return this.#ranges.find((range) => !sameOwner(range.owner, owner) && overlaps(range, { start, end }) && (kind === 'write' || range.kind === 'write'))
  }

  /** Set [start, end) to `kind` for owner (the caller checked for conflicts). */
  lock(owner: Owner, kind: LockKind, start: bigint, end: bigint): void {
    assert(start < end, 'lock range is not empty')
    this.#remove(owner, start, end)
    this.#ranges.push({ owner, kind, start, end })
    this.#coalesce(owner)
  }

  unlock(owner: Owner, start: bigint, end: bigint): void {
    this.#remove(owner, start, end)
  }

  /** Drop every range of an owner. */
  release(owner: Owner): void {
    this.#ranges = this.#ranges.filter((range) => range.owner !== owner)
  }

  holds(owner: Owner): boolean {
    return this.#ranges.some((range) => range.owner === owner)
  }

  ranges(): readonly LockRange<Owner>[] {
    return this.#ranges
  }

  #remove(owner: Owner, start: bigint, end: bigint): void {
    const kept: LockRange<Owner>[] = []
    for (const range of this.#ranges) {
      if (range.owner !== owner || !overlaps(range, { start, end })) {
        kept.push(range)
        continue
      }
      if (range.start < start) kept.push({ ...range, end: start })
      if (range.end > end) kept.push({ ...range, start: end })
    }
    this.#ranges = kept
  }

  /** Merge adjacent or overlapping ranges of the same owner and kind. */
  #coalesce(owner: Owner): void {
    const mine = this.#ranges.filter((range) => range.owner === owner).sort((a, b) => (a.start < b.start ? -1 : a.start > b.start ? 1 : 0))
    const others = this.#ranges.filter((range) => range.owner !== owner)
    const merged: LockRange<Owner>[] = []
    for (const range of mine) {
      const last = merged[merged.length - 1]
      if (last !== undefined && last.kind === range.kind && last.end >= range.start) {
        merged[merged.length - 1] = { ...last, end: last.end > range.end ? last.end : range.end }
      } else {
        merged.push(range)
      }
    }
    this.#ranges = [...others, ...merged]
  }
}
