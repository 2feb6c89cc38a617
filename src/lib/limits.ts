// Every limit lives here, with the relationships between limits asserted at load time.
// Names carry units last. Change a number here, never a literal deep in a module.
import { assert } from './assert.ts'
import { KiB, MiB, GiB } from './bytes.ts'

export const limits = {
  // Content-defined chunking (FastCDC) defaults; configurable per store within the bounds below.
  cdcMinBytesDefault: 256 * KiB,
  cdcAverageBytesDefault: 1 * MiB,
  cdcMaxBytesDefault: 4 * MiB,
  cdcMinBytesFloor: 64,
  /** No chunk, of any chunker, is larger than this: frames and read buffers are sized by it. */
  chunkMaxBytes: 4 * MiB,
  /** Fixed-size extents for volume snapshots. */
  fixedChunkBytesDefault: 128 * KiB,
  /** Objects smaller than this are stored inline in their metadata record. */
  inlineMaxBytes: 4 * KiB,

  // Packs.
  packTargetBytes: 64 * MiB,
  packMaxBytes: 128 * MiB,
  /** Group commit: at most this many bytes / frames are written by one fsync. */
  groupCommitMaxBytes: 32 * MiB,
  groupCommitMaxFrames: 4096,
  /** Writers waiting for a group commit; more wait for room (backpressure, not unbounded memory). */
  writeQueueMaxBytes: 256 * MiB,
  /** Open pack read handles kept in the LRU cache. */
  packReadHandlesMax: 256,
  /** A sealed pack whose live fraction falls below this is compacted. */
  compactLiveFractionMax: 0.5,

  // Garbage collection.
  gcGraceMsDefault: 60 * 60 * 1000,
  gcBatchChunksMax: 1024,

  // Metadata.
  metaScanPageMax: 10_000,
  metaTransactionRetriesMax: 16,
  metaValueBytesMax: 16 * MiB,

  // Keys.
  masterKeyBytes: 32,
  dataKeyBytes: 32,

  // Concurrency.
  scrubConcurrencyMax: 4,
  maxPlausibleStoreBytes: 1024 * 1024 * GiB,
} as const

assert(limits.cdcMinBytesDefault < limits.cdcAverageBytesDefault, 'cdc min < average')
assert(limits.cdcAverageBytesDefault < limits.cdcMaxBytesDefault, 'cdc average < max')
assert(limits.cdcMaxBytesDefault <= limits.chunkMaxBytes, 'cdc max fits a chunk')
assert(limits.fixedChunkBytesDefault <= limits.chunkMaxBytes, 'fixed extents fit a chunk')
assert(limits.inlineMaxBytes < limits.cdcMinBytesDefault, 'inline objects are smaller than a chunk')
assert(limits.chunkMaxBytes * 4 <= limits.packTargetBytes, 'a pack holds several max-size chunks')
assert(limits.packTargetBytes + limits.groupCommitMaxBytes <= limits.packMaxBytes, 'a group fits past the target')
assert(limits.groupCommitMaxBytes >= limits.chunkMaxBytes * 2, 'a group holds at least two max chunks')
assert(limits.writeQueueMaxBytes >= limits.groupCommitMaxBytes, 'the queue holds at least one group')

// S3 request edge: SigV4 authentication and aws-chunked bodies (src/s3/auth, src/s3/chunked).
export const s3RequestLimits = {
  /** Header-signed requests may differ from our clock by at most this much (AWS: 15 minutes). */
  sigV4ClockSkewMaxMs: 15 * 60 * 1000,
  /** Longest presigned-URL lifetime, X-Amz-Expires (AWS: 7 days). */
  presignedExpiresMaxSeconds: 7 * 24 * 60 * 60,
  /** An Authorization header longer than this is malformed (a real one is ~200-2000 bytes). */
  authorizationMaxBytes: 8 * KiB,
  /** Derived SigV4 signing keys kept per (access key, scope); one key serves a day. */
  signingKeyCacheEntriesMax: 1024,
  /** Largest signed aws-chunked chunk: one is held until its signature checks (unsigned ones stream). */
  awsChunkMaxBytes: 4 * MiB,
  /** A chunk-size line or trailer line longer than this is malformed (real ones are < 100 bytes). */
  awsChunkLineMaxBytes: 1 * KiB,
  /** Trailing header lines after the final chunk (checksum + signature in practice). */
  awsChunkTrailersMax: 16,
} as const

// Signed chunks come from the Java SDKs and minio-go at 64-128 KiB; allow far more than any SDK.
assert(s3RequestLimits.awsChunkMaxBytes >= 1 * MiB, 'every SDK signed chunk fits')
// 64 concurrent uploads (the memory target) each holding one chunk hold at most the write queue.
assert(s3RequestLimits.awsChunkMaxBytes * 64 <= limits.writeQueueMaxBytes, 'held chunks stay bounded')
assert(s3RequestLimits.presignedExpiresMaxSeconds * 1000 > s3RequestLimits.sigV4ClockSkewMaxMs, 'expiry outlasts skew')
assert(s3RequestLimits.awsChunkLineMaxBytes >= 128, 'a signed chunk-size line (~90 bytes) fits')
