// Test support for the objects layer's tests: an objects layer over a MemoryMetaStore (or the
// given meta) and a real ChunkStore in a temp dir, with a manual clock and seeded random, plus
// body helpers. Not used by production code.
import { createHash } from 'node:crypto'
import { seededRandom, testStoreSetup, type TestStoreSetup } from '../chunk/store-testing.ts'
import type { ChunkStore, ContentDefinedChunkerOptions } from '../chunk/index.ts'
import { prefixRange, scanAll, type MetaStore } from '../meta/index.ts'
import type { BodyDigests, Principal } from './api.ts'
import { openObjects, type ObjectsLayer } from './service.ts'
import { rootPrincipal } from './users.ts'

export interface ObjectsTestSetup {
  objects: ObjectsLayer
  chunkStore: ChunkStore
  store: TestStoreSetup
  root: Principal
  signal: AbortSignal
  cleanup(): Promise<void>
}

export async function objectsTestSetup(options: { meta?: MetaStore; seed?: number; ingestBytesInFlightMax?: number; chunking?: ContentDefinedChunkerOptions } = {}): Promise<ObjectsTestSetup> {
  const store = await testStoreSetup(options.meta === undefined ? {} : { meta: options.meta }, options.seed ?? 1)
  const chunkStore = await store.open()
  const objects = await openObjects({
    meta: store.meta,
    chunkStore,
    clock: store.clock,
    random: seededRandom((options.seed ?? 1) + 1000),
    rootCredentials: { accessKeyId: 'ROOTKEY', secretKey: 'root-secret' },
    ...(options.ingestBytesInFlightMax === undefined ? {} : { ingestBytesInFlightMax: options.ingestBytesInFlightMax }),
    ...(options.chunking === undefined ? {} : { chunking: options.chunking }),
  })
  return {
    objects,
    chunkStore,
    store,
    root: rootPrincipal('ROOTKEY'),
    signal: new AbortController().signal,
    async cleanup() {
      await objects.close()
      await chunkStore.close()
      await store.meta.close()
      await store.cleanup()
    },
  }
}

/** A body that yields bytes in pieces of pieceBytes. */
export async function* bodyOf(bytes: Uint8Array, pieceBytes = 64 * 1024): AsyncGenerator<Uint8Array> {
  for (let at = 0; at < bytes.length; at += pieceBytes) yield bytes.subarray(at, Math.min(bytes.length, at + pieceBytes))
}

export function md5Hex(bytes: Uint8Array): string {
  return createHash('md5').update(bytes).digest('hex')
}

/** digests() as the edge would give it for these bytes. */
export function digestsFor(bytes: Uint8Array): () => Promise<BodyDigests> {
  return async () => ({ md5Hex: md5Hex(bytes) })
}

export async function collect(body: AsyncIterable<Uint8Array> | undefined): Promise<Buffer> {
  const pieces: Buffer[] = []
  if (body !== undefined) for await (const piece of body) pieces.push(Buffer.from(piece))
  return Buffer.concat(pieces)
}

/** Deterministic pseudo-random bytes (incompressible, so chunks are stored as they are). */
export function randomBytesFrom(seed: number, sizeBytes: number): Buffer {
  return seededRandom(seed).bytes(sizeBytes)
}

/** Chunks with a reference count above zero. */
export async function referencedChunks(meta: MetaStore): Promise<number> {
  return meta.read(async (tx) => {
    let count = 0
    for await (const entry of scanAll(tx, prefixRange('chunk', 'ref'))) if (entry.value.readBigUInt64LE(1) > 0n) count += 1
    return count
  })
}

/** How many records a key space holds, e.g. keysIn(meta, 'chunk', 'loc') or keysIn(meta, 's3'). */
export async function keysIn(meta: MetaStore, ...parts: string[]): Promise<number> {
  return meta.read(async (tx) => {
    let count = 0
    for await (const _ of scanAll(tx, prefixRange(...parts))) count += 1
    return count
  })
}
