// Records of Cairn's built-in KMS (docs/encryption.md 2, docs/format/objects.md 8): customer
// managed keys, their aliases, and the bucket keys of SSE-KMS with BucketKeyEnabled.
//
//   ('kms','key',keyId)                       a KMS key (JSON): state, description, aliases and
//                                             its key material generations
//   ('kms','alias',name)                      alias -> keyId (JSON); name is "alias/..."
//   ('kms','bucket-key',bucketId,keyId,gen)   a bucket key wrapped by generation gen of keyId
//
// Key material never appears in these records: each generation names a key-ring domain
// (src/chunk/keyring.ts) whose data key is random and wrapped by the master key, so a master key
// rotation re-wraps KMS key material like every other domain. A bucket key is 32 random bytes
// wrapped (AES-256-GCM) by its generation's key.
// Invariants: generations are numbered 1, 2, ... in order and never removed; a key id is never
// reused. Never: build these keys anywhere else; decode a record into a shape its encoder could
// not have written (IO_ERROR instead).
import { decodeJsonRecord, encodeJsonRecord, key, prefixRange } from '../meta/index.ts'
import { ShapeReader, corruptRecord } from './shape.ts'

export const kmsKeyStates = ['Enabled', 'Disabled', 'PendingDeletion'] as const
export type KmsKeyState = (typeof kmsKeyStates)[number]

export interface KmsKeyGeneration {
  /** 1 for the material the key was created with, +1 per rotation. */
  readonly generation: number
  /** The key-ring domain holding this generation's material (wrapped by the master key). */
  readonly domain: number
  readonly createdMs: number
}

export interface KmsKeyRecord {
  /** A UUID, as AWS KMS key ids are. */
  readonly keyId: string
  /** Region and account of the key's ARN, fixed at creation. */
  readonly region: string
  readonly accountId: string
  readonly description: string
  readonly state: KmsKeyState
  readonly createdMs: number
  /** When the state last changed (absent: never). */
  readonly stateChangedMs?: number
  /** "alias/..." names pointing at this key, in creation order. */
  readonly aliases: readonly string[]
  /** Oldest first; the last one encrypts new data keys. */
  readonly generations: readonly KmsKeyGeneration[]
}

export interface KmsAliasRecord {
  readonly keyId: string
}

export interface BucketKeyRecord {
  /** base64 of nonce || ciphertext || tag (crypto wrapDataKey). */
  readonly wrappedKey: string
  readonly createdMs: number
}

export const kmsKeyKey = (keyId: string): Buffer => key('kms', 'key', keyId)
export const kmsKeyRange = () => prefixRange('kms', 'key')
export const kmsAliasKey = (name: string): Buffer => key('kms', 'alias', name)
export const bucketKeyKey = (bucketId: number, keyId: string, generation: number): Buffer => key('kms', 'bucket-key', bucketId, keyId, generation)

const kmsKeyRecordVersion = 1
const kmsAliasRecordVersion = 1
const bucketKeyRecordVersion = 1

function readerOf(bytes: Uint8Array, what: string, expected: number): ShapeReader {
  const { version, value } = decodeJsonRecord(bytes, what)
  if (version !== expected) throw corruptRecord(what, `unknown version ${version}`)
  return new ShapeReader(value, what)
}

export function encodeKmsKey(record: KmsKeyRecord): Buffer {
  return encodeJsonRecord(kmsKeyRecordVersion, {
    ...record,
    aliases: [...record.aliases],
    generations: record.generations.map((generation) => ({ ...generation })),
  })
}

export function decodeKmsKey(bytes: Uint8Array, what: string): KmsKeyRecord {
  const reader = readerOf(bytes, what, kmsKeyRecordVersion)
  const generations = reader.array('generations').map((value, index) => {
    const generation = new ShapeReader(value, `${what}.generations[${index}]`)
    return { generation: generation.count('generation'), domain: generation.count('domain'), createdMs: generation.count('createdMs') }
  })
  if (generations.length === 0) throw corruptRecord(what, 'a KMS key has at least one generation')
  generations.forEach((generation, index) => {
    if (generation.generation !== index + 1) throw corruptRecord(what, `generation ${index + 1} is numbered ${generation.generation}`)
  })
  const stateChangedMs = reader.has('stateChangedMs') ? reader.count('stateChangedMs') : undefined
  return {
    keyId: reader.string('keyId'),
    region: reader.string('region'),
    accountId: reader.string('accountId'),
    description: reader.string('description'),
    state: reader.oneOf('state', kmsKeyStates),
    createdMs: reader.count('createdMs'),
    ...(stateChangedMs === undefined ? {} : { stateChangedMs }),
    aliases: reader.stringArray('aliases'),
    generations,
  }
}

export function encodeKmsAlias(record: KmsAliasRecord): Buffer {
  return encodeJsonRecord(kmsAliasRecordVersion, { keyId: record.keyId })
}

export function decodeKmsAlias(bytes: Uint8Array, what: string): KmsAliasRecord {
  return { keyId: readerOf(bytes, what, kmsAliasRecordVersion).string('keyId') }
}

export function encodeBucketKey(record: BucketKeyRecord): Buffer {
  return encodeJsonRecord(bucketKeyRecordVersion, { wrappedKey: record.wrappedKey, createdMs: record.createdMs })
}

export function decodeBucketKey(bytes: Uint8Array, what: string): BucketKeyRecord {
  const reader = readerOf(bytes, what, bucketKeyRecordVersion)
  return { wrappedKey: reader.string('wrappedKey'), createdMs: reader.count('createdMs') }
}
