// Chunkers split a byte stream into chunks, incrementally. The contract every chunker keeps:
// - push() returns the chunks completed by this piece, finish() returns the tail (if any) and
//   resets the chunker so it can serve the next stream;
// - the concatenation of all returned chunks equals the concatenation of all pushed bytes;
// - boundaries depend only on the bytes, never on how they were split into pushes;
// - returned chunks are buffers owned by the caller, from the chunker's ChunkAllocator (fresh
//   by default): they never alias a pushed buffer (callers may reuse those) nor the chunker's
//   own carry buffer;
// - memory held between pushes is bounded by the largest chunk; a chunker never buffers a whole
//   stream.
// A chunker serves one stream at a time and is not safe to share between concurrent streams.
import { throwIfAborted } from '../lib/index.ts'

/**
 * Returns a buffer of exactly sizeBytes for the chunker to copy one chunk into; the chunk is then
 * the caller's. A store may pass a recycling allocator (a fresh 1 MiB allocation costs ~5x the
 * copy into it, measured in bench/primitives.ts); it must not recycle a buffer while the chunk in
 * it is still in use.
 */
export type ChunkAllocator = (sizeBytes: number) => Buffer

export const allocateFreshChunk: ChunkAllocator = (sizeBytes) => Buffer.allocUnsafe(sizeBytes)

export interface Chunker {
  /** Feed the next piece of the stream; returns the chunks it completed (often none). */
  push(data: Uint8Array): Buffer[]
  /** End of stream: returns the last, possibly short, chunk (none for an empty tail) and resets. */
  finish(): Buffer[]
}

/**
 * Chunk an async byte source. Memory stays bounded by one source piece plus one chunk carried
 * over; the consumer's pace is the source's pace (nothing is read ahead). Throws
 * StoreError('ABORTED') between pieces and chunks when the signal fires.
 */
export async function* chunkStream(
  source: AsyncIterable<Uint8Array>,
  chunker: Chunker,
  signal?: AbortSignal,
): AsyncGenerator<Buffer> {
  throwIfAborted(signal)
  for await (const piece of source) {
    throwIfAborted(signal)
    for (const chunk of chunker.push(piece)) {
      yield chunk
      throwIfAborted(signal)
    }
  }
  throwIfAborted(signal)
  for (const chunk of chunker.finish()) yield chunk
}
