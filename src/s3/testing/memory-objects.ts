// An in-memory ObjectsService for the S3 front-end's tests: small, obviously correct, slow
// (bodies are collected into Buffers, listings sort every key). It follows src/objects/api.ts
// closely enough to drive every handler (versioning, delete markers, conditions, ranges,
// multipart, tagging) with real clients, and is never used outside tests.
import { randomBytes } from 'node:crypto'
import { StoreError, type Clock } from '../../lib/index.ts'
import type {
  AccessKeyRecord, BodyDigests, BucketInfo, ByteRange, CopyObjectInput, DeleteObjectResult, GetObjectInput, GetObjectResult, ListObjectsInput,
  ListObjectsResult, ListVersionsInput, ListVersionsResult, MultipartUploadInfo, ObjectsService, ObjectVersionInfo, PartInfo, Principal,
  PutObjectInput, PutObjectResult, ReadConditions, Tags, UserId, UserService, VersioningState,
} from '../../objects/index.ts'
import { ObjectsError, validateBucketName } from '../../objects/index.ts'
import { multipartEtag, compositeChecksum, fullObjectChecksum } from '../checksum/index.ts'

interface StoredVersion {
  info: ObjectVersionInfo
  data: Buffer
  tags: Tags
  partMd5s?: Buffer[]
}

interface Bucket {
  info: BucketInfo
  tags: Tags
  versions: Map<string, StoredVersion[]> // oldest first
  uploads: Map<string, Upload>
}

interface Upload {
  info: MultipartUploadInfo
  contentHeaders: ObjectVersionInfo['contentHeaders']
  userMetadata: Record<string, string>
  tags: Tags
  parts: Map<number, { info: PartInfo; data: Buffer; md5: Buffer }>
}

function notFound(subject: 'bucket' | 'key' | 'version' | 'upload' | 'part', message: string): StoreError {
  return new StoreError('NOT_FOUND', message, { subject })
}

/** The objects layer's error for a read that ran into a delete marker. */
function withDeleteMarker(error: StoreError, info: ObjectVersionInfo): StoreError {
  return new ObjectsError(error.code, error.message, { ...(error.subject === undefined ? {} : { subject: error.subject }), deleteMarker: { versionId: info.versionId, lastModifiedMs: info.lastModifiedMs } })
}

async function collect(body: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const pieces: Buffer[] = []
  for await (const piece of body) pieces.push(Buffer.from(piece))
  return Buffer.concat(pieces)
}

async function* chunks(data: Buffer): AsyncGenerator<Buffer> {
  for (let offset = 0; offset < data.length; offset += 65536) yield data.subarray(offset, offset + 65536)
}

function unquote(etag: string): string {
  return etag.trim().replace(/^W\//, '').replace(/^"|"$/g, '')
}

export function checkReadConditions(info: ObjectVersionInfo, conditions: ReadConditions | undefined): void {
  if (conditions === undefined) return
  const etag = unquote(info.etag)
  const matches = (list: string) => list.split(',').some((candidate) => candidate.trim() === '*' || unquote(candidate) === etag)
  if (conditions.ifMatch !== undefined && !matches(conditions.ifMatch)) throw new StoreError('PRECONDITION_FAILED', 'If-Match failed')
  if (conditions.ifMatch === undefined && conditions.ifUnmodifiedSinceMs !== undefined && info.lastModifiedMs > conditions.ifUnmodifiedSinceMs + 999) {
    throw new StoreError('PRECONDITION_FAILED', 'If-Unmodified-Since failed')
  }
  if (conditions.ifNoneMatch !== undefined && matches(conditions.ifNoneMatch)) throw new StoreError('NOT_MODIFIED', 'If-None-Match matched')
  if (conditions.ifNoneMatch === undefined && conditions.ifModifiedSinceMs !== undefined && info.lastModifiedMs <= conditions.ifModifiedSinceMs + 999) {
    throw new StoreError('NOT_MODIFIED', 'not modified since')
  }
}

function resolveRange(range: ByteRange | undefined, size: number): { first: number; last: number } | undefined {
  if (range === undefined) return undefined
  if ('suffixBytes' in range) {
    if (range.suffixBytes === 0 || size === 0) throw new StoreError('INVALID_RANGE', 'empty range')
    return { first: Math.max(0, size - range.suffixBytes), last: size - 1 }
  }
  if (range.first >= size) throw new StoreError('INVALID_RANGE', 'range starts past the end')
  return { first: range.first, last: Math.min(range.last ?? size - 1, size - 1) }
}

class MemoryUsers implements UserService {
  readonly #byKey = new Map<string, AccessKeyRecord & { name: string; createdMs: number }>()
  readonly #clock: Clock
  constructor(clock: Clock, root: { accessKeyId: string; secretKey: string }) {
    this.#clock = clock
    this.#byKey.set(root.accessKeyId, {
      principal: { userId: 'root' as UserId, accessKeyId: root.accessKeyId, displayName: 'root', isRoot: true },
      secretKey: root.secretKey,
      name: 'root',
      createdMs: clock.nowMs(),
    })
  }
  async lookupAccessKey(accessKeyId: string) {
    const record = this.#byKey.get(accessKeyId)
    return record === undefined ? undefined : { principal: record.principal, secretKey: record.secretKey }
  }
  async createUser(name: string) {
    if ([...this.#byKey.values()].some((record) => record.name === name)) throw new StoreError('ALREADY_EXISTS', `user ${name} exists`, { subject: 'user' })
    const accessKeyId = randomBytes(10).toString('hex').toUpperCase()
    const secretKey = randomBytes(20).toString('base64url')
    const userId = `user-${name}` as UserId
    this.#byKey.set(accessKeyId, { principal: { userId, accessKeyId, displayName: name, isRoot: false }, secretKey, name, createdMs: this.#clock.nowMs() })
    return { userId, name, accessKeyId, secretKey }
  }
  async listUsers() {
    return [...this.#byKey.values()].map((record) => ({ userId: record.principal.userId, name: record.name, accessKeyIds: [record.principal.accessKeyId], createdMs: record.createdMs }))
  }
  async deleteUser(name: string) {
    for (const [key, record] of this.#byKey) if (record.name === name) this.#byKey.delete(key)
  }
}

export class MemoryObjects implements ObjectsService {
  readonly users: UserService
  readonly #clock: Clock
  readonly #buckets = new Map<string, Bucket>()
  #counter = 0

  constructor(options: { clock: Clock; rootAccessKeyId: string; rootSecretKey: string }) {
    this.#clock = options.clock
    this.users = new MemoryUsers(options.clock, { accessKeyId: options.rootAccessKeyId, secretKey: options.rootSecretKey })
  }

  #bucket(principal: Principal, name: string): Bucket {
    const bucket = this.#buckets.get(name)
    if (bucket === undefined || (!principal.isRoot && bucket.info.owner !== principal.userId)) throw notFound('bucket', `no bucket ${name}`)
    return bucket
  }

  #newVersionId(): string {
    this.#counter++
    return `v${String(this.#counter).padStart(8, '0')}${randomBytes(4).toString('hex')}`
  }

  async createBucket(principal: Principal, name: string, options?: { region?: string }) {
    validateBucketName(name)
    if (this.#buckets.has(name)) throw new StoreError('ALREADY_EXISTS', `bucket ${name} exists`, { subject: 'bucket' })
    const info: BucketInfo = { name, owner: principal.userId, createdMs: this.#clock.nowMs(), region: options?.region ?? 'us-east-1', versioning: 'Unversioned' }
    this.#buckets.set(name, { info, tags: [], versions: new Map(), uploads: new Map() })
  }
  async headBucket(principal: Principal, name: string) {
    return this.#bucket(principal, name).info
  }
  async deleteBucket(principal: Principal, name: string) {
    const bucket = this.#bucket(principal, name)
    if (bucket.versions.size > 0) throw new StoreError('NOT_EMPTY', 'bucket not empty', { subject: 'bucket' })
    this.#buckets.delete(name)
  }
  async listBuckets(principal: Principal) {
    return [...this.#buckets.values()].filter((bucket) => principal.isRoot || bucket.info.owner === principal.userId).map((bucket) => bucket.info)
  }
  async putBucketVersioning(principal: Principal, name: string, state: 'Enabled' | 'Suspended') {
    const bucket = this.#bucket(principal, name)
    bucket.info = { ...bucket.info, versioning: state }
  }
  async getBucketTagging(principal: Principal, name: string) {
    return this.#bucket(principal, name).tags
  }
  async putBucketTagging(principal: Principal, name: string, tags: Tags) {
    this.#bucket(principal, name).tags = tags
  }
  async deleteBucketTagging(principal: Principal, name: string) {
    this.#bucket(principal, name).tags = []
  }

  #latest(bucket: Bucket, key: string): StoredVersion | undefined {
    const versions = bucket.versions.get(key)
    return versions?.[versions.length - 1]
  }

  #find(bucket: Bucket, key: string, versionId: string | undefined): StoredVersion {
    if (versionId === undefined) {
      const latest = this.#latest(bucket, key)
      if (latest === undefined) throw notFound('key', `no key ${key}`)
      if (latest.info.isDeleteMarker) throw withDeleteMarker(notFound('key', `no key ${key}`), latest.info)
      return latest
    }
    const found = bucket.versions.get(key)?.find((version) => version.info.versionId === versionId)
    if (found === undefined) throw notFound('version', `no version ${versionId}`)
    if (found.info.isDeleteMarker) throw withDeleteMarker(new StoreError('INVALID_STATE', 'MethodNotAllowed: the version is a delete marker', { subject: 'version' }), found.info)
    return found
  }

  /** Add a version as the latest, following the bucket's versioning state. */
  #commit(bucket: Bucket, key: string, make: (versionId: string) => StoredVersion): StoredVersion {
    const versioned = bucket.info.versioning === 'Enabled'
    const versionId = versioned ? this.#newVersionId() : 'null'
    const list = (bucket.versions.get(key) ?? []).filter((version) => versioned || version.info.versionId !== 'null')
    for (const [index, version] of list.entries()) list[index] = { ...version, info: { ...version.info, isLatest: false } }
    const stored = make(versionId)
    list.push(stored)
    bucket.versions.set(key, list)
    return stored
  }

  #checkWriteConditions(bucket: Bucket, key: string, ifMatch: string | undefined, ifNoneMatch: '*' | undefined): void {
    const latest = this.#latest(bucket, key)
    const current = latest !== undefined && !latest.info.isDeleteMarker ? latest : undefined
    if (ifNoneMatch === '*' && current !== undefined) throw new StoreError('PRECONDITION_FAILED', 'If-None-Match: object exists')
    if (ifMatch !== undefined && (current === undefined || unquote(current.info.etag) !== unquote(ifMatch))) {
      if (current === undefined) throw notFound('key', 'If-Match: no such key')
      throw new StoreError('PRECONDITION_FAILED', 'If-Match failed')
    }
  }

  #versionInfo(bucket: Bucket, key: string, versionId: string, fields: Partial<ObjectVersionInfo> & Pick<ObjectVersionInfo, 'etag' | 'sizeBytes' | 'owner'>): ObjectVersionInfo {
    return {
      bucket: bucket.info.name, key, versionId, isLatest: true, isDeleteMarker: false, lastModifiedMs: this.#clock.nowMs(), storageClass: 'STANDARD',
      contentHeaders: {}, userMetadata: {}, tagCount: 0, ...fields,
    }
  }

  async putObject(input: PutObjectInput): Promise<PutObjectResult> {
    const bucket = this.#bucket(input.principal, input.bucket)
    const data = await collect(input.body)
    const digests: BodyDigests = await input.digests()
    if (input.sizeBytes !== undefined && input.sizeBytes !== data.length) throw new StoreError('INVALID_ARGUMENT', 'IncompleteBody: size mismatch')
    this.#checkWriteConditions(bucket, input.key, input.ifMatch, input.ifNoneMatch)
    const tags = input.tags ?? []
    const stored = this.#commit(bucket, input.key, (versionId) => ({
      info: this.#versionInfo(bucket, input.key, versionId, {
        etag: `"${digests.md5Hex}"`, sizeBytes: data.length, owner: input.principal.userId, contentHeaders: input.contentHeaders,
        userMetadata: input.userMetadata, tagCount: tags.length, storageClass: input.storageClass ?? 'STANDARD',
        ...(digests.checksum === undefined ? {} : { checksum: digests.checksum }),
      }),
      data,
      tags,
    }))
    return { etag: stored.info.etag, sizeBytes: data.length, ...this.#versionField(bucket, stored), ...(digests.checksum === undefined ? {} : { checksum: digests.checksum }) }
  }

  #versionField(bucket: Bucket, stored: StoredVersion): { versionId?: string } {
    return bucket.info.versioning === 'Unversioned' ? {} : { versionId: stored.info.versionId }
  }

  #read(input: GetObjectInput, withBody: boolean): GetObjectResult {
    const bucket = this.#bucket(input.principal, input.bucket)
    const stored = this.#find(bucket, input.key, input.versionId)
    checkReadConditions(stored.info, input.conditions)
    const size = stored.data.length
    let range = resolveRange(input.range, size)
    if (input.partNumber !== undefined) {
      const sizes = stored.info.partSizesBytes ?? [size]
      if (input.partNumber > sizes.length) throw new StoreError('INVALID_RANGE', 'no such part')
      const first = sizes.slice(0, input.partNumber - 1).reduce((sum, value) => sum + value, 0)
      range = { first, last: first + (sizes[input.partNumber - 1] ?? 0) - 1 }
    }
    const served = range ?? { first: 0, last: size - 1 }
    return {
      version: stored.info,
      bucketVersioning: bucket.info.versioning,
      ...(range === undefined ? {} : { range: { ...range, totalBytes: size } }),
      ...(withBody ? { body: chunks(stored.data.subarray(served.first, served.last + 1)) } : {}),
    }
  }

  async getObject(input: GetObjectInput) {
    return this.#read(input, true)
  }
  async headObject(input: GetObjectInput) {
    return this.#read(input, false)
  }

  async deleteObject(input: { bucket: string; key: string; principal: Principal; versionId?: string }): Promise<DeleteObjectResult> {
    const bucket = this.#bucket(input.principal, input.bucket)
    const list = bucket.versions.get(input.key) ?? []
    if (input.versionId !== undefined) {
      const index = list.findIndex((version) => version.info.versionId === input.versionId)
      if (index < 0) throw notFound('version', 'no such version')
      const [removed] = list.splice(index, 1)
      const last = list[list.length - 1]
      if (last !== undefined) list[list.length - 1] = { ...last, info: { ...last.info, isLatest: true } }
      if (list.length === 0) bucket.versions.delete(input.key)
      return { versionId: input.versionId, deleteMarker: removed?.info.isDeleteMarker ?? false }
    }
    if (bucket.info.versioning === 'Unversioned') {
      bucket.versions.delete(input.key)
      return { deleteMarker: false }
    }
    const marker = this.#commit(bucket, input.key, (versionId) => ({
      info: this.#versionInfo(bucket, input.key, versionId, { etag: '', sizeBytes: 0, owner: input.principal.userId, isDeleteMarker: true }),
      data: Buffer.alloc(0),
      tags: [],
    }))
    return { versionId: marker.info.versionId, deleteMarker: true }
  }

  async copyObject(input: CopyObjectInput) {
    const sourceBucket = this.#bucket(input.principal, input.source.bucket)
    const source = this.#find(sourceBucket, input.source.key, input.source.versionId)
    checkReadConditions(source.info, input.source.conditions)
    const bucket = this.#bucket(input.principal, input.bucket)
    const replace = input.metadataDirective === 'REPLACE'
    const tags = input.taggingDirective === 'REPLACE' ? (input.tags ?? []) : source.tags
    const stored = this.#commit(bucket, input.key, (versionId) => ({
      info: this.#versionInfo(bucket, input.key, versionId, {
        etag: source.info.etag, sizeBytes: source.data.length, owner: input.principal.userId,
        contentHeaders: replace ? (input.contentHeaders ?? {}) : source.info.contentHeaders,
        userMetadata: replace ? (input.userMetadata ?? {}) : source.info.userMetadata,
        tagCount: tags.length, storageClass: input.storageClass ?? source.info.storageClass,
        ...(source.info.checksum === undefined ? {} : { checksum: source.info.checksum }),
        ...(source.info.partSizesBytes === undefined ? {} : { partSizesBytes: source.info.partSizesBytes }),
      }),
      data: source.data,
      tags,
    }))
    return {
      etag: stored.info.etag, sizeBytes: stored.data.length, lastModifiedMs: stored.info.lastModifiedMs, ...this.#versionField(bucket, stored),
      ...(sourceBucket.info.versioning === 'Unversioned' ? {} : { sourceVersionId: source.info.versionId }),
    }
  }

  #taggable(input: { bucket: string; key: string; principal: Principal; versionId?: string }): { bucket: Bucket; stored: StoredVersion } {
    const bucket = this.#bucket(input.principal, input.bucket)
    return { bucket, stored: this.#find(bucket, input.key, input.versionId) }
  }
  async getObjectTagging(input: { bucket: string; key: string; principal: Principal; versionId?: string }) {
    const { bucket, stored } = this.#taggable(input)
    return { tags: stored.tags, ...this.#versionField(bucket, stored) }
  }
  async putObjectTagging(input: { bucket: string; key: string; principal: Principal; versionId?: string; tags: Tags }) {
    const { bucket, stored } = this.#taggable(input)
    stored.tags = input.tags
    stored.info = { ...stored.info, tagCount: input.tags.length }
    return this.#versionField(bucket, stored)
  }
  async deleteObjectTagging(input: { bucket: string; key: string; principal: Principal; versionId?: string }) {
    return this.putObjectTagging({ ...input, tags: [] })
  }

  /** Group keys (in order) into entries of the page: a key, or the common prefix it falls under. */
  #page<T>(keys: string[], input: { prefix?: string; delimiter?: string; after?: string; maxKeys: number }, entriesOf: (key: string) => T[]) {
    const prefix = input.prefix ?? ''
    const entries: Array<{ key: string; items?: T[]; commonPrefix?: string }> = []
    for (const key of keys.sort()) {
      if (!key.startsWith(prefix)) continue
      const delimiterAt = input.delimiter === undefined ? -1 : key.indexOf(input.delimiter, prefix.length)
      if (delimiterAt >= 0 && input.delimiter !== undefined) {
        const commonPrefix = key.slice(0, delimiterAt + input.delimiter.length)
        if (input.after !== undefined && commonPrefix <= input.after) continue
        if (entries[entries.length - 1]?.commonPrefix !== commonPrefix) entries.push({ key: commonPrefix, commonPrefix })
        continue
      }
      if (input.after !== undefined && key <= input.after) continue
      const items = entriesOf(key)
      if (items.length > 0) entries.push({ key, items })
    }
    const page = entries.slice(0, input.maxKeys)
    return { page, isTruncated: entries.length > page.length, nextAfter: page[page.length - 1]?.key }
  }

  async listObjects(input: ListObjectsInput): Promise<ListObjectsResult> {
    const bucket = this.#bucket(input.principal, input.bucket)
    const { page, isTruncated, nextAfter } = this.#page([...bucket.versions.keys()], input, (key) => {
      const latest = this.#latest(bucket, key)
      return latest === undefined || latest.info.isDeleteMarker ? [] : [latest.info]
    })
    return {
      contents: page.flatMap((entry) => entry.items ?? []),
      commonPrefixes: page.flatMap((entry) => (entry.commonPrefix === undefined ? [] : [entry.commonPrefix])),
      isTruncated,
      ...(isTruncated && nextAfter !== undefined ? { nextAfter } : {}),
    }
  }

  async listObjectVersions(input: ListVersionsInput): Promise<ListVersionsResult> {
    // Pages whole keys only (enough for tests): version-id-marker is not honoured.
    const bucket = this.#bucket(input.principal, input.bucket)
    const { page, isTruncated, nextAfter } = this.#page([...bucket.versions.keys()], { ...input, ...(input.keyMarker === undefined ? {} : { after: input.keyMarker }) }, (key) =>
      [...(bucket.versions.get(key) ?? [])].reverse().map((version) => version.info),
    )
    return {
      versions: page.flatMap((entry) => entry.items ?? []),
      commonPrefixes: page.flatMap((entry) => (entry.commonPrefix === undefined ? [] : [entry.commonPrefix])),
      isTruncated,
      ...(isTruncated && nextAfter !== undefined ? { nextKeyMarker: nextAfter } : {}),
    }
  }

  #upload(input: { bucket: string; key: string; uploadId: string; principal: Principal }): { bucket: Bucket; upload: Upload } {
    const bucket = this.#bucket(input.principal, input.bucket)
    const upload = bucket.uploads.get(input.uploadId)
    if (upload === undefined || upload.info.key !== input.key) throw notFound('upload', 'no such upload')
    return { bucket, upload }
  }

  async createMultipartUpload(input: Parameters<ObjectsService['createMultipartUpload']>[0]) {
    const bucket = this.#bucket(input.principal, input.bucket)
    const info: MultipartUploadInfo = {
      uploadId: randomBytes(16).toString('base64url'), bucket: input.bucket, key: input.key, initiatedMs: this.#clock.nowMs(), owner: input.principal.userId,
      storageClass: input.storageClass ?? 'STANDARD',
      ...(input.checksumAlgorithm === undefined ? {} : { checksumAlgorithm: input.checksumAlgorithm }),
      ...(input.checksumType === undefined ? {} : { checksumType: input.checksumType }),
    }
    bucket.uploads.set(info.uploadId, { info, contentHeaders: input.contentHeaders, userMetadata: input.userMetadata, tags: input.tags ?? [], parts: new Map() })
    return info
  }

  async uploadPart(input: Parameters<ObjectsService['uploadPart']>[0]) {
    const { upload } = this.#upload(input)
    const data = await collect(input.body)
    const digests = await input.digests()
    const info: PartInfo = {
      partNumber: input.partNumber, etag: `"${digests.md5Hex}"`, sizeBytes: data.length, lastModifiedMs: this.#clock.nowMs(),
      ...(digests.checksum === undefined ? {} : { checksum: digests.checksum }),
    }
    upload.parts.set(input.partNumber, { info, data, md5: Buffer.from(digests.md5Hex, 'hex') })
    return info
  }

  async uploadPartCopy(input: Parameters<ObjectsService['uploadPartCopy']>[0]) {
    const { upload } = this.#upload(input)
    const sourceBucket = this.#bucket(input.principal, input.source.bucket)
    const source = this.#find(sourceBucket, input.source.key, input.source.versionId)
    checkReadConditions(source.info, input.source.conditions)
    const range = input.source.range
    if (range !== undefined && range.last >= source.data.length) throw new StoreError('INVALID_RANGE', 'copy range past the end')
    const data = range === undefined ? source.data : source.data.subarray(range.first, range.last + 1)
    const md5 = (await import('node:crypto')).createHash('md5').update(data).digest()
    const info: PartInfo = { partNumber: input.partNumber, etag: `"${md5.toString('hex')}"`, sizeBytes: data.length, lastModifiedMs: this.#clock.nowMs() }
    upload.parts.set(input.partNumber, { info, data, md5 })
    return info
  }

  async completeMultipartUpload(input: Parameters<ObjectsService['completeMultipartUpload']>[0]) {
    const { bucket, upload } = this.#upload(input)
    this.#checkWriteConditions(bucket, input.key, input.ifMatch, input.ifNoneMatch)
    const parts = input.parts.map((part, index) => {
      const stored = upload.parts.get(part.partNumber)
      if (stored === undefined || unquote(stored.info.etag) !== unquote(part.etag)) throw new StoreError('INVALID_STATE', 'part missing or ETag mismatch', { subject: 'part' })
      if (index < input.parts.length - 1 && stored.data.length < 5 * 1024 * 1024) throw new StoreError('INVALID_ARGUMENT', 'EntityTooSmall: Your proposed upload is smaller than the minimum allowed object size.')
      return stored
    })
    const { checksumAlgorithm: algorithm, checksumType } = upload.info
    let checksum: ObjectVersionInfo['checksum']
    if (algorithm !== undefined && parts.every((part) => part.info.checksum !== undefined)) {
      const digests = parts.map((part) => Buffer.from(part.info.checksum?.value ?? '', 'base64'))
      checksum = checksumType === 'FULL_OBJECT'
        ? { algorithm, type: 'FULL_OBJECT', value: fullObjectChecksum(algorithm, parts.map((part, index) => ({ digest: digests[index] ?? Buffer.alloc(0), sizeBytes: part.data.length }))).toString('base64') }
        : { algorithm, type: 'COMPOSITE', value: compositeChecksum(algorithm, digests) }
    }
    const data = Buffer.concat(parts.map((part) => part.data))
    const stored = this.#commit(bucket, input.key, (versionId) => ({
      info: this.#versionInfo(bucket, input.key, versionId, {
        etag: `"${multipartEtag(parts.map((part) => part.md5))}"`, sizeBytes: data.length, owner: input.principal.userId, contentHeaders: upload.contentHeaders,
        userMetadata: upload.userMetadata, tagCount: upload.tags.length, storageClass: upload.info.storageClass,
        partSizesBytes: parts.map((part) => part.data.length), ...(checksum === undefined ? {} : { checksum }),
      }),
      data,
      tags: upload.tags,
      partMd5s: parts.map((part) => part.md5),
    }))
    bucket.uploads.delete(input.uploadId)
    return { etag: stored.info.etag, sizeBytes: data.length, ...this.#versionField(bucket, stored), ...(checksum === undefined ? {} : { checksum }) }
  }

  async abortMultipartUpload(input: { bucket: string; key: string; uploadId: string; principal: Principal }) {
    const { bucket } = this.#upload(input)
    bucket.uploads.delete(input.uploadId)
  }

  async listParts(input: Parameters<ObjectsService['listParts']>[0]) {
    const { upload } = this.#upload(input)
    const all = [...upload.parts.values()].map((part) => part.info).filter((part) => part.partNumber > (input.partNumberMarker ?? 0)).sort((a, b) => a.partNumber - b.partNumber)
    const parts = all.slice(0, input.maxParts)
    const isTruncated = all.length > parts.length
    const last = parts[parts.length - 1]
    return { upload: upload.info, parts, isTruncated, ...(isTruncated && last !== undefined ? { nextPartNumberMarker: last.partNumber } : {}) }
  }

  async listMultipartUploads(input: Parameters<ObjectsService['listMultipartUploads']>[0]) {
    const bucket = this.#bucket(input.principal, input.bucket)
    const uploads = [...bucket.uploads.values()].map((upload) => upload.info).filter((upload) => upload.key.startsWith(input.prefix ?? '') && (input.keyMarker === undefined || upload.key > input.keyMarker))
    uploads.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : a.initiatedMs - b.initiatedMs))
    const page = uploads.slice(0, input.maxUploads)
    return { uploads: page, commonPrefixes: [], isTruncated: uploads.length > page.length }
  }
}

export type { VersioningState }
