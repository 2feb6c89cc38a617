// Chunk reference counts and the GC queue (docs/format/pack.md 2.5-2.7).
//
// Contract: refcounts move inside the CALLER's transaction, so the record that gains or drops
// a reference commits together with the count. addRefs takes a chunk 0 -> n and removes its GC
// entry; dropRefs takes it n -> 0 and enqueues it at the current time. Duplicate ids in one
// call count once per occurrence.
// Invariants (kept by every function here and by the pack writer's commit):
// - every located chunk has a refcount record;
// - count == 0 exactly when the GC entry ('chunk','gc',zeroSinceMs,id) exists.
// Never: let a count go below zero (a caller dropping a reference it never added is a bug);
// add a reference to a chunk without a location (CHUNK_MISSING: the data is not there).
import { assert, chunkIdFrom, chunkIdHex, StoreError, type ChunkId } from '../lib/index.ts'
import { decodeKey, key, prefixRange, recordBody, type ReadTx, type WriteTx } from '../meta/index.ts'
import { gcKey, locationKey } from './location.ts'

const recordVersion = 1

export const refKey = (id: ChunkId): Buffer => key('chunk', 'ref', id)
export const refRange = prefixRange('chunk', 'ref')

export function idOfRefKey(encoded: Buffer): ChunkId {
  const id = decodeKey(encoded)[2]
  if (!(id instanceof Uint8Array)) throw new TypeError('refcount keys are (chunk, ref, id)')
  return chunkIdFrom(id)
}

export interface RefRecord {
  count: number
  /** When the count became 0 (the GC entry's time); 0 while count > 0. */
  zeroSinceMs: number
}

export function encodeRef(record: RefRecord): Buffer {
  assert(Number.isSafeInteger(record.count) && record.count >= 0, 'refcounts are non-negative integers')
  assert(record.count === 0 || record.zeroSinceMs === 0, 'only zero counts carry a zero-since time')
  const out = Buffer.alloc(17)
  out[0] = recordVersion
  out.writeBigUInt64LE(BigInt(record.count), 1)
  out.writeBigUInt64LE(BigInt(record.zeroSinceMs), 9)
  return out
}

export function decodeRef(bytes: Uint8Array, id: ChunkId): RefRecord {
  const what = `('chunk','ref',${chunkIdHex(id)})`
  const { body } = recordBody(bytes, [recordVersion], what)
  const count = body.length === 16 ? body.readBigUInt64LE(0) : undefined
  const zeroSinceMs = body.length === 16 ? body.readBigUInt64LE(8) : undefined
  const max = BigInt(Number.MAX_SAFE_INTEGER)
  if (count === undefined || zeroSinceMs === undefined || count > max || zeroSinceMs > max) {
    throw new StoreError('IO_ERROR', `metadata record ${what} is corrupt: bad length or field`)
  }
  return { count: Number(count), zeroSinceMs: Number(zeroSinceMs) }
}

/** Count occurrences of each id (by hex), keeping one id object per distinct id. */
function tally(ids: readonly ChunkId[]): Map<string, { id: ChunkId; times: number }> {
  const counts = new Map<string, { id: ChunkId; times: number }>()
  for (const id of ids) {
    const hex = chunkIdHex(id)
    const entry = counts.get(hex)
    if (entry) entry.times += 1
    else counts.set(hex, { id, times: 1 })
  }
  return counts
}

/** Add one reference per occurrence of each id; CHUNK_MISSING when a chunk has no location. */
export async function addRefs(tx: WriteTx, ids: readonly ChunkId[]): Promise<void> {
  const counts = [...tally(ids).values()]
  if (counts.length === 0) return
  const locations = await tx.getMany(counts.map(({ id }) => locationKey(id)))
  const refs = await tx.getMany(counts.map(({ id }) => refKey(id)))
  counts.forEach(({ id, times }, at) => {
    if (locations[at] === undefined) {
      throw new StoreError('CHUNK_MISSING', `chunk ${chunkIdHex(id)} has no location: it was never stored, was collected, or was lost`)
    }
    const stored = refs[at]
    const ref = stored === undefined ? undefined : decodeRef(stored, id)
    if (ref !== undefined && ref.count === 0) tx.delete(gcKey(ref.zeroSinceMs, id))
    tx.put(refKey(id), encodeRef({ count: (ref?.count ?? 0) + times, zeroSinceMs: 0 }))
  })
}

/** Drop one reference per occurrence of each id; a chunk reaching 0 joins the GC queue at nowMs. */
export async function dropRefs(tx: WriteTx, ids: readonly ChunkId[], nowMs: number): Promise<void> {
  const counts = [...tally(ids).values()]
  if (counts.length === 0) return
  const refs = await tx.getMany(counts.map(({ id }) => refKey(id)))
  counts.forEach(({ id, times }, at) => {
    const stored = refs[at]
    const count = stored === undefined ? 0 : decodeRef(stored, id).count
    assert(count >= times, `dropRefs: chunk ${chunkIdHex(id)} has ${count} references, cannot drop ${times}`)
    const left = count - times
    if (left > 0) {
      tx.put(refKey(id), encodeRef({ count: left, zeroSinceMs: 0 }))
      return
    }
    tx.put(refKey(id), encodeRef({ count: 0, zeroSinceMs: nowMs }))
    tx.put(gcKey(nowMs, id), Buffer.alloc(0))
  })
}

export async function refCount(tx: ReadTx, id: ChunkId): Promise<number> {
  const stored = await tx.get(refKey(id))
  return stored === undefined ? 0 : decodeRef(stored, id).count
}

/**
 * (Re)start the GC grace period of a zero-ref chunk at nowMs: used when a chunk is newly located
 * and when a put() deduplicates against a zero-ref chunk. A chunk with references is untouched.
 * Returns the record as it is now.
 */
export function armGc(tx: WriteTx, id: ChunkId, ref: RefRecord | undefined, nowMs: number): RefRecord {
  if (ref !== undefined && ref.count > 0) return ref
  if (ref !== undefined) tx.delete(gcKey(ref.zeroSinceMs, id))
  const armed = { count: 0, zeroSinceMs: nowMs }
  tx.put(refKey(id), encodeRef(armed))
  tx.put(gcKey(nowMs, id), Buffer.alloc(0))
  return armed
}
