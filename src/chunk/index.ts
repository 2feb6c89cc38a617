// The chunk layer's public API: the chunk store, chunkers, ids and the key ring.
export {
  ChunkStore,
  type ChunkLocation,
  type ChunkStoreOptions,
  type ChunkStoreStats,
  type PutOptions,
  type PutResult,
} from './store.ts'
export type { ChunkKeySource, Logger } from './store-context.ts'
export type { CompactReport, MoveReport } from './compact.ts'
export type { GcReport } from './gc.ts'
export type { ChunkHold } from './hold.ts'
export type { RebuildReport, RecoveredPack, RecoveryReport } from './recovery.ts'
export type { ScrubCorruption, ScrubOptions, ScrubProgress, ScrubReport } from './scrub.ts'
export { tiers, type Tier } from './location.ts'
export { createChunkHasher, defaultHashAlgorithm, hashAlgorithmCodes, hashAlgorithmFromCode, type ChunkHasher, type HashAlgorithm } from './hash.ts'
export { allocateFreshChunk, chunkStream, type ChunkAllocator, type Chunker } from './chunker.ts'
export { ContentDefinedChunker, contentDefinedChunkerDefaults, type ContentDefinedChunkerOptions } from './fastcdc.ts'
export { FixedChunker } from './fixed.ts'
export { KeyRing, type KeyDomainInfo, type KeyRingOptions, type MasterKeyStatus, type RotateOptions } from './keyring.ts'
