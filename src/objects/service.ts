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
import { copyObject } from './copy.ts'
import { listMultipartUploads, listObjects, listObjectVersions } from './listings.ts'
import { createMultipartUpload, uploadPart } from './multipart.ts'
import { uploadPartCopy } from './part-copy.ts'
import { getObject, getObjectTagging, putObjectTagging } from './read.ts'
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
}

/** The objects layer as the engine holds it: the service plus lifecycle and root setup. */
export interface ObjectsLayer extends ObjectsService {
  readonly users: Users
  setRootCredentials(root: RootCredentials): void
  close(): Promise<void>
}

export async function openObjects(options: ObjectsOptions): Promise<ObjectsLayer> {
  const chunking = { ...(options.chunking ?? contentDefinedChunkerDefaults) }
  new ContentDefinedChunker(chunking) // throws INVALID_ARGUMENT for invalid sizes
  const context: ObjectsContext = {
    meta: options.meta,
    chunkStore: options.chunkStore,
    clock: options.clock,
    random: options.random,
    defaultRegion: options.defaultRegion ?? 'us-east-1',
    budget: new ByteBudget(options.ingestBytesInFlightMax ?? objectLimits.ingestBytesInFlightMax),
    chunkers: new ChunkerPool(chunking),
  }
  const users = new Users({ meta: options.meta, clock: options.clock, random: options.random, ...(options.rootCredentials === undefined ? {} : { root: options.rootCredentials }) })
  return new Objects(context, users)
}

class Objects implements ObjectsLayer {
  readonly users: Users
  readonly #context: ObjectsContext
  #closed = false

  constructor(context: ObjectsContext, users: Users) {
    this.#context = context
    this.users = users
  }

  /** The context for one call; CLOSED after close(). */
  get #open(): ObjectsContext {
    if (this.#closed) throw new StoreError('CLOSED', 'the objects layer is closed')
    return this.#context
  }

  setRootCredentials(root: RootCredentials): void {
    this.users.setRootCredentials(root)
  }

  async close(): Promise<void> {
    this.#closed = true
  }

  createBucket: ObjectsService['createBucket'] = async (principal, name, options) => buckets.createBucket(this.#open, principal, name, options?.region)
  headBucket: ObjectsService['headBucket'] = async (principal, name) => buckets.headBucket(this.#open, principal, name)
  deleteBucket: ObjectsService['deleteBucket'] = async (principal, name) => buckets.deleteBucket(this.#open, principal, name)
  listBuckets: ObjectsService['listBuckets'] = async (principal) => buckets.listBuckets(this.#open, principal)
  putBucketVersioning: ObjectsService['putBucketVersioning'] = async (principal, name, state) => buckets.putBucketVersioning(this.#open, principal, name, state)
  getBucketTagging: ObjectsService['getBucketTagging'] = async (principal, name) => buckets.getBucketTagging(this.#open, principal, name)
  putBucketTagging: ObjectsService['putBucketTagging'] = async (principal, name, tags) => buckets.putBucketTagging(this.#open, principal, name, tags)
  deleteBucketTagging: ObjectsService['deleteBucketTagging'] = async (principal, name) => buckets.deleteBucketTagging(this.#open, principal, name)

  putObject: ObjectsService['putObject'] = async (input) => putObject(this.#open, input)
  getObject: ObjectsService['getObject'] = async (input) => getObject(this.#open, input, true)
  headObject: ObjectsService['headObject'] = async (input) => getObject(this.#open, input, false)
  deleteObject: ObjectsService['deleteObject'] = async (input) => deleteObject(this.#open, input)
  copyObject: ObjectsService['copyObject'] = async (input) => copyObject(this.#open, input)
  getObjectTagging: ObjectsService['getObjectTagging'] = async (input) => getObjectTagging(this.#open, input)
  putObjectTagging: ObjectsService['putObjectTagging'] = async (input) => putObjectTagging(this.#open, input)
  deleteObjectTagging: ObjectsService['deleteObjectTagging'] = async (input) => putObjectTagging(this.#open, { ...input, tags: [] })

  listObjects: ObjectsService['listObjects'] = async (input) => listObjects(this.#open, input)
  listObjectVersions: ObjectsService['listObjectVersions'] = async (input) => listObjectVersions(this.#open, input)

  createMultipartUpload: ObjectsService['createMultipartUpload'] = async (input) => createMultipartUpload(this.#open, input)
  uploadPart: ObjectsService['uploadPart'] = async (input) => uploadPart(this.#open, input)
  uploadPartCopy: ObjectsService['uploadPartCopy'] = async (input) => uploadPartCopy(this.#open, input)
  completeMultipartUpload: ObjectsService['completeMultipartUpload'] = async (input) => completeMultipartUpload(this.#open, input)
  abortMultipartUpload: ObjectsService['abortMultipartUpload'] = async (input) => abortMultipartUpload(this.#open, input)
  listParts: ObjectsService['listParts'] = async (input) => listParts(this.#open, input)
  listMultipartUploads: ObjectsService['listMultipartUploads'] = async (input) => listMultipartUploads(this.#open, input)
}
