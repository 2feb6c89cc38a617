// Server-side encryption (docs/encryption.md): bucket default encryption (Put/Get/Delete
// BucketEncryption), what a write is encrypted with, and what a read needs.
//
// SSE-S3 (AES256) and SSE-KMS (aws:kms) seal the object's chunks in a key domain of the bucket
// (KeyRing.createDomain, created on first use and recorded in ('s3','encryption',bucketId)):
// chunk ids are keyed by the domain, so dedup stays inside the bucket and the ciphertext is
// AES-256-GCM per chunk (docs/format/keys.md). Such objects are never stored inline in metadata,
// so no plaintext reaches the metadata store. SSE-KMS under a customer managed key also
// encrypts the data with a per-object data key wrapped by the KMS key (sse-kms.ts).
// SSE-C: sse-customer.ts. A request's choice wins over the bucket default, as in S3.
// ETags: as on AWS, the ETag of SSE-S3 data (and of unencrypted data) is the MD5 of the
// plaintext; for SSE-KMS and SSE-C it is not (here: 16 random bytes), so it reveals nothing
// about the content.
// Never: store SSE-S3/KMS data in the plain domain; accept a KMS key id the KMS does not know.
import { plainDomain, StoreError, keyDomainIdFrom, type KeyDomainId } from '../lib/index.ts'
import type { ReadTx } from '../meta/index.ts'
import {
  bucketEncryptionKey,
  decodeBucketEncryption,
  encodeBucketEncryption,
  sseAlgorithms,
  type BucketEncryptionConfig,
  type BucketEncryptionRecord,
  type BucketRecord,
  type StoredEncryption,
  type VersionRecord,
} from '../model/index.ts'
import type { ResolvedRange } from './conditions.ts'
import type { EncryptionRequest, ObjectEncryptionInfo, Principal } from './api.ts'
import { accessBucket } from './buckets.ts'
import type { ObjectsContext } from './context.ts'
import { invalidArgument, ObjectsError } from './errors.ts'
import { customerDataKey, customerKeyBytes, decryptBody, encryptStream, newCustomerEncryption, rejectUnexpectedCustomerKey, streamLayout } from './sse-customer.ts'
import { checkKmsKeyExists, isManagedKmsKey, kmsDataKey, kmsWrap, managedKmsKeyId, newKmsWrite } from './sse-kms.ts'

export { managedKmsKeyId } from './sse-kms.ts'

export function encryptionInfo(stored: StoredEncryption | undefined): ObjectEncryptionInfo | undefined {
  if (stored === undefined) return undefined
  switch (stored.kind) {
    case 'SSE-S3':
      return { kind: 'SSE-S3' }
    case 'SSE-KMS':
      return { kind: 'SSE-KMS', kmsKeyId: stored.kmsKeyId, bucketKeyEnabled: stored.bucketKeyEnabled, ...(stored.context === undefined ? {} : { context: stored.context }) }
    case 'SSE-C':
      return { kind: 'SSE-C' }
  }
}

async function readEncryptionRecord(tx: ReadTx, bucket: BucketRecord): Promise<BucketEncryptionRecord | undefined> {
  const stored = await tx.get(bucketEncryptionKey(bucket.id))
  return stored === undefined ? undefined : decodeBucketEncryption(stored, `('s3','encryption',${bucket.id})`)
}

/** The bucket's key domain, created (and recorded) on first use. */
async function bucketDomain(context: ObjectsContext, bucket: BucketRecord): Promise<KeyDomainId> {
  const existing = await context.meta.read((tx) => readEncryptionRecord(tx, bucket))
  if (existing?.domain !== undefined) return keyDomainIdFrom(existing.domain)
  const source = context.dataManagement.keyDomains
  if (source === undefined) throw new StoreError('NOT_IMPLEMENTED', 'server-side encryption needs a key ring (this objects layer was opened without one)')
  const created = await source.createDomain()
  // Two first writers may both create a domain: the first recorded wins, the other stays unused.
  const domain = await context.meta.transact(async (tx) => {
    const current = await readEncryptionRecord(tx, bucket)
    if (current?.domain !== undefined) return current.domain
    tx.put(bucketEncryptionKey(bucket.id), encodeBucketEncryption({ ...(current ?? { bucketName: bucket.name }), domain: created }))
    return created
  })
  return keyDomainIdFrom(domain)
}

export interface WriteEncryption {
  /** What the version (or upload) records; undefined: not encrypted. */
  readonly stored: StoredEncryption | undefined
  /** The key domain chunks are put in. */
  readonly domain: KeyDomainId
  /** Whether the data may be stored inline in the version record (never for SSE-S3/KMS plaintext). */
  readonly inline: boolean
  /** The bytes to store for a stream of the object (SSE-C and customer-key SSE-KMS ciphertext; others as they are). */
  wrap(body: AsyncIterable<Uint8Array>, streamIndex: number): AsyncIterable<Uint8Array>
  /** The ETag to record for data whose plaintext MD5 is md5Hex (see the module comment). */
  etag(md5Hex: string): string
}

const md5Etag = (md5Hex: string): string => md5Hex
const plainWrite: WriteEncryption = { stored: undefined, domain: plainDomain, inline: true, wrap: (body) => body, etag: md5Etag }

/** AWS's SSE-KMS and SSE-C ETags are not the MD5 of the plaintext: 16 random bytes here. */
function opaqueEtag(context: ObjectsContext): (md5Hex: string) => string {
  return () => context.random.bytes(16).toString('hex')
}

function etagFor(context: ObjectsContext, stored: StoredEncryption | undefined): (md5Hex: string) => string {
  return stored?.kind === 'SSE-KMS' || stored?.kind === 'SSE-C' ? opaqueEtag(context) : md5Etag
}

/** A JSON object of strings, as x-amz-server-side-encryption-context carries (the edge canonicalises it). */
function checkEncryptionContext(text: string): void {
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch {
    value = undefined
  }
  const isMap = typeof value === 'object' && value !== null && !Array.isArray(value) && Object.values(value).every((entry) => typeof entry === 'string')
  if (!isMap) throw invalidArgument('InvalidArgument', 'The header \'x-amz-server-side-encryption-context\' shall be Base64-encoded UTF-8 string holding JSON which represents a string-string map')
}

function checkRequest(request: EncryptionRequest): void {
  if (request.algorithm !== undefined && !sseAlgorithms.includes(request.algorithm)) {
    throw invalidArgument('InvalidEncryptionAlgorithmError', `The encryption method specified is not supported: ${String(request.algorithm)}`)
  }
  if (request.customerKey !== undefined) {
    if (request.algorithm !== undefined) throw invalidArgument('InvalidArgument', 'Server Side Encryption with Customer provided key is incompatible with the encryption method specified')
    if (request.customerKey.length !== customerKeyBytes) throw invalidArgument('InvalidArgument', 'The secret key was invalid for the specified algorithm.')
  }
  if ((request.kmsKeyId !== undefined || request.context !== undefined) && request.algorithm !== 'aws:kms') {
    throw invalidArgument('InvalidArgument', 'Server Side Encryption with AWS KMS managed key requires HTTP header x-amz-server-side-encryption : aws:kms')
  }
  if (request.context !== undefined) checkEncryptionContext(request.context)
}

/** How a write into bucket is encrypted: the request's choice, else the bucket default, else none. */
export async function resolveWriteEncryption(context: ObjectsContext, principal: Principal, bucketName: string, request: EncryptionRequest | undefined): Promise<WriteEncryption> {
  if (request !== undefined) checkRequest(request)
  if (request?.customerKey !== undefined) {
    const { stored, dataKey } = newCustomerEncryption(request.customerKey, context.random)
    return { stored, domain: plainDomain, inline: true, wrap: (body, streamIndex) => encryptStream(body, dataKey, streamIndex), etag: opaqueEtag(context) }
  }
  const { bucket, config } = await context.meta.read(async (tx) => {
    const bucket = await accessBucket(tx, principal, bucketName)
    return { bucket, config: (await readEncryptionRecord(tx, bucket))?.config }
  })
  const algorithm = request?.algorithm ?? config?.algorithm
  if (algorithm === undefined) return plainWrite
  const domain = await bucketDomain(context, bucket)
  if (algorithm === 'AES256') return { stored: { kind: 'SSE-S3', domain }, domain, inline: false, wrap: (body) => body, etag: md5Etag }
  const { stored, dataKey } = await newKmsWrite(context, bucket, domain, {
    kmsKeyId: request?.algorithm === undefined ? config?.kmsKeyId : request.kmsKeyId,
    bucketKeyEnabled: request?.bucketKeyEnabled ?? config?.bucketKeyEnabled ?? false,
    context: request?.context,
  })
  return { stored, domain, inline: false, wrap: kmsWrap(dataKey), etag: opaqueEtag(context) }
}

/** The write side of an upload's parts: the upload's encryption with the key this request sent. */
export async function partWriteEncryption(context: ObjectsContext, stored: StoredEncryption | undefined, customerKey: Buffer | undefined): Promise<WriteEncryption> {
  if (stored === undefined) {
    rejectUnexpectedCustomerKey(customerKey)
    return plainWrite
  }
  if (stored.kind !== 'SSE-C') {
    rejectUnexpectedCustomerKey(customerKey)
    const dataKey = stored.kind === 'SSE-KMS' ? await kmsDataKey(context, stored) : undefined
    return { stored, domain: keyDomainIdFrom(stored.domain), inline: false, wrap: kmsWrap(dataKey), etag: etagFor(context, stored) }
  }
  const dataKey = customerDataKey(stored, customerKey)
  return { stored, domain: plainDomain, inline: true, wrap: (body, streamIndex) => encryptStream(body, dataKey, streamIndex), etag: opaqueEtag(context) }
}

export type Decryption = (body: AsyncIterable<Buffer>, range: ResolvedRange | undefined) => AsyncIterable<Buffer>

/**
 * The read side of a version: checks the SSE-C key a request sent (also for HEAD) and returns
 * how to turn the stored bytes of a range into plaintext. withData false (HEAD): the KMS is not
 * asked, as AWS answers HEAD of an object whose KMS key is disabled.
 */
export async function readDecryption(context: ObjectsContext, record: VersionRecord, customerKey: Buffer | undefined, withData: boolean): Promise<Decryption> {
  const encryption = record.encryption
  if (encryption?.kind !== 'SSE-C') {
    rejectUnexpectedCustomerKey(customerKey)
    if (encryption?.kind !== 'SSE-KMS' || encryption.envelope === undefined || !withData) return (body) => body
    const dataKey = await kmsDataKey(context, encryption)
    if (dataKey === undefined) return (body) => body
    const layout = streamLayout(record)
    return (body, range) => decryptBody(body, dataKey, layout, range?.first ?? 0)
  }
  const dataKey = customerDataKey(encryption, customerKey)
  const layout = streamLayout(record)
  return (body, range) => decryptBody(body, dataKey, layout, range?.first ?? 0)
}

async function validateConfig(context: ObjectsContext, config: BucketEncryptionConfig, region: string): Promise<BucketEncryptionConfig> {
  if (!sseAlgorithms.includes(config.algorithm)) throw invalidArgument('MalformedXML', `SSEAlgorithm must be AES256 or aws:kms, not ${String(config.algorithm)}`)
  if (config.algorithm === 'AES256' && config.kmsKeyId !== undefined) {
    throw invalidArgument('InvalidArgument', 'a KMSMasterKeyID is only allowed with SSEAlgorithm aws:kms')
  }
  if (config.algorithm === 'AES256') return { algorithm: config.algorithm, bucketKeyEnabled: config.bucketKeyEnabled }
  // The managed key is recorded as its ARN; a customer key as the client named it (as AWS does:
  // GetBucketEncryption answers the id, ARN or alias it was given), after checking it exists.
  await checkKmsKeyExists(context, config.kmsKeyId, region)
  const kmsKeyId = isManagedKmsKey(config.kmsKeyId, region) ? managedKmsKeyId(region) : (config.kmsKeyId ?? '')
  return { algorithm: config.algorithm, kmsKeyId, bucketKeyEnabled: config.bucketKeyEnabled }
}

export async function putBucketEncryption(context: ObjectsContext, principal: Principal, name: string, config: BucketEncryptionConfig): Promise<void> {
  const bucket = await context.meta.read((tx) => accessBucket(tx, principal, name))
  const validated = await validateConfig(context, config, bucket.region)
  await bucketDomain(context, bucket) // fail now, not at the first write, when there is no key ring
  await context.meta.transact(async (tx) => {
    const current = await accessBucket(tx, principal, name)
    if (current.id !== bucket.id) throw new ObjectsError('CONFLICT', `bucket ${name} was deleted and created again during the request`, { subject: 'bucket' })
    const record = await readEncryptionRecord(tx, current)
    tx.put(bucketEncryptionKey(current.id), encodeBucketEncryption({ ...(record ?? { bucketName: name }), config: validated }))
  })
}

export async function getBucketEncryption(context: ObjectsContext, principal: Principal, name: string): Promise<BucketEncryptionConfig> {
  const config = await context.meta.read(async (tx) => (await readEncryptionRecord(tx, await accessBucket(tx, principal, name)))?.config)
  if (config === undefined) {
    throw new ObjectsError('NOT_FOUND', 'The server side encryption configuration was not found', { subject: 'configuration', hint: 'ServerSideEncryptionConfigurationNotFoundError' })
  }
  return config
}

export async function deleteBucketEncryption(context: ObjectsContext, principal: Principal, name: string): Promise<void> {
  await context.meta.transact(async (tx) => {
    const bucket = await accessBucket(tx, principal, name)
    const record = await readEncryptionRecord(tx, bucket)
    if (record?.config === undefined) return
    const { config: _removed, ...rest } = record
    tx.put(bucketEncryptionKey(bucket.id), encodeBucketEncryption(rest))
  })
}
