// Every limit lives here, with the relationships between limits asserted at load time.
// Names carry units last. Change a number here, never a literal deep in a module.
import { assert } from './assert.ts'
import { KiB, MiB, GiB, TiB } from './bytes.ts'

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

// Objects layer (src/objects): S3 semantics. AWS's published limits where S3 has one.
export const objectLimits = {
  bucketNameCharsMin: 3,
  bucketNameCharsMax: 63,
  /** Object keys are 1..1024 bytes of UTF-8 (KeyTooLongError past it). */
  objectKeyBytesMax: 1024,
  /** User metadata (x-amz-meta-*): keys plus values, UTF-8 bytes (MetadataTooLarge past it). */
  userMetadataBytesMax: 2 * KiB,
  objectTagsMax: 10,
  bucketTagsMax: 50,
  tagKeyCharsMax: 128,
  tagValueCharsMax: 256,
  /** One PutObject body, one CopyObject source, one part. */
  putObjectBytesMax: 5 * GiB,
  copyObjectBytesMax: 5 * GiB,
  partBytesMax: 5 * GiB,
  /** Every part of a completed upload but the last is at least this large (EntityTooSmall). */
  partBytesMin: 5 * MiB,
  partNumberMax: 10_000,
  objectBytesMax: 5 * TiB,
  /** ListObjects / ListObjectVersions / ListMultipartUploads / ListParts page size. */
  listPageMax: 1000,
  /** IAM-style user names. */
  userNameCharsMax: 64,
  /** Chunk puts one upload keeps in flight: deeper windows fill each group commit (fsync) better. */
  ingestChunksInFlightMax: 8,
  /**
   * Chunk bytes in flight to the chunk store across all uploads of one service (backpressure).
   * A put holds its chunk and its encoded frame (~2x) until it resolves, and each upload also
   * holds a chunker carry (<= cdcMaxBytes, ~2 MiB in practice). 32 MiB still lets one upload fill
   * its window (asserted below); measured with 64 concurrent 128 MiB uploads (bench/s3-memory):
   * peak RSS 529 MiB at 32 MiB against 608 MiB at 64 MiB, at no loss of throughput (84 vs 65 MB/s).
   */
  ingestBytesInFlightMax: 32 * MiB,
  /** Chunk reads a GET body runs ahead of its consumer. */
  readAheadChunksMax: 2,
  /** A version record embeds at most this many chunk references; larger objects use segments. */
  manifestEmbeddedChunksMax: 256,
  /** Chunk references per segment record of a single-PUT object. */
  manifestSegmentChunksMax: 1024,
  /** Idle content-defined chunkers kept for reuse (each holds a carry buffer of up to cdcMaxBytes). */
  idleChunkersMax: 8,
} as const

/** Bytes per chunk reference in a manifest (docs/format/objects.md): 32-byte id + u32 length. */
export const chunkReferenceBytes = 36
// A part's chunk table (one segment record) fits a metadata value even at the smallest chunks.
assert((objectLimits.partBytesMax / limits.cdcMinBytesDefault) * chunkReferenceBytes + 4 * KiB <= limits.metaValueBytesMax, 'a part manifest fits a value')
assert(objectLimits.manifestSegmentChunksMax * chunkReferenceBytes < limits.metaValueBytesMax, 'a segment fits a value')
assert(objectLimits.manifestEmbeddedChunksMax <= objectLimits.manifestSegmentChunksMax, 'embedded manifests are small')
assert(objectLimits.partNumberMax * objectLimits.partBytesMax >= objectLimits.objectBytesMax, 'parts can make the largest object')
assert(objectLimits.partBytesMin <= objectLimits.partBytesMax, 'part size bounds are ordered')
assert(limits.inlineMaxBytes + objectLimits.userMetadataBytesMax + 64 * KiB < limits.metaValueBytesMax, 'an inline version record fits a value')
// A chunk put holds its buffer until it resolves; the budget admits every in-flight chunk of several uploads.
assert(objectLimits.ingestBytesInFlightMax >= objectLimits.ingestChunksInFlightMax * limits.chunkMaxBytes, 'one upload can fill its window')
assert(objectLimits.ingestBytesInFlightMax <= limits.writeQueueMaxBytes, 'ingest stays inside the chunk write queue')

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

// NBD server edge (src/nbd). Per connection unless the name says otherwise.
export const nbdLimits = {
  /**
   * Largest READ/WRITE/CACHE/WRITE_ZEROES request (the advertised maximum block size is the
   * smaller of this and the export's). The spec asks servers to take 32 MiB from any client.
   */
  requestMaxBytes: 32 * MiB,
  /** Requests being served per connection; past this the server stops reading the socket. */
  inFlightRequestsMax: 128,
  /** Payload bytes held per connection (write payloads received + read replies not yet sent). */
  inFlightBytesMax: 96 * MiB,
  /** Bytes read ahead of the parser before the socket is paused (TCP pushes back on the client). */
  receiveAheadBytes: 256 * KiB,
  /** The whole handshake (greeting to GO / EXPORT_NAME) must finish within this. */
  handshakeTimeoutMs: 10_000,
  /** Option data longer than this ends the session (NBD strings are at most 4096 bytes). */
  optionDataMaxBytes: 64 * KiB,
  /** NBD strings (export names, descriptions, messages) are at most this long (spec: MUST). */
  stringMaxBytes: 4096,
  /** Block status descriptors in one reply; the spec lets a server return fewer than asked. */
  blockStatusExtentsMax: 4096,
  /** Reads at least this long ask block status first, so holes travel as OFFSET_HOLE chunks. */
  readHoleProbeMinBytes: 64 * KiB,
  /** Open connections across all NBD listeners; more are closed at once. */
  connectionsMax: 1024,
  /** At close(), in-flight requests get this long to finish before they are aborted. */
  closeGraceMs: 5_000,
  /** Free payload buffers kept for reuse, across all connections (src/nbd/buffer-pool.ts). */
  bufferPoolRetainBytesMax: 64 * MiB,
} as const

// The spec: maximum block size SHOULD be at least 1 MiB; a structured OFFSET_DATA chunk carries
// at most 2^32 - 1 - 8 bytes, so one read is one chunk.
assert(nbdLimits.requestMaxBytes >= 1 * MiB, 'NBD maximum block size is at least 1 MiB')
assert(nbdLimits.requestMaxBytes <= 2 ** 32 - 1 - 8, 'one read fits one OFFSET_DATA chunk')
// A connection can always hold one maximum request plus the reply of another (no deadlock).
assert(nbdLimits.inFlightBytesMax >= 2 * nbdLimits.requestMaxBytes, 'two max requests fit in flight')
assert(nbdLimits.optionDataMaxBytes >= 2 * nbdLimits.stringMaxBytes + 16, 'an option with two strings fits')
assert(nbdLimits.stringMaxBytes <= 4096, 'NBD strings MUST be at most 4096 bytes (spec)')
assert(nbdLimits.readHoleProbeMinBytes <= nbdLimits.requestMaxBytes, 'hole probing can happen')
assert(nbdLimits.blockStatusExtentsMax >= 1, 'block status returns at least one extent')
// The pool keeps at least one maximum-size request's buffer (the largest size class in use).
assert(nbdLimits.bufferPoolRetainBytesMax >= nbdLimits.requestMaxBytes, 'the buffer pool can keep a maximum-size buffer')

// NFS edge: ONC RPC over TCP and NFSv4 COMPOUND (src/nfs).
export const nfsLimits = {
  /** Largest READ/WRITE payload we advertise (maxread/maxwrite, session sizes). */
  ioMaxBytes: 1 * MiB,
  /** Largest RPC record (all fragments together) we accept; a longer one closes the connection. */
  rpcRecordMaxBytes: 1 * MiB + 64 * KiB,
  /** Requests of one connection decoded and running at once; more wait (the socket is paused). */
  rpcInFlightPerConnectionMax: 64,
  /** Open TCP connections; more are refused at accept. */
  rpcConnectionsMax: 1024,
  /** opaque_auth body (RFC 5531: 400 bytes). */
  rpcAuthBodyMaxBytes: 400,
  /** AUTH_SYS machine name and supplementary groups (RFC 5531 appendix A). */
  authSysMachineNameMaxBytes: 255,
  authSysGidsMax: 16,
  /** NFSv4 file handle (NFS4_FHSIZE) and the files layer's handle inside it. */
  nfsHandleMaxBytes: 128,
  fileHandleMaxBytes: 96,
  /** A path component and a symlink target. */
  nameMaxBytes: 255,
  symlinkTargetMaxBytes: 4 * KiB,
  /** COMPOUND: the tag and the operation count. */
  compoundTagMaxBytes: 1 * KiB,
  compoundOpsMax: 128,
  /** Opaque ids from clients (NFS4_OPAQUE_LIMIT): client owner, open/lock owner. */
  nfsOpaqueMaxBytes: 1 * KiB,
  /** Attribute bitmaps longer than this many words are garbage (4.2 uses 3). */
  bitmapWordsMax: 8,
  /** Encoded attribute values in one fattr4 we accept from a client. */
  attributeValuesMaxBytes: 8 * KiB,
  /** READDIR: entries asked of the files layer per call, and the reply size we allow. */
  readdirEntriesMax: 1024,
  readdirReplyMaxBytes: 1 * MiB,
  /** Protocol state held in memory: clients, and opens + locks + owners per client. */
  nfsClientsMax: 4096,
  nfsStatesPerClientMax: 16_384,
  /** Byte-range locks per file (all owners). */
  nfsLocksPerFileMax: 4096,
  /** NFSv4.1 sessions: slots per session, sessions per client, cached reply size per slot. */
  sessionSlotsMax: 64,
  sessionsPerClientMax: 16,
  sessionCachedReplyMaxBytes: 64 * KiB,
  /** Lease defaults (configurable per server within these bounds). */
  leaseMsDefault: 60_000,
  leaseMsMin: 1_000,
} as const

assert(nfsLimits.rpcRecordMaxBytes >= nfsLimits.ioMaxBytes + 16 * KiB, 'a maximal WRITE compound fits a record')
assert(nfsLimits.fileHandleMaxBytes + 8 <= nfsLimits.nfsHandleMaxBytes, 'a files handle fits an NFS handle with its header')
assert(nfsLimits.readdirReplyMaxBytes <= nfsLimits.rpcRecordMaxBytes, 'a READDIR reply fits a record')
assert(nfsLimits.sessionCachedReplyMaxBytes <= nfsLimits.rpcRecordMaxBytes, 'a cached reply fits a record')
assert(nfsLimits.rpcInFlightPerConnectionMax >= nfsLimits.sessionSlotsMax, 'a connection can use every slot of a session')
// Worst-case decoded request bytes held per connection stay bounded (64 x ~1 MiB).
assert(nfsLimits.rpcInFlightPerConnectionMax * nfsLimits.rpcRecordMaxBytes <= 128 * MiB, 'in-flight request bytes per connection are bounded')

// S3 API edge (src/s3): the edge's own buffers, fan-outs and caches. Request shapes AWS bounds
// (key length, part numbers, tags, metadata, page sizes) are objectLimits, checked on both sides.
export const s3ApiLimits = {
  /** ListBuckets max-buckets (AWS: 1..10000). */
  listBucketsMax: 10_000,
  /** DeleteObjects names at most this many keys (AWS). */
  deleteObjectsKeysMax: 1000,
  /** DeleteObjects deletes this many keys at once (a bounded fan-out). */
  deleteObjectsConcurrency: 8,
  /**
   * Request XML bodies (CompleteMultipartUpload, Delete, Tagging, ...) are read whole, up to this:
   * 10,000 parts at ~150 bytes, or 1,000 escaped 1,024-byte keys, fit.
   */
  xmlBodyMaxBytes: 4 * MiB,
  /** Access keys looked up for signature checks are reused this long (a deleted key dies within it). */
  accessKeyCacheTtlMs: 1000,
  accessKeyCacheEntriesMax: 1024,
} as const

assert(s3ApiLimits.xmlBodyMaxBytes >= objectLimits.partNumberMax * 150, 'a CompleteMultipartUpload of every part fits')
assert(s3ApiLimits.xmlBodyMaxBytes >= s3ApiLimits.deleteObjectsKeysMax * objectLimits.objectKeyBytesMax * 2, 'a full DeleteObjects fits')
assert(s3ApiLimits.deleteObjectsConcurrency <= s3ApiLimits.deleteObjectsKeysMax, 'fan-out within the batch')
assert(s3ApiLimits.accessKeyCacheTtlMs <= 60_000, 'a deleted access key stops working within a minute')

// Block volumes (src/volumes): extents, metadata pages, snapshots, hydration, throttling.
export const volumeLimits = {
  /** A volume is tracked and snapshotted in extents of this size (one chunk each). */
  extentBytes: limits.fixedChunkBytesDefault,
  /** Encrypted heads are AES-XTS per sector of this size; also the preferred I/O size. */
  sectorBytes: 4 * KiB,
  /** Volume sizes are whole GiB (as in EBS), so every volume is a whole number of extents. */
  sizeGranularityBytes: GiB,
  /** Largest volume of any type (io2); per-type limits are in src/volumes/volume-types.ts. */
  sizeBytesMax: 64 * TiB,
  /** Largest single read/write/zero request the volume layer serves (NBD's 32 MiB). */
  requestMaxBytes: 32 * MiB,
  /** Extent states per metadata page: 1 byte each. */
  extentStatePageExtents: 4096,
  /** Snapshot manifest entries per metadata page: a bitmap bit plus a 32-byte id each. */
  manifestPageExtents: 1024,
  /** Manifest pages held in memory per volume (lazy reads of restored volumes, snapshot exports). */
  manifestPageCacheMax: 64,
  /** Extents hashed into the chunk store at once by one snapshot. */
  snapshotHashConcurrency: 4,
  /** Manifest pages (with their chunk references) committed per metadata transaction. */
  snapshotPagesPerTransaction: 8,
  /** Old extent copies kept for extents overwritten while their snapshot is being taken. */
  snapshotPreservedBytesMax: 64 * MiB,
  /** Extents fetched at once by eager hydration (fast snapshot restore). */
  hydrationConcurrency: 4,
  /** Eager hydration persists its progress (a flush) after this many extents. */
  hydrationFlushEveryExtents: 256,
  /** Decoded chunks cached per read-only snapshot export. */
  snapshotExportChunkCacheMax: 32,
  /** Token buckets hold this many seconds of their rate (the largest burst above the rate). */
  throttleBurstSeconds: 0.05,
} as const

assert(volumeLimits.extentBytes % volumeLimits.sectorBytes === 0, 'an extent is whole sectors')
assert(volumeLimits.sizeGranularityBytes % volumeLimits.extentBytes === 0, 'a volume is whole extents')
assert(volumeLimits.extentBytes <= limits.chunkMaxBytes, 'an extent fits one chunk')
assert(volumeLimits.requestMaxBytes % volumeLimits.extentBytes === 0, 'requests span whole extents at most')
assert(volumeLimits.sizeBytesMax / volumeLimits.extentBytes <= 2 ** 32, 'extent indexes fit a u32')
assert(volumeLimits.manifestPageExtents * (32 + 1) <= limits.metaValueBytesMax, 'a manifest page fits a value')
assert(volumeLimits.extentStatePageExtents + 1 <= limits.metaValueBytesMax, 'an extent state page fits a value')
assert(volumeLimits.snapshotPreservedBytesMax >= volumeLimits.requestMaxBytes * 2, 'a large write can preserve what it overwrites')
assert(volumeLimits.snapshotPreservedBytesMax <= limits.writeQueueMaxBytes, 'preserved copies stay within the chunk write queue')

// Files layer (src/files): POSIX file systems over the chunk store (docs/format/files.md).
export const fileLimits = {
  /** Largest file (NFS maxfilesize): offsets stay safe integers and key uints. */
  fileSizeBytesMax: 2 ** 50,
  /** Hard links per file (ext4's 65,000). */
  linksMax: 65_000,
  /** File systems per server. */
  fileSystemsMax: 1000,
  fileSystemNameCharsMax: 64,
  /** A file with this many buffered bytes starts flushing its full chunks in the background. */
  dirtyBytesPerFileFlushAt: 16 * MiB,
  /** Buffered (unstable) bytes across all files; writers wait for flushes above it. */
  dirtyBytesMax: 256 * MiB,
  /** Buffered data older than this is flushed even without a commit. */
  dirtyAgeMsMax: 30_000,
  /** Chunk puts one flush keeps in flight (deeper windows fill each group commit's fsync better). */
  flushChunksInFlightMax: 8,
  /** Extents (or keys) deleted per transaction when reclaiming, trimming or deleting a file system. */
  reclaimPageKeys: 1000,
  /** Decoded chunks kept for reads (sequential NFS reads hit one chunk several times). */
  readChunkCacheEntriesMax: 16,
  /** Inodes read per transaction by the lifecycle pass. */
  lifecyclePageInodes: 500,
  /** Lifecycle thresholds are whole days in this range. */
  lifecycleDaysMax: 36_500,
  /** Access times are persisted at most this often per file (relatime-like); less when a "day" is short. */
  accessTimeResolutionMsMax: 60 * 60 * 1000,
} as const

assert(fileLimits.fileSizeBytesMax <= Number.MAX_SAFE_INTEGER, 'file offsets are safe integers')
assert(fileLimits.dirtyBytesPerFileFlushAt >= 2 * limits.cdcMaxBytesDefault, 'an early flush cuts at least one chunk')
assert(fileLimits.dirtyBytesPerFileFlushAt >= 4 * nfsLimits.ioMaxBytes, 'several NFS writes are buffered before a flush')
assert(fileLimits.dirtyBytesMax >= 4 * fileLimits.dirtyBytesPerFileFlushAt, 'several files buffer at once')
assert(fileLimits.dirtyBytesMax <= limits.writeQueueMaxBytes, 'buffered data fits the chunk write queue')
assert(fileLimits.flushChunksInFlightMax * limits.chunkMaxBytes <= 2 * fileLimits.dirtyBytesPerFileFlushAt, 'chunks in flight of one flush stay within two file buffers')
assert(fileLimits.readChunkCacheEntriesMax * limits.chunkMaxBytes <= 128 * MiB, 'the read cache is bounded')
assert(fileLimits.reclaimPageKeys <= limits.metaScanPageMax, 'a reclaim page is one scan page')
assert(fileLimits.lifecyclePageInodes <= limits.metaScanPageMax, 'a lifecycle page is one scan page')

// Storage classes, restore, lifecycle and server-side encryption (src/objects: storage-class.ts,
// restore*.ts, lifecycle*.ts, sse*.ts). AWS's published limits where S3 has one.
export const dataManagementLimits = {
  /** PutBucketLifecycleConfiguration: at most this many rules (AWS). */
  lifecycleRulesMax: 1000,
  /** A rule ID is at most this many characters (AWS). */
  lifecycleRuleIdCharsMax: 255,
  /**
   * Days, NoncurrentDays, DaysAfterInitiation and restore Days are at most this (~2,700 years;
   * AWS takes any 32-bit int, but a period must stay a safe count of milliseconds).
   */
  lifecycleDaysMax: 1_000_000,
  /** NewerNoncurrentVersions is 1..100 (AWS). */
  newerNoncurrentVersionsMax: 100,
  /** Transitions to STANDARD_IA / ONEZONE_IA need at least this many days (AWS). */
  infrequentAccessDaysMin: 30,
  /** Objects smaller than this are not transitioned unless a rule filters by size (AWS's default since 2024). */
  transitionObjectBytesMin: 128 * KiB,
  /** Object keys one lifecycle step evaluates before it commits its cursor. */
  lifecycleKeysPerStep: 256,
  /** Versions of one key read per scan while evaluating it. */
  lifecycleVersionsPerScan: 256,
  /** Uploads one lifecycle step looks at. */
  lifecycleUploadsPerStep: 256,
  /** Due restore entries handled per step. */
  restoreDueEntriesPerStep: 64,
  /** Chunk ids handed to one moveToTier call (its own groups are smaller). */
  tierMoveChunksPerCall: 1024,
  /** SSE-C salts are this many random bytes (one per version or upload). */
  customerKeySaltBytes: 16,
  /** Customer managed KMS keys a data dir holds (list-keys reads them in one scan). */
  kmsKeysMax: 10_000,
  /** A KMS key description is at most this many characters (AWS: 8192). */
  kmsDescriptionCharsMax: 8192,
  /** An alias name ("alias/...") is at most this many characters (AWS: 256). */
  kmsAliasCharsMax: 256,
  /** Aliases one key may have (AWS has no per-key limit; this bounds the key record). */
  kmsAliasesPerKeyMax: 50,
  /** Rotations of one key (each generation is a key-ring domain listed in the key record). */
  kmsGenerationsMax: 1000,
  /** Unwrapped bucket keys kept in memory. */
  bucketKeyCacheMax: 1024,
  /** x-amz-server-side-encryption-context: at most this many bytes of JSON (AWS: 4 KiB incl. its default pair). */
  kmsEncryptionContextBytesMax: 4096,
  /** INTELLIGENT_TIERING objects smaller than this are not monitored and stay in Frequent Access (AWS). */
  intelligentTieringObjectBytesMin: 128 * KiB,
  /** Lifecycle days without access before Infrequent Access / Archive Instant Access (AWS). */
  infrequentAccessTierDays: 30,
  archiveInstantAccessTierDays: 90,
  /**
   * Versions the in-memory access log holds between flushes (one entry per version, about
   * 200 bytes each); accesses to further versions are dropped and counted until the next flush.
   */
  accessLogEntriesMax: 100_000,
  /** Logged accesses written per flush transaction. */
  accessFlushEntriesPerStep: 64,
  /** Accesses to a Frequent Access version closer than dayMs / this to the recorded one are not logged. */
  accessResolutionPerDay: 24,
  /** Intelligent-Tiering archive configurations per bucket (AWS: 1,000). */
  tieringConfigurationsMax: 1000,
  /** A configuration Id is at most this many characters. */
  tieringConfigIdCharsMax: 64,
  /** Archive Access needs at least this many days without access, Deep Archive Access this many; both at most 730 (AWS). */
  archiveAccessDaysMin: 90,
  deepArchiveAccessDaysMin: 180,
  archiveTierDaysMax: 730,
  /** Configurations one ListBucketIntelligentTieringConfigurations page returns (AWS: 100). */
  tieringConfigsPerPage: 100,
  /**
   * A version in Archive Instant Access (or Archive Access) with no colder archive tier
   * configured is looked at again this many days later, so a configuration put later applies.
   */
  archiveRecheckDays: 7,
} as const

assert(dataManagementLimits.lifecycleKeysPerStep <= limits.metaScanPageMax, 'a lifecycle step is one scan page')
assert(dataManagementLimits.lifecycleVersionsPerScan <= limits.metaScanPageMax, 'a version scan is one page')
assert(dataManagementLimits.lifecycleUploadsPerStep <= limits.metaScanPageMax, 'an upload sweep is one page')
assert(dataManagementLimits.restoreDueEntriesPerStep <= limits.metaScanPageMax, 'a due step is one page')
assert(dataManagementLimits.kmsKeysMax <= limits.metaScanPageMax, 'list-keys is one scan page')
assert(dataManagementLimits.tieringConfigurationsMax <= limits.metaScanPageMax, 'a bucket\'s tiering configurations are one scan page')
assert(dataManagementLimits.archiveAccessDaysMin >= dataManagementLimits.archiveInstantAccessTierDays, 'archive tiers come after Archive Instant Access')
assert(dataManagementLimits.accessFlushEntriesPerStep <= dataManagementLimits.accessLogEntriesMax, 'a flush takes at most the whole log')
assert(dataManagementLimits.infrequentAccessTierDays < dataManagementLimits.archiveInstantAccessTierDays, 'access tiers get colder with idle time')
assert(dataManagementLimits.intelligentTieringObjectBytesMin > limits.inlineMaxBytes, 'inline objects are never access-tiered')
assert(dataManagementLimits.transitionObjectBytesMin > limits.inlineMaxBytes, 'inline objects are never transitioned by default')
assert(Number.isSafeInteger(dataManagementLimits.lifecycleDaysMax * 86_400_000), 'the longest lifecycle period is a safe ms count')
