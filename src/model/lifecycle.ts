// Bucket lifecycle configurations, bucket encryption settings and the data-management queues
// (docs/format/objects.md 7): their records, codecs and keys.
//
//   ('s3','lifecycle',bucketId)        lifecycle configuration of a bucket (JSON)
//   ('s3','encryption',bucketId)       default encryption + the bucket's key domain (JSON)
//   ('s3','due',dueMs,bucketId,key,order,kind)  restore / tier-move / tiering work due at dueMs (JSON)
//   ('s3','lifecycle-cursor')          where the lifecycle worker's pass stands (JSON)
//
// Records are keyed by bucket id (never reused), so a bucket deleted and created again under
// the same name never inherits its predecessor's settings.
// Invariants: a stored configuration passed validation (src/objects/lifecycle-validate.ts);
// decoding only checks the shape. Never: build these keys anywhere else.
import { decodeJsonRecord, encodeJsonRecord, key, prefixRange } from '../meta/index.ts'
import type { StorageClass, StoredTag } from './object-version.ts'
import { ShapeReader, corruptRecord } from './shape.ts'

export type LifecycleFilter =
  /** The deprecated <Rule><Prefix> form (no <Filter>). */
  | { readonly kind: 'rulePrefix'; readonly prefix: string }
  /** <Filter/>: every object. */
  | { readonly kind: 'empty' }
  | { readonly kind: 'prefix'; readonly prefix: string }
  | { readonly kind: 'tag'; readonly tag: StoredTag }
  | { readonly kind: 'sizeGreaterThan'; readonly bytes: number }
  | { readonly kind: 'sizeLessThan'; readonly bytes: number }
  | {
      readonly kind: 'and'
      readonly prefix?: string
      readonly tags: readonly StoredTag[]
      readonly sizeGreaterThanBytes?: number
      readonly sizeLessThanBytes?: number
    }

export const transitionStorageClasses = ['STANDARD_IA', 'ONEZONE_IA', 'INTELLIGENT_TIERING', 'GLACIER_IR', 'GLACIER', 'DEEP_ARCHIVE'] as const satisfies readonly StorageClass[]
export type TransitionStorageClass = (typeof transitionStorageClasses)[number]

export interface LifecycleTransition {
  readonly days?: number
  /** Midnight UTC. */
  readonly dateMs?: number
  readonly storageClass: TransitionStorageClass
}

export interface LifecycleExpiration {
  readonly days?: number
  readonly dateMs?: number
  readonly expiredObjectDeleteMarker?: boolean
}

export interface NoncurrentExpiration {
  readonly noncurrentDays: number
  readonly newerNoncurrentVersions?: number
}

export interface NoncurrentTransition {
  readonly noncurrentDays: number
  readonly newerNoncurrentVersions?: number
  readonly storageClass: TransitionStorageClass
}

export interface LifecycleRule {
  readonly id: string
  readonly enabled: boolean
  readonly filter: LifecycleFilter
  readonly expiration?: LifecycleExpiration
  readonly transitions: readonly LifecycleTransition[]
  readonly noncurrentExpiration?: NoncurrentExpiration
  readonly noncurrentTransitions: readonly NoncurrentTransition[]
  readonly abortIncompleteUploadDays?: number
}

export interface LifecycleConfiguration {
  readonly rules: readonly LifecycleRule[]
}

export interface LifecycleRecord {
  readonly bucketName: string
  readonly updatedMs: number
  readonly configuration: LifecycleConfiguration
}

export const sseAlgorithms = ['AES256', 'aws:kms'] as const
export type SseAlgorithm = (typeof sseAlgorithms)[number]

/** PutBucketEncryption's one rule. */
export interface BucketEncryptionConfig {
  readonly algorithm: SseAlgorithm
  readonly kmsKeyId?: string
  readonly bucketKeyEnabled: boolean
}

export interface BucketEncryptionRecord {
  readonly bucketName: string
  /** Absent after DeleteBucketEncryption (the domain stays: versions sealed in it keep it). */
  readonly config?: BucketEncryptionConfig
  /** The key domain this bucket's SSE-S3 / SSE-KMS chunks are sealed in, once created. */
  readonly domain?: number
}

export const dueKinds = ['restore-ready', 'restore-expire', 'tier-move', 'tiering-check'] as const
export type DueKind = (typeof dueKinds)[number]

export interface DueRecord {
  readonly versionId: string
}

export interface LifecycleCursor {
  /** When the current (or last) pass started: passes start at most once per interval. */
  readonly passStartedMs: number
  /** idle: the pass finished; versions / uploads: where it stands in bucketId. */
  readonly phase: 'idle' | 'versions' | 'uploads'
  readonly bucketId?: number
  /** The last object key finished (versions), or the last upload's key (uploads). */
  readonly afterKey?: string
  /** uploads: the last upload id finished under afterKey. */
  readonly afterUploadId?: string
}

export const lifecycleKey = (bucketId: number): Buffer => key('s3', 'lifecycle', bucketId)
export const lifecycleRange = () => prefixRange('s3', 'lifecycle')
export const bucketEncryptionKey = (bucketId: number): Buffer => key('s3', 'encryption', bucketId)
export const dueKey = (dueMs: number, bucketId: number, objectKey: string, order: number, kind: DueKind): Buffer => key('s3', 'due', dueMs, bucketId, objectKey, order, kind)
export const dueSpace = (): Buffer => key('s3', 'due')
/** Every due entry with dueMs < untilMs. */
export const dueUntil = (untilMs: number): { gt: Buffer; lt: Buffer } => ({ gt: dueSpace(), lt: key('s3', 'due', untilMs) })
export const lifecycleCursorKey = (): Buffer => key('s3', 'lifecycle-cursor')

const lifecycleRecordVersion = 1
const encryptionRecordVersion = 1
const dueRecordVersion = 1
const cursorRecordVersion = 1

function readerOf(bytes: Uint8Array, what: string, expected: number): ShapeReader {
  const { version, value } = decodeJsonRecord(bytes, what)
  if (version !== expected) throw corruptRecord(what, `unknown version ${version}`)
  return new ShapeReader(value, what)
}

const optionalCount = (reader: ShapeReader, field: string): number | undefined => (reader.has(field) ? reader.count(field) : undefined)
const defined = <T extends object>(value: T): T => Object.fromEntries(Object.entries(value).filter(([, entry]) => entry !== undefined)) as T

export function encodeLifecycle(record: LifecycleRecord): Buffer {
  return encodeJsonRecord(lifecycleRecordVersion, JSON.parse(JSON.stringify(record)) as Record<string, unknown>)
}

export function decodeLifecycle(bytes: Uint8Array, what: string): LifecycleRecord {
  const reader = readerOf(bytes, what, lifecycleRecordVersion)
  const configuration = reader.object('configuration')
  return {
    bucketName: reader.string('bucketName'),
    updatedMs: reader.count('updatedMs'),
    configuration: { rules: configuration.array('rules').map((entry, at) => decodeRule(new ShapeReader(entry, `${what}.rules[${at}]`))) },
  }
}

function decodeTag(entry: unknown, what: string): StoredTag {
  return tagOf(new ShapeReader(entry, what))
}

function decodeFilter(reader: ShapeReader): LifecycleFilter {
  const kind = reader.oneOf('kind', ['rulePrefix', 'empty', 'prefix', 'tag', 'sizeGreaterThan', 'sizeLessThan', 'and'] as const)
  switch (kind) {
    case 'rulePrefix':
    case 'prefix':
      return { kind, prefix: reader.string('prefix') }
    case 'empty':
      return { kind }
    case 'tag':
      return { kind, tag: tagOf(reader.object('tag')) }
    case 'sizeGreaterThan':
    case 'sizeLessThan':
      return { kind, bytes: reader.count('bytes') }
    case 'and':
      return defined({
        kind,
        prefix: reader.optionalString('prefix'),
        tags: reader.array('tags').map((entry, at) => decodeTag(entry, `tags[${at}]`)),
        sizeGreaterThanBytes: optionalCount(reader, 'sizeGreaterThanBytes'),
        sizeLessThanBytes: optionalCount(reader, 'sizeLessThanBytes'),
      })
  }
}

function tagOf(reader: ShapeReader): StoredTag {
  return { key: reader.string('key'), value: reader.string('value') }
}

function decodeRule(reader: ShapeReader): LifecycleRule {
  const expiration = reader.has('expiration') ? reader.object('expiration') : undefined
  const noncurrent = reader.has('noncurrentExpiration') ? reader.object('noncurrentExpiration') : undefined
  return defined({
    id: reader.string('id'),
    enabled: reader.boolean('enabled'),
    filter: decodeFilter(reader.object('filter')),
    expiration: expiration === undefined ? undefined : defined({
      days: optionalCount(expiration, 'days'),
      dateMs: optionalCount(expiration, 'dateMs'),
      expiredObjectDeleteMarker: expiration.has('expiredObjectDeleteMarker') ? expiration.boolean('expiredObjectDeleteMarker') : undefined,
    }),
    transitions: reader.array('transitions').map((entry, at) => {
      const transition = new ShapeReader(entry, `transitions[${at}]`)
      return defined({ days: optionalCount(transition, 'days'), dateMs: optionalCount(transition, 'dateMs'), storageClass: transition.oneOf('storageClass', transitionStorageClasses) })
    }),
    noncurrentExpiration: noncurrent === undefined ? undefined : defined({
      noncurrentDays: noncurrent.count('noncurrentDays'),
      newerNoncurrentVersions: optionalCount(noncurrent, 'newerNoncurrentVersions'),
    }),
    noncurrentTransitions: reader.array('noncurrentTransitions').map((entry, at) => {
      const transition = new ShapeReader(entry, `noncurrentTransitions[${at}]`)
      return defined({
        noncurrentDays: transition.count('noncurrentDays'),
        newerNoncurrentVersions: optionalCount(transition, 'newerNoncurrentVersions'),
        storageClass: transition.oneOf('storageClass', transitionStorageClasses),
      })
    }),
    abortIncompleteUploadDays: optionalCount(reader, 'abortIncompleteUploadDays'),
  })
}

export function encodeBucketEncryption(record: BucketEncryptionRecord): Buffer {
  return encodeJsonRecord(encryptionRecordVersion, JSON.parse(JSON.stringify(record)) as Record<string, unknown>)
}

export function decodeBucketEncryption(bytes: Uint8Array, what: string): BucketEncryptionRecord {
  const reader = readerOf(bytes, what, encryptionRecordVersion)
  const config = reader.has('config') ? reader.object('config') : undefined
  return defined({
    bucketName: reader.string('bucketName'),
    config: config === undefined ? undefined : defined({
      algorithm: config.oneOf('algorithm', sseAlgorithms),
      kmsKeyId: config.optionalString('kmsKeyId'),
      bucketKeyEnabled: config.boolean('bucketKeyEnabled'),
    }),
    domain: optionalCount(reader, 'domain'),
  })
}

export function encodeDue(record: DueRecord): Buffer {
  return encodeJsonRecord(dueRecordVersion, { versionId: record.versionId })
}

export function decodeDue(bytes: Uint8Array, what: string): DueRecord {
  return { versionId: readerOf(bytes, what, dueRecordVersion).string('versionId') }
}

export function encodeLifecycleCursor(cursor: LifecycleCursor): Buffer {
  return encodeJsonRecord(cursorRecordVersion, JSON.parse(JSON.stringify(cursor)) as Record<string, unknown>)
}

export function decodeLifecycleCursor(bytes: Uint8Array, what: string): LifecycleCursor {
  const reader = readerOf(bytes, what, cursorRecordVersion)
  return defined({
    passStartedMs: reader.count('passStartedMs'),
    phase: reader.oneOf('phase', ['idle', 'versions', 'uploads'] as const),
    bucketId: optionalCount(reader, 'bucketId'),
    afterKey: reader.optionalString('afterKey'),
    afterUploadId: reader.optionalString('afterUploadId'),
  })
}

