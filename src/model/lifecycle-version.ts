// The data-management fields of version and upload records (docs/format/objects.md 3.2, 5):
// the restore state of an archived version, the access tier of an INTELLIGENT_TIERING version
// and the server-side encryption of a version's data.
// Both are optional JSON members of the record header; records written before they existed
// simply have neither.
//
// Invariants: a restore is ongoing exactly while completedMs is absent; expiresMs is set exactly
// when completedMs is. SSE-C records hold a random salt and an HMAC of the customer key under
// it, never the key or anything the key can be recovered from.
// Never: decode a member into a shape its encoder could not have written (IO_ERROR instead).
import { ShapeReader } from './shape.ts'

export const restoreTiers = ['Expedited', 'Standard', 'Bulk'] as const
export type RestoreTier = (typeof restoreTiers)[number]

export interface StoredRestore {
  readonly tier: RestoreTier
  /** Lifecycle days the restored copy stays readable. */
  readonly days: number
  readonly requestedMs: number
  /** When the restore completes (the due time of the restore worker). */
  readonly readyMs: number
  /** Set once the restored copy is readable. */
  readonly completedMs?: number
  /** Set with completedMs: when the restored copy goes away again. */
  readonly expiresMs?: number
}

/** S3 Intelligent-Tiering access tiers, warmest first (the names S3 Inventory uses). */
export const accessTiers = ['FREQUENT_ACCESS', 'INFREQUENT_ACCESS', 'ARCHIVE_INSTANT_ACCESS', 'ARCHIVE_ACCESS', 'DEEP_ARCHIVE_ACCESS'] as const
export type AccessTier = (typeof accessTiers)[number]

/**
 * Where an INTELLIGENT_TIERING version stands (absent: FREQUENT_ACCESS, last accessed when it
 * was written). lastAccessMs is the last GET / copy-source read the access log flushed.
 */
export interface StoredTiering {
  readonly accessTier: AccessTier
  readonly lastAccessMs: number
}

export const encryptionKinds = ['SSE-S3', 'SSE-KMS', 'SSE-C'] as const
export type EncryptionKind = (typeof encryptionKinds)[number]

/**
 * The data key of an SSE-KMS version or upload under a customer managed key (src/objects/kms.ts):
 * 32 random bytes, wrapped by generation `generation` of KMS key `keyId`, or, when `bucketKey`
 * is set, by that bucket's bucket key for the same key and generation. The data is AES-256-CTR
 * under the data key (the SSE-C stream layout, sse-customer.ts) before the chunk store seals it.
 */
export interface KmsEnvelope {
  readonly keyId: string
  readonly generation: number
  /** base64 of the wrapped data key (nonce || ciphertext || tag). */
  readonly wrappedKey: string
  /** The bucket id whose bucket key wraps the data key (absent: the KMS key wraps it). */
  readonly bucketKey?: number
}

/** How a version's data is encrypted at rest (absent: not encrypted by request). */
export type StoredEncryption =
  | { readonly kind: 'SSE-S3'; readonly domain: number }
  | {
      readonly kind: 'SSE-KMS'
      readonly domain: number
      /** The key's full ARN, as responses report it. */
      readonly kmsKeyId: string
      readonly bucketKeyEnabled: boolean
      /** Canonical JSON of x-amz-server-side-encryption-context (bound to the data key as AAD). */
      readonly context?: string
      /** Absent for Cairn's managed key (alias/aws/s3): the bucket's key domain alone protects it. */
      readonly envelope?: KmsEnvelope
    }
  | { readonly kind: 'SSE-C'; readonly salt: string; readonly keyHmac: string }

export function encodeRestore(restore: StoredRestore): Record<string, unknown> {
  return { ...restore }
}

export function decodeRestore(reader: ShapeReader): StoredRestore {
  const completedMs = reader.has('completedMs') ? reader.count('completedMs') : undefined
  const expiresMs = reader.has('expiresMs') ? reader.count('expiresMs') : undefined
  return {
    tier: reader.oneOf('tier', restoreTiers),
    days: reader.count('days'),
    requestedMs: reader.count('requestedMs'),
    readyMs: reader.count('readyMs'),
    ...(completedMs === undefined ? {} : { completedMs }),
    ...(expiresMs === undefined ? {} : { expiresMs }),
  }
}

export function encodeTiering(tiering: StoredTiering): Record<string, unknown> {
  return { ...tiering }
}

export function decodeTiering(reader: ShapeReader): StoredTiering {
  return { accessTier: reader.oneOf('accessTier', accessTiers), lastAccessMs: reader.count('lastAccessMs') }
}

export function encodeEncryption(encryption: StoredEncryption): Record<string, unknown> {
  return encryption.kind === 'SSE-KMS' && encryption.envelope !== undefined ? { ...encryption, envelope: { ...encryption.envelope } } : { ...encryption }
}

function decodeEnvelope(reader: ShapeReader): KmsEnvelope {
  const bucketKey = reader.has('bucketKey') ? reader.count('bucketKey') : undefined
  return {
    keyId: reader.string('keyId'),
    generation: reader.count('generation'),
    wrappedKey: reader.string('wrappedKey'),
    ...(bucketKey === undefined ? {} : { bucketKey }),
  }
}

export function decodeEncryption(reader: ShapeReader): StoredEncryption {
  const kind = reader.oneOf('kind', encryptionKinds)
  switch (kind) {
    case 'SSE-S3':
      return { kind, domain: reader.count('domain') }
    case 'SSE-KMS': {
      const context = reader.optionalString('context')
      const envelope = reader.has('envelope') ? decodeEnvelope(reader.object('envelope')) : undefined
      return {
        kind,
        domain: reader.count('domain'),
        kmsKeyId: reader.string('kmsKeyId'),
        bucketKeyEnabled: reader.boolean('bucketKeyEnabled'),
        ...(context === undefined ? {} : { context }),
        ...(envelope === undefined ? {} : { envelope }),
      }
    }
    case 'SSE-C':
      return { kind, salt: reader.string('salt'), keyHmac: reader.string('keyHmac') }
  }
}
