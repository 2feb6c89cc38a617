// SSE-KMS (docs/encryption.md 2): which KMS key a write uses and how its data key is kept.
//
// Cairn's managed key (arn:aws:kms:REGION:000000000000:alias/aws/s3, also named alias/aws/s3 or
// aws/s3, and the key used when a request names none) keeps the SSE-S3 scheme: the bucket's key
// domain alone protects the chunks. A customer managed key (kms.ts) adds an envelope: a random
// per-object (per-upload) data key, wrapped by the KMS key or by the bucket's bucket key,
// encrypts the data in AES-256-CTR with the SSE-C stream layout (sse-customer.ts) before the
// chunk store seals it in the bucket's domain. Reads unwrap the data key through the KMS, so a
// disabled key makes the data unreadable through the API until it is enabled again.
// The encryption context (x-amz-server-side-encryption-context) is stored as canonical JSON and
// is the associated data of the data key's wrapping.
// Never: write envelope data without its data key wrapped in the record; unwrap for a HEAD.
import type { BucketRecord, StoredEncryption } from '../model/index.ts'
import type { ObjectsContext } from './context.ts'
import { encryptStream } from './sse-customer.ts'

/** The id of the one KMS key Cairn manages itself, as S3 answers it (an ARN in the bucket's region). */
export function managedKmsKeyId(region: string): string {
  return `arn:aws:kms:${region}:000000000000:alias/aws/s3`
}

/** Whether a requested key id names the managed key (or none, which means it). */
export function isManagedKmsKey(requested: string | undefined, region: string): boolean {
  return requested === undefined || requested === '' || requested === managedKmsKeyId(region) || requested === 'alias/aws/s3' || requested === 'aws/s3'
}

export type KmsEncryption = Extract<StoredEncryption, { kind: 'SSE-KMS' }>

export interface KmsWrite {
  readonly stored: KmsEncryption
  /** Present for a customer managed key: each stream is encrypted with it. */
  readonly dataKey: Buffer | undefined
}

/** The SSE-KMS record (and data key) of a new version or upload in bucket. */
export async function newKmsWrite(
  context: ObjectsContext,
  bucket: BucketRecord,
  domain: number,
  request: { kmsKeyId: string | undefined; bucketKeyEnabled: boolean; context: string | undefined },
): Promise<KmsWrite> {
  const common = { kind: 'SSE-KMS' as const, domain, bucketKeyEnabled: request.bucketKeyEnabled, ...(request.context === undefined ? {} : { context: request.context }) }
  if (isManagedKmsKey(request.kmsKeyId, bucket.region)) return { stored: { ...common, kmsKeyId: managedKmsKeyId(bucket.region) }, dataKey: undefined }
  const key = await context.kms.resolveForEncryption(request.kmsKeyId ?? '')
  const { dataKey, envelope } = await context.kms.newDataKey(key, request.context ?? '', request.bucketKeyEnabled ? bucket.id : undefined)
  return { stored: { ...common, kmsKeyId: key.arn, envelope }, dataKey }
}

/** The data key of an envelope version or upload (KMS.DisabledException while its key is disabled). */
export async function kmsDataKey(context: ObjectsContext, stored: KmsEncryption): Promise<Buffer | undefined> {
  if (stored.envelope === undefined) return undefined
  return context.kms.openDataKey(stored.envelope, stored.context ?? '')
}

/** The bytes to store for a stream: CTR under the data key, or as they are for the managed key. */
export function kmsWrap(dataKey: Buffer | undefined): (body: AsyncIterable<Uint8Array>, streamIndex: number) => AsyncIterable<Uint8Array> {
  return dataKey === undefined ? (body) => body : (body, streamIndex) => encryptStream(body, dataKey, streamIndex)
}

/** Check a key id for PutBucketEncryption: the managed key, or an existing customer key. */
export async function checkKmsKeyExists(context: ObjectsContext, requested: string | undefined, region: string): Promise<void> {
  if (!isManagedKmsKey(requested, region)) await context.kms.checkExists(requested ?? '')
}
