// The objects layer's contract: S3 semantics without HTTP. The S3 front-end (src/s3) parses and
// authenticates requests, then calls these methods; it never touches metadata or chunks itself.
//
// Errors are StoreError (src/lib/errors.ts) with a code and a subject; src/s3 maps them to AWS
// error codes in one switch, e.g. NOT_FOUND+bucket -> NoSuchBucket 404, NOT_FOUND+key ->
// NoSuchKey 404, NOT_FOUND+version -> NoSuchVersion 404, NOT_FOUND+upload -> NoSuchUpload 404,
// ALREADY_EXISTS+bucket -> BucketAlreadyOwnedByYou / BucketAlreadyExists (by owner),
// NOT_EMPTY+bucket -> BucketNotEmpty 409, PRECONDITION_FAILED -> 412, NOT_MODIFIED -> 304,
// CONFLICT -> 409 ConditionalRequestConflict, INVALID_RANGE -> 416, BAD_DIGEST -> 400 BadDigest,
// INVALID_ARGUMENT -> 400 (the message names the S3 code when one applies: see S3ErrorHint),
// INVALID_STATE+key -> 403 InvalidObjectState, INVALID_STATE+part -> 400 InvalidPart, ...
//
// Hints: when an S3 code applies that code+subject do not determine, the message starts with it
// ('EntityTooSmall: ...', 'BucketAlreadyOwnedByYou: ...'; the S3ErrorHint union below lists
// every hint this layer uses). PRECONDITION_FAILED messages name the failed header ('If-Match').
// A GET/HEAD whose latest version is a delete marker fails NOT_FOUND+key, and one that names a
// delete marker by version id fails INVALID_STATE+version with hint MethodNotAllowed; both are
// ObjectsError (src/objects/errors.ts) whose `deleteMarker` carries { versionId, lastModifiedMs }
// for x-amz-delete-marker / x-amz-version-id (`deleteMarkerOf(error)` in src/objects/index.ts).
//
// Bodies move as AsyncIterable<Uint8Array> with backpressure; nothing here buffers a whole
// object. Every data method takes an AbortSignal (client gone -> ABORTED, nothing committed).
// Durability: a method resolves only after data and metadata are durable.
import type { Brand } from '../lib/index.ts'
import type { ArchiveAccessTier, BucketEncryptionConfig, LifecycleConfiguration, RestoreTier, TieringConfiguration } from '../model/index.ts'

export type {
  ArchiveAccessTier,
  TieringConfiguration,
  BucketEncryptionConfig,
  LifecycleConfiguration,
  LifecycleExpiration,
  LifecycleFilter,
  LifecycleRule,
  LifecycleTransition,
  NoncurrentExpiration,
  NoncurrentTransition,
  RestoreTier,
  SseAlgorithm,
  TransitionStorageClass,
} from '../model/index.ts'

export type UserId = Brand<string, 'UserId'>
export type VersionId = string // 'null' for the null version

export interface Principal {
  readonly userId: UserId
  readonly accessKeyId: string
  readonly displayName: string
  readonly isRoot: boolean
}

/** A user's credentials as the S3 edge needs them to verify a signature. */
export interface AccessKeyRecord {
  readonly principal: Principal
  readonly secretKey: string
}

export interface UserService {
  /** Undefined when no such access key exists (the edge answers InvalidAccessKeyId). */
  lookupAccessKey(accessKeyId: string): Promise<AccessKeyRecord | undefined>
  createUser(name: string): Promise<{ userId: UserId; name: string; accessKeyId: string; secretKey: string }>
  listUsers(): Promise<Array<{ userId: UserId; name: string; accessKeyIds: string[]; createdMs: number }>>
  deleteUser(name: string): Promise<void>
}

export type VersioningState = 'Unversioned' | 'Enabled' | 'Suspended'

export interface BucketInfo {
  readonly name: string
  readonly owner: UserId
  readonly createdMs: number
  readonly region: string
  readonly versioning: VersioningState
}

export type Tags = ReadonlyArray<{ key: string; value: string }>

export type StorageClass =
  | 'STANDARD' | 'STANDARD_IA' | 'ONEZONE_IA' | 'INTELLIGENT_TIERING' | 'GLACIER_IR' | 'GLACIER' | 'DEEP_ARCHIVE'

export type ChecksumAlgorithm = 'CRC32' | 'CRC32C' | 'CRC64NVME' | 'SHA1' | 'SHA256'
export type ChecksumType = 'COMPOSITE' | 'FULL_OBJECT'

/** A stored checksum: base64 of the digest as S3 returns it ('...-N' for composite). */
export interface ObjectChecksum {
  readonly algorithm: ChecksumAlgorithm
  readonly type: ChecksumType
  readonly value: string
}

/** Content headers stored with a version and returned on GET/HEAD. */
export interface ContentHeaders {
  contentType?: string
  contentEncoding?: string // 'aws-chunked' already removed by the edge
  contentLanguage?: string
  contentDisposition?: string
  cacheControl?: string
  expires?: string
}

/** Digests the edge computed over the received body, verified against the client's claims. */
export interface BodyDigests {
  readonly md5Hex: string
  readonly checksum?: ObjectChecksum
}

export interface PutObjectInput {
  bucket: string
  key: string
  principal: Principal
  body: AsyncIterable<Uint8Array>
  /** Exact decoded length when known (Content-Length or x-amz-decoded-content-length). */
  sizeBytes?: number
  /**
   * Called once after the body has been fully consumed and before anything is committed:
   * returns the digests, or throws BAD_DIGEST (Content-MD5 / x-amz-checksum-* mismatch), in
   * which case nothing is committed.
   */
  digests: () => Promise<BodyDigests>
  contentHeaders: ContentHeaders
  userMetadata: Record<string, string>
  tags?: Tags
  storageClass?: StorageClass
  /** Server-side encryption asked for by the request (else the bucket default applies). */
  encryption?: EncryptionRequest
  /** If-Match: commit only if the current version's ETag matches (else PRECONDITION_FAILED). */
  ifMatch?: string
  /** If-None-Match: '*': commit only if no current version exists. */
  ifNoneMatch?: '*'
  signal: AbortSignal
}

export interface PutObjectResult {
  etag: string // quoted, as sent in the ETag header
  versionId?: VersionId // absent for unversioned buckets
  checksum?: ObjectChecksum
  sizeBytes: number
  /** How the new version is encrypted at rest (x-amz-server-side-encryption*). */
  encryption?: ObjectEncryptionInfo
  /** The lifecycle expiration that applies to the new version (x-amz-expiration). */
  expiration?: ExpirationInfo
}

export interface ObjectVersionInfo {
  readonly bucket: string
  readonly key: string
  readonly versionId: VersionId
  readonly isLatest: boolean
  readonly isDeleteMarker: boolean
  readonly etag: string
  readonly sizeBytes: number
  readonly lastModifiedMs: number
  readonly storageClass: StorageClass
  readonly contentHeaders: ContentHeaders
  readonly userMetadata: Record<string, string>
  readonly checksum?: ObjectChecksum
  readonly tagCount: number
  readonly owner: UserId
  /** For multipart objects: the number of parts (x-amz-mp-parts-count) and their sizes. */
  readonly partSizesBytes?: readonly number[]
  readonly encryption?: ObjectEncryptionInfo
  /** Archived versions with a restore requested or done (x-amz-restore). */
  readonly restore?: RestoreInfo
  /** INTELLIGENT_TIERING versions in an archive tier (x-amz-archive-status). */
  readonly archiveStatus?: ArchiveAccessTier
  /** GET/HEAD of a current version a lifecycle expiration rule applies to (x-amz-expiration). */
  readonly expiration?: ExpirationInfo
}

export interface ReadConditions {
  ifMatch?: string
  ifNoneMatch?: string
  ifModifiedSinceMs?: number
  ifUnmodifiedSinceMs?: number
}

/** A parsed Range header: bytes=first-last, bytes=first-, or bytes=-suffix. */
export type ByteRange = { first: number; last?: number } | { suffixBytes: number }

export interface GetObjectInput {
  bucket: string
  key: string
  principal: Principal
  versionId?: VersionId
  range?: ByteRange
  partNumber?: number
  conditions?: ReadConditions
  /** SSE-C: the customer key (32 bytes, MD5 already checked by the edge). */
  customerKey?: Buffer
  signal: AbortSignal
}

export interface GetObjectResult {
  version: ObjectVersionInfo
  /** The bucket's state: AWS sends no x-amz-version-id for objects of never-versioned buckets. */
  bucketVersioning: VersioningState
  /** The bytes served: the whole object or the range; inclusive offsets. */
  range?: { first: number; last: number; totalBytes: number }
  /** Undefined for HEAD. Streams verified chunk data; must be consumed or aborted. */
  body?: AsyncIterable<Buffer>
}

export interface DeleteObjectResult {
  /** The version id created (delete marker) or removed. */
  versionId?: VersionId
  deleteMarker: boolean
}

export interface CopySource {
  bucket: string
  key: string
  versionId?: VersionId
  conditions?: ReadConditions
  range?: { first: number; last: number } // UploadPartCopy only
  /** SSE-C source: its customer key (x-amz-copy-source-server-side-encryption-customer-key). */
  customerKey?: Buffer
}

export interface CopyObjectInput {
  source: CopySource
  bucket: string
  key: string
  principal: Principal
  metadataDirective: 'COPY' | 'REPLACE'
  taggingDirective: 'COPY' | 'REPLACE'
  contentHeaders?: ContentHeaders
  userMetadata?: Record<string, string>
  tags?: Tags
  storageClass?: StorageClass
  checksumAlgorithm?: ChecksumAlgorithm
  encryption?: EncryptionRequest
  signal: AbortSignal
}

export interface ListObjectsInput {
  bucket: string
  principal: Principal
  prefix?: string
  delimiter?: string
  /** Exclusive: start after this key (V1 marker, V2 start-after or decoded continuation token). */
  after?: string
  maxKeys: number // 0..1000
}

export interface ListObjectsResult {
  contents: ObjectVersionInfo[]
  commonPrefixes: string[]
  isTruncated: boolean
  /** The last key or common prefix returned: the next page starts after it. */
  nextAfter?: string
}

export interface ListVersionsInput {
  bucket: string
  principal: Principal
  prefix?: string
  delimiter?: string
  keyMarker?: string
  versionIdMarker?: string
  maxKeys: number
}

export interface ListVersionsResult {
  versions: ObjectVersionInfo[] // delete markers included, isDeleteMarker set
  commonPrefixes: string[]
  isTruncated: boolean
  nextKeyMarker?: string
  nextVersionIdMarker?: string
}

export interface MultipartUploadInfo {
  uploadId: string
  bucket: string
  key: string
  initiatedMs: number
  owner: UserId
  storageClass: StorageClass
  checksumAlgorithm?: ChecksumAlgorithm
  checksumType?: ChecksumType
  encryption?: ObjectEncryptionInfo
}

export interface PartInfo {
  partNumber: number
  etag: string
  sizeBytes: number
  lastModifiedMs: number
  checksum?: ObjectChecksum
  encryption?: ObjectEncryptionInfo
}

// ---- Storage classes, restore, lifecycle and server-side encryption -------------------------
// docs/storage-classes.md, docs/lifecycle.md, docs/encryption.md. The methods are optional in
// ObjectsService so that test doubles may leave them out (the edge then answers NotImplemented).

/** What a request asks for (x-amz-server-side-encryption*); the edge has checked the key MD5. */
export interface EncryptionRequest {
  algorithm?: 'AES256' | 'aws:kms'
  /** A customer managed key by id, ARN or alias (src/objects/kms.ts), or Cairn's managed key. */
  kmsKeyId?: string
  bucketKeyEnabled?: boolean
  /** SSE-KMS encryption context as canonical JSON (a string-to-string map; the edge decodes the base64). */
  context?: string
  /** SSE-C: the 32-byte customer key. Never stored. */
  customerKey?: Buffer
}

export type ObjectEncryptionInfo =
  | { readonly kind: 'SSE-S3' }
  | { readonly kind: 'SSE-KMS'; readonly kmsKeyId: string; readonly bucketKeyEnabled: boolean; readonly context?: string }
  | { readonly kind: 'SSE-C' }

export interface RestoreInfo {
  readonly ongoing: boolean
  /** When the restored copy goes away (set once it is readable). */
  readonly expiryMs?: number
}

export interface ExpirationInfo {
  readonly expiryMs: number
  readonly ruleId: string
}

export interface RestoreObjectInput {
  bucket: string
  key: string
  principal: Principal
  versionId?: VersionId
  /** Required for GLACIER / DEEP_ARCHIVE; refused for INTELLIGENT_TIERING archive tiers (AWS). */
  days?: number
  tier?: RestoreTier
}

/** 202 for a restore started, 200 when a restored copy existed and its expiry moved. */
export interface RestoreObjectResult {
  readonly alreadyRestored: boolean
}

export interface ObjectsService {
  readonly users: UserService

  createBucket(principal: Principal, name: string, options?: { region?: string }): Promise<void>
  headBucket(principal: Principal, name: string): Promise<BucketInfo>
  deleteBucket(principal: Principal, name: string): Promise<void>
  listBuckets(principal: Principal): Promise<BucketInfo[]>
  putBucketVersioning(principal: Principal, name: string, state: 'Enabled' | 'Suspended'): Promise<void>
  getBucketTagging(principal: Principal, name: string): Promise<Tags>
  putBucketTagging(principal: Principal, name: string, tags: Tags): Promise<void>
  deleteBucketTagging(principal: Principal, name: string): Promise<void>

  putObject(input: PutObjectInput): Promise<PutObjectResult>
  getObject(input: GetObjectInput): Promise<GetObjectResult>
  headObject(input: Omit<GetObjectInput, 'range'> & { range?: ByteRange }): Promise<GetObjectResult>
  deleteObject(input: { bucket: string; key: string; principal: Principal; versionId?: VersionId; signal: AbortSignal }): Promise<DeleteObjectResult>
  copyObject(input: CopyObjectInput): Promise<PutObjectResult & { lastModifiedMs: number; sourceVersionId?: VersionId }>
  getObjectTagging(input: { bucket: string; key: string; principal: Principal; versionId?: VersionId }): Promise<{ tags: Tags; versionId?: VersionId }>
  putObjectTagging(input: { bucket: string; key: string; principal: Principal; versionId?: VersionId; tags: Tags }): Promise<{ versionId?: VersionId }>
  deleteObjectTagging(input: { bucket: string; key: string; principal: Principal; versionId?: VersionId }): Promise<{ versionId?: VersionId }>

  listObjects(input: ListObjectsInput): Promise<ListObjectsResult>
  listObjectVersions(input: ListVersionsInput): Promise<ListVersionsResult>

  createMultipartUpload(input: {
    bucket: string; key: string; principal: Principal; contentHeaders: ContentHeaders; userMetadata: Record<string, string>
    tags?: Tags; storageClass?: StorageClass; checksumAlgorithm?: ChecksumAlgorithm; checksumType?: ChecksumType
    encryption?: EncryptionRequest
  }): Promise<MultipartUploadInfo>
  uploadPart(input: {
    bucket: string; key: string; uploadId: string; partNumber: number; principal: Principal
    body: AsyncIterable<Uint8Array>; sizeBytes?: number; digests: () => Promise<BodyDigests>; signal: AbortSignal
    /** SSE-C uploads: the customer key given at CreateMultipartUpload. */
    customerKey?: Buffer
  }): Promise<PartInfo>
  uploadPartCopy(input: { bucket: string; key: string; uploadId: string; partNumber: number; principal: Principal; source: CopySource; signal: AbortSignal; customerKey?: Buffer }): Promise<PartInfo>
  completeMultipartUpload(input: {
    bucket: string; key: string; uploadId: string; principal: Principal
    parts: ReadonlyArray<{ partNumber: number; etag: string; checksum?: string }>
    ifMatch?: string; ifNoneMatch?: '*'; signal: AbortSignal
  }): Promise<PutObjectResult>
  abortMultipartUpload(input: { bucket: string; key: string; uploadId: string; principal: Principal }): Promise<void>
  listParts(input: { bucket: string; key: string; uploadId: string; principal: Principal; partNumberMarker?: number; maxParts: number }): Promise<{ upload: MultipartUploadInfo; parts: PartInfo[]; isTruncated: boolean; nextPartNumberMarker?: number }>
  listMultipartUploads(input: { bucket: string; principal: Principal; prefix?: string; delimiter?: string; keyMarker?: string; uploadIdMarker?: string; maxUploads: number }): Promise<{ uploads: MultipartUploadInfo[]; commonPrefixes: string[]; isTruncated: boolean; nextKeyMarker?: string; nextUploadIdMarker?: string }>

  /** NOT_FOUND configuration (NoSuchLifecycleConfiguration) when the bucket has none. */
  getBucketLifecycle?(principal: Principal, bucket: string): Promise<LifecycleConfiguration>
  /** Validates as AWS does (INVALID_ARGUMENT with hints MalformedXML / InvalidArgument / InvalidRequest). */
  putBucketLifecycle?(principal: Principal, bucket: string, configuration: LifecycleConfiguration): Promise<void>
  deleteBucketLifecycle?(principal: Principal, bucket: string): Promise<void>
  /** NOT_FOUND configuration (ServerSideEncryptionConfigurationNotFoundError) when none is set. */
  getBucketEncryption?(principal: Principal, bucket: string): Promise<BucketEncryptionConfig>
  putBucketEncryption?(principal: Principal, bucket: string, config: BucketEncryptionConfig): Promise<void>
  deleteBucketEncryption?(principal: Principal, bucket: string): Promise<void>
  /** INVALID_STATE key (InvalidObjectState) for a version that is not archived; CONFLICT (RestoreAlreadyInProgress). */
  restoreObject?(input: RestoreObjectInput): Promise<RestoreObjectResult>
  /** NOT_FOUND configuration (NoSuchConfiguration) for an unknown id. */
  getBucketIntelligentTiering?(principal: Principal, bucket: string, id: string): Promise<TieringConfiguration>
  /** LIMIT_EXCEEDED configuration (TooManyConfigurations) past 1,000 per bucket. */
  putBucketIntelligentTiering?(principal: Principal, bucket: string, configuration: TieringConfiguration): Promise<void>
  /** NOT_FOUND configuration (NoSuchConfiguration) for an unknown id. */
  deleteBucketIntelligentTiering?(principal: Principal, bucket: string, id: string): Promise<void>
  /** A page of configurations in Id order after `after`; nextAfter when more follow. */
  listBucketIntelligentTiering?(principal: Principal, bucket: string, after?: string): Promise<{ configurations: TieringConfiguration[]; nextAfter?: string }>
}

/** S3 error codes this layer names at the start of a StoreError message ('InvalidTag: ...'). */
export type S3ErrorHint =
  | 'InvalidBucketName' | 'BucketAlreadyExists' | 'BucketAlreadyOwnedByYou' | 'NoSuchTagSet'
  | 'InvalidTag' | 'KeyTooLongError' | 'MetadataTooLarge' | 'EntityTooLarge' | 'EntityTooSmall' | 'IncompleteBody'
  | 'InvalidArgument' | 'InvalidRequest' | 'InvalidPart' | 'InvalidPartOrder' | 'InvalidPartNumber'
  | 'InvalidObjectState' | 'MethodNotAllowed' | 'InvalidStorageClass' | 'MalformedXML'
  | 'NoSuchLifecycleConfiguration' | 'ServerSideEncryptionConfigurationNotFoundError' | 'RestoreAlreadyInProgress'
  | 'NoSuchConfiguration' | 'TooManyConfigurations'
  | 'InvalidEncryptionAlgorithmError'
  | 'KMS.NotFoundException' | 'KMS.DisabledException' | 'KMS.KMSInvalidStateException'
