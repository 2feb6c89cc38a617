// Put/Get/Delete/ListBucketIntelligentTieringConfiguration over ('s3','it-config',bucketId,id),
// and the archive days that apply to one version (docs/storage-classes.md 1.1).
//
// A configuration (Id, Status, Filter of Prefix and Tags, Tierings) opts the INTELLIGENT_TIERING
// objects it matches into the Archive Access (>= 90 days) and/or Deep Archive Access (>= 180
// days, both <= 730) tiers. Validation as AWS documents; at most tieringConfigurationsMax per
// bucket. When several enabled configurations match a version, the smallest days per tier win.
// Never: store a configuration that did not pass validateTieringConfiguration.
import { dataManagementLimits, objectLimits } from '../lib/index.ts'
import type { ReadTx } from '../meta/index.ts'
import { decodeTieringConfig, encodeTieringConfig, tieringConfigKey, tieringConfigRange, type StoredTag, type TieringConfiguration } from '../model/index.ts'
import type { Principal } from './api.ts'
import { accessBucket } from './buckets.ts'
import type { ObjectsContext } from './context.ts'
import { invalidArgument, ObjectsError } from './errors.ts'
import type { ArchiveDays } from './intelligent-tiering.ts'
import { validateTags } from './validate.ts'

export function validateTieringConfiguration(configuration: TieringConfiguration): TieringConfiguration {
  const { id, archiveAccessDays: archive, deepArchiveAccessDays: deep } = configuration
  if (id.length === 0 || [...id].length > dataManagementLimits.tieringConfigIdCharsMax) {
    throw invalidArgument('InvalidArgument', `The Id must be 1 to ${dataManagementLimits.tieringConfigIdCharsMax} characters`)
  }
  validateTags(configuration.filter.tags, objectLimits.objectTagsMax)
  if (archive === undefined && deep === undefined) throw invalidArgument('MalformedXML', 'An Intelligent-Tiering configuration needs at least one Tiering')
  const checkDays = (name: string, days: number | undefined, minimum: number) => {
    if (days === undefined) return
    if (!Number.isSafeInteger(days) || days < minimum || days > dataManagementLimits.archiveTierDaysMax) {
      throw invalidArgument('InvalidArgument', `The ${name} tier needs Days between ${minimum} and ${dataManagementLimits.archiveTierDaysMax}, got ${String(days)}`)
    }
  }
  checkDays('ARCHIVE_ACCESS', archive, dataManagementLimits.archiveAccessDaysMin)
  checkDays('DEEP_ARCHIVE_ACCESS', deep, dataManagementLimits.deepArchiveAccessDaysMin)
  if (archive !== undefined && deep !== undefined && deep <= archive) {
    throw invalidArgument('InvalidArgument', 'The DEEP_ARCHIVE_ACCESS tier needs more Days than the ARCHIVE_ACCESS tier')
  }
  return configuration
}

function noSuchConfiguration(): ObjectsError {
  return new ObjectsError('NOT_FOUND', 'The specified configuration does not exist.', { subject: 'configuration', hint: 'NoSuchConfiguration' })
}

async function configurationsOf(tx: ReadTx, bucketId: number, after?: string, limit: number = dataManagementLimits.tieringConfigurationsMax): Promise<TieringConfiguration[]> {
  const range = tieringConfigRange(bucketId)
  const page = await tx.scan({ ...(after === undefined ? range : { gt: tieringConfigKey(bucketId, after), lt: range.lt }), limit })
  return page.map((entry) => decodeTieringConfig(entry.value, `('s3','it-config',${bucketId})`).configuration)
}

export async function putBucketIntelligentTiering(context: ObjectsContext, principal: Principal, name: string, configuration: TieringConfiguration): Promise<void> {
  const validated = validateTieringConfiguration(configuration)
  await context.meta.transact(async (tx) => {
    const bucket = await accessBucket(tx, principal, name)
    const key = tieringConfigKey(bucket.id, validated.id)
    if ((await tx.get(key)) === undefined && (await configurationsOf(tx, bucket.id)).length >= dataManagementLimits.tieringConfigurationsMax) {
      throw new ObjectsError('LIMIT_EXCEEDED', `A bucket holds at most ${dataManagementLimits.tieringConfigurationsMax} Intelligent-Tiering configurations`, { subject: 'configuration', hint: 'TooManyConfigurations' })
    }
    tx.put(key, encodeTieringConfig({ bucketName: name, updatedMs: context.clock.nowMs(), configuration: validated }))
  })
}

export async function getBucketIntelligentTiering(context: ObjectsContext, principal: Principal, name: string, id: string): Promise<TieringConfiguration> {
  const stored = await context.meta.read(async (tx) => {
    const bucket = await accessBucket(tx, principal, name)
    return tx.get(tieringConfigKey(bucket.id, id))
  })
  if (stored === undefined) throw noSuchConfiguration()
  return decodeTieringConfig(stored, `('s3','it-config')`).configuration
}

export async function deleteBucketIntelligentTiering(context: ObjectsContext, principal: Principal, name: string, id: string): Promise<void> {
  await context.meta.transact(async (tx) => {
    const bucket = await accessBucket(tx, principal, name)
    const key = tieringConfigKey(bucket.id, id)
    if ((await tx.get(key)) === undefined) throw noSuchConfiguration()
    tx.delete(key)
  })
}

/** One page of a bucket's configurations by Id, after `after`; nextAfter when more follow. */
export async function listBucketIntelligentTiering(context: ObjectsContext, principal: Principal, name: string, after?: string): Promise<{ configurations: TieringConfiguration[]; nextAfter?: string }> {
  const pageSize = dataManagementLimits.tieringConfigsPerPage
  const page = await context.meta.read(async (tx) => configurationsOf(tx, (await accessBucket(tx, principal, name)).id, after, pageSize + 1))
  const configurations = page.slice(0, pageSize)
  const last = configurations.at(-1)
  return page.length > pageSize && last !== undefined ? { configurations, nextAfter: last.id } : { configurations }
}

function matches(configuration: TieringConfiguration, key: string, tags: readonly StoredTag[]): boolean {
  const { prefix, tags: wanted } = configuration.filter
  if (prefix !== undefined && !key.startsWith(prefix)) return false
  return wanted.every((tag) => tags.some((own) => own.key === tag.key && own.value === tag.value))
}

/** The archive days of the enabled configurations matching an object (smallest per tier). */
export async function archiveDaysFor(tx: ReadTx, bucketId: number, key: string, tags: readonly StoredTag[]): Promise<ArchiveDays> {
  let archiveAccessDays: number | undefined
  let deepArchiveAccessDays: number | undefined
  for (const configuration of await configurationsOf(tx, bucketId)) {
    if (!configuration.enabled || !matches(configuration, key, tags)) continue
    if (configuration.archiveAccessDays !== undefined) archiveAccessDays = Math.min(archiveAccessDays ?? Infinity, configuration.archiveAccessDays)
    if (configuration.deepArchiveAccessDays !== undefined) deepArchiveAccessDays = Math.min(deepArchiveAccessDays ?? Infinity, configuration.deepArchiveAccessDays)
  }
  return { ...(archiveAccessDays === undefined ? {} : { archiveAccessDays }), ...(deepArchiveAccessDays === undefined ? {} : { deepArchiveAccessDays }) }
}
