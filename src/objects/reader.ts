// Reading a version's bytes: a body that streams verified chunks in order, one at a time, with
// at most objectLimits.readAheadChunksMax reads ahead of the consumer, slicing the first and last
// chunk to the requested range. Segment records (large and multipart objects) are loaded one at a
// time as the stream reaches them, so memory never holds a whole manifest.
// Never: return bytes the chunk store did not verify; leave a read running after the consumer
// stopped (return() or an error waits for the reads in flight).
import type { ChunkStore } from '../chunk/index.ts'
import { chunkIdHex, objectLimits, StoreError, throwIfAborted } from '../lib/index.ts'
import type { MetaStore } from '../meta/index.ts'
import { decodeSegment, segmentKey, type ChunkReference, type VersionRecord } from '../model/index.ts'
import type { ResolvedRange } from './conditions.ts'

export interface Piece {
  readonly chunk: ChunkReference
  /** Offsets inside the chunk: [begin, end). */
  readonly begin: number
  readonly end: number
}

/** The chunks of a table that overlap [first, last], given the table's offset in the object. */
function* piecesOf(chunks: readonly ChunkReference[], tableOffset: number, first: number, last: number): Generator<Piece> {
  let offset = tableOffset
  for (const chunk of chunks) {
    const chunkEnd = offset + chunk.sizeBytes // exclusive
    if (chunkEnd > first && offset <= last) {
      yield { chunk, begin: Math.max(0, first - offset), end: Math.min(chunk.sizeBytes, last + 1 - offset) }
    }
    offset = chunkEnd
    if (offset > last) return
  }
}

async function loadSegment(meta: MetaStore, manifestId: string, index: number): Promise<ChunkReference[]> {
  const stored = await meta.read((tx) => tx.get(segmentKey(manifestId, index)))
  const what = `('s3','seg',${manifestId},${index})`
  // The version was deleted while this body streamed: its segments went with it.
  if (stored === undefined) throw new StoreError('NOT_FOUND', `segment ${what} is gone: the version was deleted during the read`, { subject: 'key' })
  return decodeSegment(stored, what)
}

/** Every piece of the version in [first, last], loading segments lazily. */
export async function* piecesOfVersion(meta: MetaStore, record: VersionRecord, range: ResolvedRange): AsyncGenerator<Piece> {
  const data = record.data
  if (data.kind === 'chunks') {
    yield* piecesOf(data.chunks, 0, range.first, range.last)
    return
  }
  if (data.kind !== 'segments') return
  let offset = 0
  for (const segment of data.segments) {
    const segmentEnd = offset + segment.sizeBytes
    if (segmentEnd > range.first && offset <= range.last) {
      yield* piecesOf(await loadSegment(meta, data.manifestId, segment.index), offset, range.first, range.last)
    }
    offset = segmentEnd
    if (offset > range.last) return
  }
}

/** The bytes [first, last] of a version (whole object when range is undefined). */
export function readVersion(
  stores: { meta: MetaStore; chunkStore: ChunkStore },
  record: VersionRecord,
  range: ResolvedRange | undefined,
  signal: AbortSignal,
): AsyncIterable<Buffer> {
  const resolved = range ?? { first: 0, last: record.sizeBytes - 1 }
  if (record.data.kind === 'inline') return new WholeBody(record.data.bytes.subarray(resolved.first, resolved.last + 1), signal)
  if (record.sizeBytes === 0 || record.data.kind === 'none') return new WholeBody(Buffer.alloc(0), signal)
  return chunkBody(stores, piecesOfVersion(stores.meta, record, resolved), signal)
}

/**
 * A body already whole in memory (inline objects, empty bodies): iterable like any body, and an
 * edge that recognises it can send the bytes in one write with the headers instead of streaming.
 */
export class WholeBody implements AsyncIterable<Buffer> {
  readonly bytes: Buffer
  readonly #signal: AbortSignal
  constructor(bytes: Buffer, signal: AbortSignal) {
    this.bytes = bytes
    this.#signal = signal
  }
  async *[Symbol.asyncIterator](): AsyncGenerator<Buffer> {
    throwIfAborted(this.#signal)
    if (this.bytes.length > 0) yield this.bytes
  }
}

async function readPiece(chunkStore: ChunkStore, piece: Piece, signal: AbortSignal): Promise<Buffer> {
  const plain = await chunkStore.get(piece.chunk.id, { signal })
  if (plain.length !== piece.chunk.sizeBytes) {
    throw new StoreError('CHUNK_CORRUPT', `chunk ${chunkIdHex(piece.chunk.id)} has ${plain.length} bytes, its manifest says ${piece.chunk.sizeBytes}`)
  }
  return piece.begin === 0 && piece.end === plain.length ? plain : plain.subarray(piece.begin, piece.end)
}

async function* chunkBody(stores: { chunkStore: ChunkStore }, pieces: AsyncGenerator<Piece>, signal: AbortSignal): AsyncGenerator<Buffer> {
  const ahead: Array<Promise<Buffer>> = []
  let exhausted = false
  try {
    for (;;) {
      while (!exhausted && ahead.length < objectLimits.readAheadChunksMax) {
        const next = await pieces.next()
        if (next.done === true) {
          exhausted = true
          break
        }
        const read = readPiece(stores.chunkStore, next.value, signal)
        read.catch(() => undefined) // awaited in order below; handled here so an early rejection is not "unhandled"
        ahead.push(read)
      }
      const head = ahead.shift()
      if (head === undefined) return
      const bytes = await head
      throwIfAborted(signal)
      yield bytes
    }
  } finally {
    await Promise.allSettled(ahead)
    await pieces.return(undefined)
  }
}
