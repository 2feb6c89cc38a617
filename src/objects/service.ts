// openObjects: the objects layer (S3 semantics without HTTP) over a MetaStore and a ChunkStore.
// Contract: implements ObjectsService (api.ts); every method validates its S3 inputs, checks
// bucket ownership, and commits each logical change in one metadata transaction that also moves
// the chunk references. close() makes later calls fail CLOSED; it does not close the stores
// (their owner does, after this).
import { ContentDefinedChunker, contentDefinedChunkerDefaults, type ChunkStore, type ContentDefinedChunkerOptions } from '../chunk/index.ts'
import { objectLimits, StoreError, type Clock, type Random } from '../lib/index.ts'
import type { MetaStore } from '../meta/index.ts'
import type { ObjectsService } from './api.ts'
import * as buckets from './buckets.ts'
import { abortMultipartUpload, completeMultipartUpload, listParts } from './complete.ts'
import { ByteBudget, ChunkerPool, type ObjectsContext } from './context.ts'
import { AccessLog, type TieringCounters } from './intelligent-tiering.ts'
import { copyObject } from './copy.ts'
import { listMultipartUploads, listObjects, listObjectVersions } from './listings.ts'
import { createMultipartUpload, uploadPart } from './multipart.ts'
import { dataManagementSettings, type DataManagementSettings } from './lifecycle-settings.ts'
import { getObject, getObjectTagging, putObjectTagging } from './read.ts'
import { KeyManagement } from './kms.ts'
import { restoreObject } from './restore.ts'
import { deleteBucketIntelligentTiering, getBucketIntelligentTiering, listBucketIntelligentTiering, putBucketIntelligentTiering } from './tiering-config.ts'
import { DataManagementWorker, type BackgroundHooks } from './lifecycle-background.ts'
import { deleteBucketLifecycle, expirationAfterWrite, getBucketLifecycle, putBucketLifecycle } from './lifecycle-config.ts'
import { deleteBucketEncryption, getBucketEncryption, putBucketEncryption } from './sse.ts'
import { uploadPartCopyWithEncryption } from './sse-copy.ts'
import type { Principal, PutObjectResult } from './api.ts'
import { UserSecrets } from './user-secrets.ts'
import { Users, type RootCredentials } from './users.ts'
import { deleteObject, putObject } from './write.ts'

export interface ObjectsOptions {
  meta: MetaStore
  chunkStore: ChunkStore
  clock: Clock
  random: Random
  /** The root principal's credentials; may also be set later with setRootCredentials. */
  rootCredentials?: RootCredentials
  /** Region of buckets created without a location constraint (default 'us-east-1'). */
  defaultRegion?: string
  /** Chunk bytes in flight to the chunk store across all uploads (default objectLimits.ingestBytesInFlightMax). */
  ingestBytesInFlightMax?: number
  /**
   * Content-defined chunking sizes (default contentDefinedChunkerDefaults). Chunk boundaries
   * decide dedup across objects: a store keeps one setting for its life. Tests use small chunks.
   */
  chunking?: ContentDefinedChunkerOptions
  /** Lifecycle day, restore delays, worker cadence and key domains (lifecycle-settings.ts). */
  dataManagement?: Partial<DataManagementSettings>
}

/** The objects layer as the engine holds it: the service plus lifecycle and root setup. */
export interface ObjectsLayer extends ObjectsService {
  readonly users: Users
  /** The built-in KMS (customer managed keys for SSE-KMS; kms.ts). */
  readonly kms: KeyManagement
  // The optional data-management operations of ObjectsService, which this layer always has.
  getBucketLifecycle: NonNullable<ObjectsService['getBucketLifecycle']>
  putBucketLifecycle: NonNullable<ObjectsService['putBucketLifecycle']>
  deleteBucketLifecycle: NonNullable<ObjectsService['deleteBucketLifecycle']>
  getBucketEncryption: NonNullable<ObjectsService['getBucketEncryption']>
  putBucketEncryption: NonNullable<ObjectsService['putBucketEncryption']>
  deleteBucketEncryption: NonNullable<ObjectsService['deleteBucketEncryption']>
  restoreObject: NonNullable<ObjectsService['restoreObject']>
  getBucketIntelligentTiering: NonNullable<ObjectsService['getBucketIntelligentTiering']>
  putBucketIntelligentTiering: NonNullable<ObjectsService['putBucketIntelligentTiering']>
  deleteBucketIntelligentTiering: NonNullable<ObjectsService['deleteBucketIntelligentTiering']>
  listBucketIntelligentTiering: NonNullable<ObjectsService['listBucketIntelligentTiering']>
  setRootCredentials(root: RootCredentials): void
  /** Start the restore / tier-move queue and the lifecycle worker (lifecycle-background.ts). */
  startBackground(hooks: BackgroundHooks): void
  /** Run one background tick now and wait for it (tests, tools); works without startBackground. */
  runBackgroundNow(): Promise<void>
  /** INTELLIGENT_TIERING numbers for metrics: the access log and the tier changes since start. */
  tieringStats(): TieringStats
  /** Stops the background work (writing the access log out), then makes later calls fail CLOSED. */
  close(): Promise<void>
}

export interface TieringStats extends TieringCounters {
  /** Logged accesses not yet written to metadata. */
  pendingAccesses: number
}

export async function openObjects(options: ObjectsOptions): Promise<ObjectsLayer> {
  const chunking = { ...(options.chunking ?? contentDefinedChunkerDefaults) }
  new ContentDefinedChunker(chunking) // throws INVALID_ARGUMENT for invalid sizes
  const dataManagement = dataManagementSettings(options.dataManagement)
  const defaultRegion = options.defaultRegion ?? 'us-east-1'
  const context: ObjectsContext = {
    meta: options.meta,
    chunkStore: options.chunkStore,
    clock: options.clock,
    random: options.random,
    defaultRegion,
    budget: new ByteBudget(options.ingestBytesInFlightMax ?? objectLimits.ingestBytesInFlightMax),
    chunkers: new ChunkerPool(chunking),
    dataManagement,
    kms: new KeyManagement({ meta: options.meta, keys: dataManagement.keyDomains, clock: options.clock, random: options.random, region: defaultRegion }),
    accessLog: new AccessLog(),
  }
  const secrets = new UserSecrets({ meta: options.meta, keys: dataManagement.keyDomains, random: options.random })
  const users = new Users({ meta: options.meta, clock: options.clock, random: options.random, secrets, ...(options.rootCredentials === undefined ? {} : { root: options.rootCredentials }) })
  await users.resealPlainSecrets()
  return new Objects(context, users)
}

class Objects implements ObjectsLayer {
  readonly users: Users
  readonly kms: KeyManagement
  readonly #context: ObjectsContext
  #closed = false
  #worker: DataManagementWorker | undefined

  constructor(context: ObjectsContext, users: Users) {
    this.#context = context
    this.users = users
    this.kms = context.kms
  }

  startBackground(hooks: BackgroundHooks): void {
    if (this.#closed || this.#worker !== undefined) return
    this.#worker = new DataManagementWorker(this.#context, hooks)
    this.#worker.start()
  }

  async runBackgroundNow(): Promise<void> {
    // Without a running loop, entry failures surface here instead of being logged.
    const worker = this.#worker ?? new DataManagementWorker(this.#open, {
      onError: (error) => {
        throw error
      },
      onBug: (error) => {
        throw error
      },
    })
    await worker.poke()
  }

  /** The context for one call; CLOSED after close(). */
  get #open(): ObjectsContext {
    if (this.#closed) throw new StoreError('CLOSED', 'the objects layer is closed')
    return this.#context
  }

  setRootCredentials(root: RootCredentials): void {
    this.users.setRootCredentials(root)
  }

  tieringStats(): TieringStats {
    return { ...this.#context.accessLog.counters, pendingAccesses: this.#context.accessLog.pendingEntries }
  }

  async close(): Promise<void> {
    this.#closed = true
    await this.#worker?.stop()
  }

  createBucket: ObjectsService['createBucket'] = async (principal, name, options) => buckets.createBucket(this.#open, principal, name, options?.region)
  headBucket: ObjectsService['headBucket'] = async (principal, name) => buckets.headBucket(this.#open, principal, name)
  deleteBucket: ObjectsService['deleteBucket'] = async (principal, name) => buckets.deleteBucket(this.#open, principal, name)
  listBuckets: ObjectsService['listBuckets'] = async (principal) => buckets.listBuckets(this.#open, principal)
  putBucketVersioning: ObjectsService['putBucketVersioning'] = async (principal, name, state) => buckets.putBucketVersioning(this.#open, principal, name, state)
  getBucketTagging: ObjectsService['getBucketTagging'] = async (principal, name) => buckets.getBucketTagging(this.#open, principal, name)
  putBucketTagging: ObjectsService['putBucketTagging'] = async (principal, name, tags) => buckets.putBucketTagging(this.#open, principal, name, tags)
  deleteBucketTagging: ObjectsService['deleteBucketTagging'] = async (principal, name) => buckets.deleteBucketTagging(this.#open, principal, name)

  putObject: ObjectsService['putObject'] = async (input) => this.#withExpiration(input.principal, input.bucket, input.key, await putObject(this.#open, input))
  getObject: ObjectsService['getObject'] = async (input) => getObject(this.#open, input, true)
  headObject: ObjectsService['headObject'] = async (input) => getObject(this.#open, input, false)
  deleteObject: ObjectsService['deleteObject'] = async (input) => deleteObject(this.#open, input)
  copyObject: ObjectsService['copyObject'] = async (input) => this.#withExpiration(input.principal, input.bucket, input.key, await copyObject(this.#open, input))
  getObjectTagging: ObjectsService['getObjectTagging'] = async (input) => getObjectTagging(this.#open, input)
  putObjectTagging: ObjectsService['putObjectTagging'] = async (input) => putObjectTagging(this.#open, input)
  deleteObjectTagging: ObjectsService['deleteObjectTagging'] = async (input) => putObjectTagging(this.#open, { ...input, tags: [] })

  listObjects: ObjectsService['listObjects'] = async (input) => listObjects(this.#open, input)
  listObjectVersions: ObjectsService['listObjectVersions'] = async (input) => listObjectVersions(this.#open, input)

  createMultipartUpload: ObjectsService['createMultipartUpload'] = async (input) => createMultipartUpload(this.#open, input)
  uploadPart: ObjectsService['uploadPart'] = async (input) => uploadPart(this.#open, input)
  uploadPartCopy: ObjectsService['uploadPartCopy'] = async (input) => uploadPartCopyWithEncryption(this.#open, input)
  completeMultipartUpload: ObjectsService['completeMultipartUpload'] = async (input) => this.#withExpiration(input.principal, input.bucket, input.key, await completeMultipartUpload(this.#open, input))
  abortMultipartUpload: ObjectsService['abortMultipartUpload'] = async (input) => abortMultipartUpload(this.#open, input)
  listParts: ObjectsService['listParts'] = async (input) => listParts(this.#open, input)
  listMultipartUploads: ObjectsService['listMultipartUploads'] = async (input) => listMultipartUploads(this.#open, input)

  // Storage classes, restore, lifecycle, encryption (docs/storage-classes.md, lifecycle.md, encryption.md).
  restoreObject: NonNullable<ObjectsService['restoreObject']> = async (input) => restoreObject(this.#open, input)
  getBucketIntelligentTiering: NonNullable<ObjectsService['getBucketIntelligentTiering']> = async (principal, name, id) => getBucketIntelligentTiering(this.#open, principal, name, id)
  putBucketIntelligentTiering: NonNullable<ObjectsService['putBucketIntelligentTiering']> = async (principal, name, configuration) => putBucketIntelligentTiering(this.#open, principal, name, configuration)
  deleteBucketIntelligentTiering: NonNullable<ObjectsService['deleteBucketIntelligentTiering']> = async (principal, name, id) => deleteBucketIntelligentTiering(this.#open, principal, name, id)
  listBucketIntelligentTiering: NonNullable<ObjectsService['listBucketIntelligentTiering']> = async (principal, name, after) => listBucketIntelligentTiering(this.#open, principal, name, after)
  getBucketLifecycle: NonNullable<ObjectsService['getBucketLifecycle']> = async (principal, name) => getBucketLifecycle(this.#open, principal, name)
  putBucketLifecycle: NonNullable<ObjectsService['putBucketLifecycle']> = async (principal, name, configuration) => putBucketLifecycle(this.#open, principal, name, configuration)
  deleteBucketLifecycle: NonNullable<ObjectsService['deleteBucketLifecycle']> = async (principal, name) => deleteBucketLifecycle(this.#open, principal, name)
  getBucketEncryption: NonNullable<ObjectsService['getBucketEncryption']> = async (principal, name) => getBucketEncryption(this.#open, principal, name)
  putBucketEncryption: NonNullable<ObjectsService['putBucketEncryption']> = async (principal, name, config) => putBucketEncryption(this.#open, principal, name, config)
  deleteBucketEncryption: NonNullable<ObjectsService['deleteBucketEncryption']> = async (principal, name) => deleteBucketEncryption(this.#open, principal, name)

  /** x-amz-expiration of the version a write just made (lifecycle-config.ts). */
  async #withExpiration<T extends PutObjectResult>(principal: Principal, bucket: string, key: string, result: T): Promise<T> {
    const expiration = await expirationAfterWrite(this.#open, principal, bucket, key)
    return expiration === undefined ? result : { ...result, expiration }
  }
}
