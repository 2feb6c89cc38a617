// The data-management fields of version and upload records (docs/format/objects.md 3.2, 5):
// the restore state of an archived version and the server-side encryption of a version's data.
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

export const encryptionKinds = ['SSE-S3', 'SSE-KMS', 'SSE-C'] as const
export type EncryptionKind = (typeof encryptionKinds)[number]

/** How a version's data is encrypted at rest (absent: not encrypted by request). */
export type StoredEncryption =
  | { readonly kind: 'SSE-S3'; readonly domain: number }
  | { readonly kind: 'SSE-KMS'; readonly domain: number; readonly kmsKeyId: string; readonly bucketKeyEnabled: boolean }
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

export function encodeEncryption(encryption: StoredEncryption): Record<string, unknown> {
  return { ...encryption }
}

export function decodeEncryption(reader: ShapeReader): StoredEncryption {
  const kind = reader.oneOf('kind', encryptionKinds)
  switch (kind) {
    case 'SSE-S3':
      return { kind, domain: reader.count('domain') }
    case 'SSE-KMS':
      return { kind, domain: reader.count('domain'), kmsKeyId: reader.string('kmsKeyId'), bucketKeyEnabled: reader.boolean('bucketKeyEnabled') }
    case 'SSE-C':
      return { kind, salt: reader.string('salt'), keyHmac: reader.string('keyHmac') }
  }
}
