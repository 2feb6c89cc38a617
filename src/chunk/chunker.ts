// Chunkers split a byte stream into chunks, incrementally. The contract every chunker keeps:
// - push() returns the chunks completed by this piece, finish() returns the tail (if any) and
//   resets the chunker so it can serve the next stream;
// - the concatenation of all returned chunks equals the concatenation of all pushed bytes;
// - boundaries depend only on the bytes, never on how they were split into pushes;
// - returned chunks are fresh buffers owned by the caller: they never alias a pushed buffer
//   (callers may reuse those) nor the chunker's own carry buffer;
// - memory held between pushes is bounded by the largest chunk; a chunker never buffers a whole
//   stream.
// A chunker serves one stream at a time and is not safe to share between concurrent streams.
import { throwIfAborted } from '../lib/index.ts'

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
