// A transaction's view: committed reads with the transaction's own pending writes merged in.
//
// Contract: get/getMany/scan see pending puts and deletes exactly as if they were committed
// (including scan ordering, bounds, reverse and limit). put/delete copy their arguments, and
// every returned buffer is a fresh copy, so callers can never alias stored bytes.
// Invariant: a pending delete is stored as `value: undefined` and hides a committed key.
// Never usable after finish(): a transaction object escaping its fn is a bug (TypeError).
import type { Entry, Key, KeyRange, ReadTx, Value, WriteTx } from './meta-store.ts'
import { checkKey, checkRange, checkValue, sliceRange } from './range.ts'

/** The committed state a transaction reads from, provided by a backend. */
export interface CommittedView {
  get(key: Buffer): Promise<Buffer | undefined>
  getMany(keys: Buffer[]): Promise<Array<Buffer | undefined>>
  /** Committed entries in range and direction; `range.limit` may exceed metaScanPageMax here. */
  scan(range: KeyRange): Promise<Entry[]>
}

/** A pending write; `value === undefined` is a delete. */
export interface PendingWrite {
  key: Buffer
  value: Buffer | undefined
}

function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length)
}

export class OverlayTx implements WriteTx {
  readonly #view: CommittedView
  readonly #readOnly: boolean
  // Keyed by the latin1 spelling of the key bytes (a bijection), so lookups are O(1).
  readonly #pending = new Map<string, PendingWrite>()
  #sorted: PendingWrite[] | undefined
  #finished = false

  constructor(view: CommittedView, options: { readOnly: boolean }) {
    this.#view = view
    this.#readOnly = options.readOnly
  }

  async get(key: Key): Promise<Buffer | undefined> {
    this.#checkActive()
    checkKey(key)
    const pending = this.#pending.get(asBuffer(key).toString('latin1'))
    if (pending !== undefined) return pending.value === undefined ? undefined : Buffer.from(pending.value)
    return this.#view.get(asBuffer(key))
  }

  async getMany(keys: readonly Key[]): Promise<Array<Buffer | undefined>> {
    this.#checkActive()
    for (const key of keys) checkKey(key)
    const results: Array<Buffer | undefined> = new Array(keys.length).fill(undefined)
    const missingIndexes: number[] = []
    keys.forEach((key, index) => {
      const pending = this.#pending.get(asBuffer(key).toString('latin1'))
      if (pending === undefined) missingIndexes.push(index)
      else if (pending.value !== undefined) results[index] = Buffer.from(pending.value)
    })
    if (missingIndexes.length > 0) {
      const committed = await this.#view.getMany(missingIndexes.map((index) => asBuffer(keys[index] as Key)))
      missingIndexes.forEach((index, at) => {
        results[index] = committed[at]
      })
    }
    return results
  }

  async scan(range: KeyRange): Promise<Entry[]> {
    this.#checkActive()
    checkRange(range)
    const pending = sliceRange(this.writes(), { ...range, limit: Number.POSITIVE_INFINITY })
    // Each pending key hides or replaces at most one committed entry, so this many committed
    // entries always suffice to fill the page.
    const committed = await this.#view.scan({ ...range, limit: range.limit + pending.length })
    if (pending.length === 0) return committed
    return mergePage(committed, pending, range.reverse === true ? -1 : 1, range.limit)
  }

  put(key: Key, value: Value): void {
    this.#checkWritable()
    checkKey(key)
    checkValue(value)
    this.#set({ key: Buffer.from(key), value: Buffer.from(value) })
  }

  delete(key: Key): void {
    this.#checkWritable()
    checkKey(key)
    this.#set({ key: Buffer.from(key), value: undefined })
  }

  /** Pending writes sorted by key (shared array: do not mutate). */
  writes(): readonly PendingWrite[] {
    this.#sorted ??= [...this.#pending.values()].sort((a, b) => Buffer.compare(a.key, b.key))
    return this.#sorted
  }

  /** End the transaction: every later call throws TypeError. */
  finish(): void {
    this.#finished = true
  }

  #set(write: PendingWrite): void {
    this.#pending.set(write.key.toString('latin1'), write)
    this.#sorted = undefined
  }

  #checkActive(): void {
    if (this.#finished) throw new TypeError('metadata transaction used after its function returned')
  }

  #checkWritable(): void {
    this.#checkActive()
    if (this.#readOnly) throw new TypeError('metadata read transactions cannot write')
  }
}

/** Merge committed entries and pending writes (both in scan direction); pending wins ties. */
export function mergePage(committed: Entry[], pending: PendingWrite[], direction: 1 | -1, limit: number): Entry[] {
  const page: Entry[] = []
  let committedAt = 0
  let pendingAt = 0
  while (page.length < limit) {
    const fromCommitted = committed[committedAt]
    const fromPending = pending[pendingAt]
    if (fromCommitted === undefined && fromPending === undefined) break
    const order =
      fromCommitted === undefined ? 1 : fromPending === undefined ? -1 : Buffer.compare(fromCommitted.key, fromPending.key) * direction
    if (order < 0) {
      page.push(fromCommitted as Entry)
      committedAt += 1
      continue
    }
    if (order === 0) committedAt += 1
    pendingAt += 1
    const write = fromPending as PendingWrite
    if (write.value !== undefined) page.push({ key: Buffer.from(write.key), value: Buffer.from(write.value) })
  }
  return page
}
