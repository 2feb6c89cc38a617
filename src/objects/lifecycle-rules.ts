// What a lifecycle configuration says about one version at one time: pure functions over
// validated rules (docs/lifecycle.md 3). The worker (lifecycle-worker.ts) applies the result;
// GET/HEAD/PUT use expirationOf for x-amz-expiration.
//
// AWS's semantics, kept here:
// - A rule applies to an object when it is Enabled and its filter matches the key (prefix), the
//   tags (every tag of the filter present with that value) and the size bounds (exclusive).
// - Days count from the object's creation (current versions), from when the version became
//   noncurrent (= when its successor was written) for noncurrent rules, from initiation for
//   uploads. With a real 86,400 s day the due time is rounded up to the next midnight UTC.
// - Several rules may apply: expiration wins over transition; among transitions the coldest
//   class due wins; a version only ever moves to a colder class.
// - By default objects under 128 KiB are not transitioned unless the rule filters by size.
// - NewerNoncurrentVersions keeps that many newest noncurrent versions out of the action.
// Never: act on a Disabled rule.
import { dataManagementLimits } from '../lib/index.ts'
import type { LifecycleConfiguration, LifecycleFilter, LifecycleRule, StorageClass, StoredTag, TransitionStorageClass } from '../model/index.ts'
import type { ExpirationInfo } from './api.ts'
import type { DataManagementSettings } from './lifecycle-settings.ts'
import { coldness } from './lifecycle-validate.ts'
import { daysAfter } from './restore.ts'

export interface LifecycleSubject {
  readonly key: string
  readonly sizeBytes: number
  readonly tags: readonly StoredTag[]
}

function hasTag(tags: readonly StoredTag[], wanted: StoredTag): boolean {
  return tags.some((tag) => tag.key === wanted.key && tag.value === wanted.value)
}

export function filterMatches(filter: LifecycleFilter, subject: LifecycleSubject): boolean {
  switch (filter.kind) {
    case 'empty':
      return true
    case 'rulePrefix':
    case 'prefix':
      return subject.key.startsWith(filter.prefix)
    case 'tag':
      return hasTag(subject.tags, filter.tag)
    case 'sizeGreaterThan':
      return subject.sizeBytes > filter.bytes
    case 'sizeLessThan':
      return subject.sizeBytes < filter.bytes
    case 'and':
      return (filter.prefix === undefined || subject.key.startsWith(filter.prefix))
        && filter.tags.every((tag) => hasTag(subject.tags, tag))
        && (filter.sizeGreaterThanBytes === undefined || subject.sizeBytes > filter.sizeGreaterThanBytes)
        && (filter.sizeLessThanBytes === undefined || subject.sizeBytes < filter.sizeLessThanBytes)
  }
}

/** Uploads have no tags or size yet: only the prefix decides (tag filters cannot abort uploads). */
export function filterMatchesUpload(filter: LifecycleFilter, key: string): boolean {
  switch (filter.kind) {
    case 'rulePrefix':
    case 'prefix':
      return key.startsWith(filter.prefix)
    case 'and':
      return filter.prefix === undefined || key.startsWith(filter.prefix)
    case 'tag':
      return false
    default:
      return true
  }
}

function filtersBySize(filter: LifecycleFilter): boolean {
  return filter.kind === 'sizeGreaterThan' || filter.kind === 'sizeLessThan' || (filter.kind === 'and' && (filter.sizeGreaterThanBytes !== undefined || filter.sizeLessThanBytes !== undefined))
}

function applicable(configuration: LifecycleConfiguration, subject: LifecycleSubject): LifecycleRule[] {
  return configuration.rules.filter((rule) => rule.enabled && filterMatches(rule.filter, subject))
}

/** When a current version expires under rule (undefined: the rule does not expire it). */
function expiryUnder(rule: LifecycleRule, settings: Pick<DataManagementSettings, 'dayMs'>, createdMs: number): number | undefined {
  const expiration = rule.expiration
  if (expiration?.days !== undefined) return daysAfter(settings, createdMs, expiration.days)
  return expiration?.dateMs
}

/** x-amz-expiration for a current version: the earliest expiry of the rules that apply. */
export function expirationOf(configuration: LifecycleConfiguration, settings: Pick<DataManagementSettings, 'dayMs'>, subject: LifecycleSubject & { lastModifiedMs: number }): ExpirationInfo | undefined {
  let best: ExpirationInfo | undefined
  for (const rule of applicable(configuration, subject)) {
    const expiryMs = expiryUnder(rule, settings, subject.lastModifiedMs)
    if (expiryMs !== undefined && (best === undefined || expiryMs < best.expiryMs)) best = { expiryMs, ruleId: rule.id }
  }
  return best
}

export type CurrentAction =
  | { readonly kind: 'expire'; readonly ruleId: string }
  | { readonly kind: 'transition'; readonly storageClass: TransitionStorageClass; readonly ruleId: string }

function colderThan(target: TransitionStorageClass, current: StorageClass): boolean {
  return (coldness[target] ?? 0) > (coldness[current] ?? 0)
}

/** The transition due for a version: the coldest target due that is colder than its class. */
function dueTransition(
  rules: readonly LifecycleRule[],
  subject: LifecycleSubject & { storageClass: StorageClass },
  dueOf: (rule: LifecycleRule) => Array<{ dueMs: number; storageClass: TransitionStorageClass }>,
  nowMs: number,
): CurrentAction | undefined {
  let best: CurrentAction | undefined
  for (const rule of rules) {
    if (subject.sizeBytes < dataManagementLimits.transitionObjectBytesMin && !filtersBySize(rule.filter)) continue
    for (const transition of dueOf(rule)) {
      if (transition.dueMs > nowMs || !colderThan(transition.storageClass, subject.storageClass)) continue
      if (best?.kind !== 'transition' || colderThan(transition.storageClass, best.storageClass)) best = { kind: 'transition', storageClass: transition.storageClass, ruleId: rule.id }
    }
  }
  return best
}

/** What to do with the current (latest, not a delete marker) version of a key at nowMs. */
export function currentAction(
  configuration: LifecycleConfiguration,
  settings: Pick<DataManagementSettings, 'dayMs'>,
  subject: LifecycleSubject & { lastModifiedMs: number; storageClass: StorageClass },
  nowMs: number,
): CurrentAction | undefined {
  const rules = applicable(configuration, subject)
  for (const rule of rules) {
    const expiryMs = expiryUnder(rule, settings, subject.lastModifiedMs)
    if (expiryMs !== undefined && expiryMs <= nowMs) return { kind: 'expire', ruleId: rule.id }
  }
  return dueTransition(rules, subject, (rule) => rule.transitions.map((transition) => ({
    dueMs: transition.days !== undefined ? daysAfter(settings, subject.lastModifiedMs, transition.days) : (transition.dateMs ?? Number.MAX_SAFE_INTEGER),
    storageClass: transition.storageClass,
  })), nowMs)
}

/**
 * Whether a delete marker that is a key's only version is removed: a rule with
 * ExpiredObjectDeleteMarker, or an expiration by Days the marker is old enough for.
 */
export function removesExpiredMarker(configuration: LifecycleConfiguration, settings: Pick<DataManagementSettings, 'dayMs'>, key: string, markerCreatedMs: number, nowMs: number): string | undefined {
  for (const rule of applicable(configuration, { key, sizeBytes: 0, tags: [] })) {
    if (rule.expiration?.expiredObjectDeleteMarker === true) return rule.id
    if (rule.expiration?.days !== undefined && daysAfter(settings, markerCreatedMs, rule.expiration.days) <= nowMs) return rule.id
  }
  return undefined
}

/** What to do with a noncurrent version (position 0 = the newest noncurrent one). */
export function noncurrentAction(
  configuration: LifecycleConfiguration,
  settings: Pick<DataManagementSettings, 'dayMs'>,
  subject: LifecycleSubject & { storageClass: StorageClass; deleteMarker: boolean },
  noncurrentSinceMs: number,
  position: number,
  nowMs: number,
): CurrentAction | undefined {
  const rules = applicable(configuration, subject)
  for (const rule of rules) {
    const expiration = rule.noncurrentExpiration
    if (expiration === undefined || position < (expiration.newerNoncurrentVersions ?? 0)) continue
    if (daysAfter(settings, noncurrentSinceMs, expiration.noncurrentDays) <= nowMs) return { kind: 'expire', ruleId: rule.id }
  }
  if (subject.deleteMarker) return undefined
  return dueTransition(rules, subject, (rule) => rule.noncurrentTransitions
    .filter((transition) => position >= (transition.newerNoncurrentVersions ?? 0))
    .map((transition) => ({ dueMs: daysAfter(settings, noncurrentSinceMs, transition.noncurrentDays), storageClass: transition.storageClass })), nowMs)
}

/** The AbortIncompleteMultipartUpload rule an upload is due under, if any. */
export function abortsUpload(configuration: LifecycleConfiguration, settings: Pick<DataManagementSettings, 'dayMs'>, key: string, initiatedMs: number, nowMs: number): string | undefined {
  for (const rule of configuration.rules) {
    if (!rule.enabled || rule.abortIncompleteUploadDays === undefined || !filterMatchesUpload(rule.filter, key)) continue
    if (daysAfter(settings, initiatedMs, rule.abortIncompleteUploadDays) <= nowMs) return rule.id
  }
  return undefined
}

export function abortsAnyUploads(configuration: LifecycleConfiguration): boolean {
  return configuration.rules.some((rule) => rule.enabled && rule.abortIncompleteUploadDays !== undefined)
}
