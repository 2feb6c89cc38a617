// Ingest: stream a body into the chunk store and return its chunk references.
//
// Contract: the body is chunked with the store's content-defined chunker (boundaries depend only
// on the bytes, so equal data dedups across objects and parts) and each chunk is put with at most
// objectLimits.ingestChunksInFlightMax puts in flight per body and the shared ByteBudget across
// bodies. Memory per body: one chunker carry buffer plus the chunks in flight. A body of at most
// limits.inlineMaxBytes is returned inline and never touches the chunk store.
// Resolves when every chunk is durable (put() resolved); the caller then references them in its
// commit transaction (within gcGraceMs/2, or any time later with options.hold). On any failure (abort, body error, size) it waits for
// the puts already started to settle and rethrows; their chunks are unreferenced and GC collects
// them after the grace period.
// Never: buffer a whole body; leave a put running after it returns or throws.
import { chunkStream, type ChunkHold, type PutOptions, type Tier } from '../chunk/index.ts'
import { limits, objectLimits, plainDomain, throwIfAborted, type ChunkId, type KeyDomainId } from '../lib/index.ts'
import type { ChunkReference } from '../model/index.ts'
import type { S3ErrorHint } from './api.ts'
import type { ObjectsContext } from './context.ts'
import { invalidArgument, ObjectsError } from './errors.ts'

export interface IngestOptions {
  tier: Tier
  /** The key domain chunks are sealed in (SSE-S3 / SSE-KMS: the bucket's; default plain). */
  domain?: KeyDomainId
  signal: AbortSignal
  /** The exact length the edge announced, when it knows it. */
  sizeBytes?: number
  sizeBytesMax: number
  /** The S3 code for a body past sizeBytesMax. */
  tooLargeHint: S3ErrorHint
  /** Return bodies of at most limits.inlineMaxBytes inline (default true; parts pass false). */
  inline?: boolean
  /** Holds the chunks from GC until the caller committed them (however slow the body is). */
  hold?: ChunkHold
}

export interface Ingested {
  sizeBytes: number
  /** Set for bodies of at most limits.inlineMaxBytes (chunks is then empty). */
  inline?: Buffer
  chunks: ChunkReference[]
}

function tooLarge(options: IngestOptions, sizeBytes: number): ObjectsError {
  return new ObjectsError('LIMIT_EXCEEDED', `Your proposed upload of ${sizeBytes} bytes exceeds the maximum allowed size (${options.sizeBytesMax})`, { hint: options.tooLargeHint })
}

function incomplete(expected: number, received: number): ObjectsError {
  return invalidArgument('IncompleteBody', `You did not provide the number of bytes specified by the Content-Length HTTP header (${received} of ${expected})`)
}

export async function ingest(context: ObjectsContext, body: AsyncIterable<Uint8Array>, options: IngestOptions): Promise<Ingested> {
  throwIfAborted(options.signal)
  if (options.sizeBytes !== undefined && options.sizeBytes > options.sizeBytesMax) throw tooLarge(options, options.sizeBytes)
  const result = options.sizeBytes !== undefined && options.sizeBytes <= context.chunkers.options.minBytes
    ? await ingestSmall(context, body, options, options.sizeBytes)
    : await ingestChunked(context, body, options)
  if (options.sizeBytes !== undefined && result.sizeBytes !== options.sizeBytes) throw incomplete(options.sizeBytes, result.sizeBytes)
  return result
}

/**
 * A body known to be at most the chunker's minimum is one chunk (the chunker would cut it the
 * same way): read it into one buffer of its exact size, no chunker needed.
 */
async function ingestSmall(context: ObjectsContext, body: AsyncIterable<Uint8Array>, options: IngestOptions, sizeBytes: number): Promise<Ingested> {
  const buffer = Buffer.allocUnsafe(sizeBytes)
  let received = 0
  for await (const piece of body) {
    throwIfAborted(options.signal)
    if (received + piece.length > sizeBytes) throw incomplete(sizeBytes, received + piece.length)
    buffer.set(piece, received)
    received += piece.length
  }
  throwIfAborted(options.signal)
  if (received !== sizeBytes) return { sizeBytes: received, chunks: [] }
  if (sizeBytes === 0) return { sizeBytes, chunks: [] }
  if (sizeBytes <= limits.inlineMaxBytes && options.inline !== false) return { sizeBytes, inline: buffer, chunks: [] }
  await context.budget.acquire(sizeBytes, options.signal)
  try {
    const put = await context.chunkStore.put(buffer, putOptions(options))
    return { sizeBytes, chunks: [{ id: put.id, sizeBytes }] }
  } finally {
    context.budget.release(sizeBytes)
  }
}

function putOptions(options: IngestOptions): PutOptions {
  return { tier: options.tier, domain: options.domain ?? plainDomain, signal: options.signal, ...(options.hold === undefined ? {} : { hold: options.hold }) }
}

interface InFlight {
  readonly sizeBytes: number
  readonly put: Promise<ChunkId>
}

async function ingestChunked(context: ObjectsContext, body: AsyncIterable<Uint8Array>, options: IngestOptions): Promise<Ingested> {
  const { budget, chunkStore, chunkers } = context
  const chunker = chunkers.take()
  const chunks: ChunkReference[] = []
  const window: InFlight[] = []
  let sizeBytes = 0
  let held: Buffer | undefined // a first chunk small enough to be inline, until we know it is the only one
  const start = async (chunk: Buffer): Promise<void> => {
    while (window.length >= objectLimits.ingestChunksInFlightMax) await settleOldest(window, chunks)
    await budget.acquire(chunk.length, options.signal)
    const put = chunkStore.put(chunk, putOptions(options)).then(
      (result) => result.id,
    ).finally(() => budget.release(chunk.length))
    // Awaited in order by settleOldest (or allSettled below): marking it handled keeps a
    // rejection that lands while we wait on the body from counting as unhandled.
    put.catch(() => undefined)
    window.push({ sizeBytes: chunk.length, put })
  }
  try {
    for await (const chunk of chunkStream(body, chunker, options.signal)) {
      sizeBytes += chunk.length
      if (sizeBytes > options.sizeBytesMax) throw tooLarge(options, sizeBytes)
      if (sizeBytes === chunk.length && chunk.length <= limits.inlineMaxBytes && options.inline !== false) {
        held = chunk
        continue
      }
      if (held !== undefined) {
        await start(held)
        held = undefined
      }
      await start(chunk)
    }
    if (held !== undefined) return { sizeBytes, inline: held, chunks: [] }
    while (window.length > 0) await settleOldest(window, chunks)
    return { sizeBytes, chunks }
  } finally {
    await Promise.allSettled(window.map((entry) => entry.put))
    chunkers.give(chunker)
  }
}

async function settleOldest(window: InFlight[], chunks: ChunkReference[]): Promise<void> {
  const oldest = window[0]
  if (oldest === undefined) return
  const id = await oldest.put
  window.shift()
  chunks.push({ id, sizeBytes: oldest.sizeBytes })
}
