// Fixed-size chunking for volume snapshot extents: chunk i is bytes [i*chunkBytes, (i+1)*chunkBytes)
// of the stream, the last one possibly shorter. Keeps the Chunker contract (chunker.ts): chunks are
// fresh buffers that never alias pushed data, boundaries ignore how the stream was split, and at
// most one chunk is held between pushes. Each byte is copied exactly once: into the chunk buffer
// (from the ChunkAllocator) that is then handed out; its size is known up front, unlike
// content-defined chunks. The short tail is copied once more, into a buffer of its own size.
import { assert, limits, StoreError } from '../lib/index.ts'
import { allocateFreshChunk, type ChunkAllocator, type Chunker } from './chunker.ts'

export class FixedChunker implements Chunker {
  readonly chunkBytes: number
  /** The chunk being filled; allocated on first need, handed out when full. */
  #current: Buffer | undefined
  #filledBytes = 0
  readonly #allocate: ChunkAllocator

  /** Throws StoreError('INVALID_ARGUMENT') unless 1 <= chunkBytes <= limits.chunkMaxBytes. */
  constructor(chunkBytes: number = limits.fixedChunkBytesDefault, allocate: ChunkAllocator = allocateFreshChunk) {
    if (!Number.isSafeInteger(chunkBytes) || chunkBytes < 1 || chunkBytes > limits.chunkMaxBytes) {
      throw new StoreError(
        'INVALID_ARGUMENT',
        `invalid fixed chunk size ${chunkBytes}: must be an integer from 1 to ${limits.chunkMaxBytes} bytes`,
      )
    }
    this.chunkBytes = chunkBytes
    this.#allocate = allocate
  }

  push(data: Uint8Array): Buffer[] {
    const chunks: Buffer[] = []
    let offset = 0
    while (offset < data.length) {
      this.#current ??= this.#allocateChunk(this.chunkBytes)
      const copyBytes = Math.min(this.chunkBytes - this.#filledBytes, data.length - offset)
      this.#current.set(data.subarray(offset, offset + copyBytes), this.#filledBytes)
      this.#filledBytes += copyBytes
      offset += copyBytes
      if (this.#filledBytes === this.chunkBytes) {
        chunks.push(this.#current)
        this.#current = undefined
        this.#filledBytes = 0
      }
    }
    return chunks
  }

  finish(): Buffer[] {
    const filledBytes = this.#filledBytes
    const current = this.#current
    this.#current = undefined
    this.#filledBytes = 0
    if (filledBytes === 0) return []
    assert(current !== undefined && filledBytes < this.chunkBytes, 'a partial chunk is being filled')
    // Copy the short tail so the caller does not hold a whole chunkBytes allocation for it.
    const tail = this.#allocateChunk(filledBytes)
    tail.set(current.subarray(0, filledBytes))
    return [tail]
  }

  #allocateChunk(sizeBytes: number): Buffer {
    const chunk = this.#allocate(sizeBytes)
    assert(chunk.length === sizeBytes, 'the chunk allocator returns exactly the size asked for')
    return chunk
  }
}
