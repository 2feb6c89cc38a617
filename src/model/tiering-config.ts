// S3 Intelligent-Tiering archive configurations of a bucket (docs/format/objects.md 7.5):
//
//   ('s3','it-config',bucketId,id)   one PutBucketIntelligentTieringConfiguration (JSON)
//
// Keyed by bucket id (never reused), so a bucket created again under the same name inherits
// nothing. Invariants: a stored configuration passed validation (src/objects/tiering-config.ts);
// decoding only checks the shape. Never: build these keys anywhere else.
import { decodeJsonRecord, encodeJsonRecord, key, prefixRange } from '../meta/index.ts'
import type { StoredTag } from './object-version.ts'
import { ShapeReader, corruptRecord } from './shape.ts'

export const archiveAccessTiers = ['ARCHIVE_ACCESS', 'DEEP_ARCHIVE_ACCESS'] as const
export type ArchiveAccessTier = (typeof archiveAccessTiers)[number]

export interface TieringConfiguration {
  readonly id: string
  readonly enabled: boolean
  /** Objects whose key starts with prefix and that carry every tag (an absent filter: all). */
  readonly filter: { readonly prefix?: string; readonly tags: readonly StoredTag[] }
  /** Days without access before each archive tier; at least one is set. */
  readonly archiveAccessDays?: number
  readonly deepArchiveAccessDays?: number
}

export interface TieringConfigRecord {
  readonly bucketName: string
  readonly updatedMs: number
  readonly configuration: TieringConfiguration
}

export const tieringConfigKey = (bucketId: number, id: string): Buffer => key('s3', 'it-config', bucketId, id)
export const tieringConfigRange = (bucketId: number) => prefixRange('s3', 'it-config', bucketId)

const tieringConfigRecordVersion = 1

export function encodeTieringConfig(record: TieringConfigRecord): Buffer {
  return encodeJsonRecord(tieringConfigRecordVersion, JSON.parse(JSON.stringify(record)) as Record<string, unknown>)
}

export function decodeTieringConfig(bytes: Uint8Array, what: string): TieringConfigRecord {
  const { version, value } = decodeJsonRecord(bytes, what)
  if (version !== tieringConfigRecordVersion) throw corruptRecord(what, `unknown version ${version}`)
  const reader = new ShapeReader(value, what)
  const configuration = reader.object('configuration')
  const filter = configuration.object('filter')
  const prefix = filter.optionalString('prefix')
  const days = (field: string): { [name: string]: number } => (configuration.has(field) ? { [field]: configuration.count(field) } : {})
  return {
    bucketName: reader.string('bucketName'),
    updatedMs: reader.count('updatedMs'),
    configuration: {
      id: configuration.string('id'),
      enabled: configuration.boolean('enabled'),
      filter: {
        ...(prefix === undefined ? {} : { prefix }),
        tags: filter.array('tags').map((entry, at) => {
          const tag = new ShapeReader(entry, `${what}.filter.tags[${at}]`)
          return { key: tag.string('key'), value: tag.string('value') }
        }),
      },
      ...days('archiveAccessDays'),
      ...days('deepArchiveAccessDays'),
    },
  }
}
