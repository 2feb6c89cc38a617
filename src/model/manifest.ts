// Chunk tables (docs/format/objects.md 4.1) and segment records (4): which chunks make up an
// object or part, in order. A chunk table is n x (32-byte chunk id, u32 LE plain length).
// Invariants: every length is 1..limits.chunkMaxBytes; a table's size is the sum of its lengths.
// Never: decode a table whose byte length is not a multiple of 36 (corrupt, not truncated data).
import { assert, chunkIdBytes, chunkIdFrom, chunkReferenceBytes, limits, type ChunkId } from '../lib/index.ts'
import { encodeRecord, recordBody } from '../meta/index.ts'
import { corruptRecord } from './shape.ts'

export interface ChunkReference {
  readonly id: ChunkId
  readonly sizeBytes: number
}

const segmentRecordVersion = 1

export function encodeChunkTable(chunks: readonly ChunkReference[]): Buffer {
  const out = Buffer.allocUnsafe(chunks.length * chunkReferenceBytes)
  chunks.forEach((chunk, index) => {
    assert(chunk.id.length === chunkIdBytes, 'chunk ids are 32 bytes')
    assert(Number.isInteger(chunk.sizeBytes) && chunk.sizeBytes > 0 && chunk.sizeBytes <= limits.chunkMaxBytes, 'chunk lengths fit a chunk')
    const at = index * chunkReferenceBytes
    chunk.id.copy(out, at)
    out.writeUInt32LE(chunk.sizeBytes, at + chunkIdBytes)
  })
  return out
}

export function decodeChunkTable(bytes: Buffer, what: string): ChunkReference[] {
  if (bytes.length % chunkReferenceBytes !== 0) throw corruptRecord(what, `chunk table of ${bytes.length} bytes is not a multiple of ${chunkReferenceBytes}`)
  const chunks: ChunkReference[] = []
  for (let at = 0; at < bytes.length; at += chunkReferenceBytes) {
    // Copy the id: callers keep references past the record buffer's life.
    const id = chunkIdFrom(Buffer.from(bytes.subarray(at, at + chunkIdBytes)))
    const sizeBytes = bytes.readUInt32LE(at + chunkIdBytes)
    if (sizeBytes === 0 || sizeBytes > limits.chunkMaxBytes) throw corruptRecord(what, `chunk length ${sizeBytes} is out of range`)
    chunks.push({ id, sizeBytes })
  }
  return chunks
}

export function chunkTableSizeBytes(chunks: readonly ChunkReference[]): number {
  let total = 0
  for (const chunk of chunks) total += chunk.sizeBytes
  return total
}

export function encodeSegment(chunks: readonly ChunkReference[]): Buffer {
  return encodeRecord(segmentRecordVersion, encodeChunkTable(chunks))
}

export function decodeSegment(bytes: Uint8Array, what: string): ChunkReference[] {
  const { body } = recordBody(bytes, [segmentRecordVersion], what)
  return decodeChunkTable(body, what)
}
