// PutBucketLifecycleConfiguration's rules, checked as AWS checks them (docs/lifecycle.md 2).
// The edge has already turned XML into a LifecycleConfiguration (element shapes, numbers,
// Status); this checks what the shapes cannot say, with AWS's error codes:
//   MalformedXML      no rules, too many rules, an Expiration with none or several of Days /
//                     Date / ExpiredObjectDeleteMarker, a Transition without Days or Date,
//                     an And with fewer than two predicates;
//   InvalidArgument   ID longer than 255 or not unique, Days / NoncurrentDays out of range,
//                     a Date not at midnight UTC, IA transitions before 30 days, transition
//                     order and storage classes, expiration not after transitions;
//   InvalidRequest    a rule without an action, mixed Date and Days in one rule, tag filters
//                     with ExpiredObjectDeleteMarker or AbortIncompleteMultipartUpload,
//                     duplicate tag keys, size bounds that exclude every object.
// Missing rule IDs get a random one (as AWS does). Never: accept a rule the worker cannot apply.
import { dataManagementLimits, type Random } from '../lib/index.ts'
import { dayMsReal } from './lifecycle-settings.ts'
import type {
  LifecycleConfiguration,
  LifecycleFilter,
  LifecycleRule,
  LifecycleTransition,
  NoncurrentTransition,
  TransitionStorageClass,
} from '../model/index.ts'
import { invalidArgument, type ObjectsError } from './errors.ts'
import type { S3ErrorHint } from './api.ts'

const fail = (hint: S3ErrorHint, message: string): ObjectsError => invalidArgument(hint, message)

/** How cold a class is: transitions only go to a colder class. */
export const coldness: Readonly<Record<string, number>> = {
  STANDARD: 0,
  STANDARD_IA: 1,
  INTELLIGENT_TIERING: 1,
  ONEZONE_IA: 2,
  GLACIER_IR: 3,
  GLACIER: 4,
  DEEP_ARCHIVE: 5,
}

const infrequentAccess = (storageClass: TransitionStorageClass): boolean => storageClass === 'STANDARD_IA' || storageClass === 'ONEZONE_IA'

/** A description of a rule's filter for messages, as AWS writes it ('(prefix=logs/)'). */
export function filterText(filter: LifecycleFilter): string {
  switch (filter.kind) {
    case 'rulePrefix':
    case 'prefix':
      return `(prefix=${filter.prefix})`
    case 'empty':
      return '(prefix=)'
    case 'tag':
      return `(tag=${filter.tag.key}:${filter.tag.value})`
    case 'sizeGreaterThan':
      return `(ObjectSizeGreaterThan=${filter.bytes})`
    case 'sizeLessThan':
      return `(ObjectSizeLessThan=${filter.bytes})`
    case 'and':
      return `(prefix=${filter.prefix ?? ''}${filter.tags.map((tag) => `, tag=${tag.key}:${tag.value}`).join('')})`
  }
}

function hasTagFilter(filter: LifecycleFilter): boolean {
  return filter.kind === 'tag' || (filter.kind === 'and' && filter.tags.length > 0)
}

function checkDays(value: number, what: string, minimum: number): void {
  if (!Number.isSafeInteger(value) || value < minimum || value > dataManagementLimits.lifecycleDaysMax) {
    throw fail('InvalidArgument', `'${what}' must be ${minimum === 0 ? 'a non-negative' : 'a positive'} integer (at most ${dataManagementLimits.lifecycleDaysMax})`)
  }
}

function checkDate(dateMs: number, what: string): void {
  if (!Number.isSafeInteger(dateMs) || dateMs % dayMsReal !== 0) throw fail('InvalidArgument', `'Date' must be at midnight GMT (${what})`)
}

function checkFilter(filter: LifecycleFilter): void {
  const prefix = filter.kind === 'prefix' || filter.kind === 'rulePrefix' ? filter.prefix : filter.kind === 'and' ? filter.prefix : undefined
  if (prefix !== undefined && Buffer.byteLength(prefix, 'utf8') > 1024) throw fail('InvalidRequest', 'The maximum size of a prefix is 1024')
  if (filter.kind !== 'and') return
  const predicates = (filter.prefix === undefined ? 0 : 1) + filter.tags.length + (filter.sizeGreaterThanBytes === undefined ? 0 : 1) + (filter.sizeLessThanBytes === undefined ? 0 : 1)
  if (predicates < 2) throw fail('MalformedXML', 'The XML you provided was not well-formed or did not validate against our published schema (And needs at least two predicates)')
  const keys = new Set<string>()
  for (const tag of filter.tags) {
    if (keys.has(tag.key)) throw fail('InvalidRequest', 'Duplicate Tag Keys are not allowed.')
    keys.add(tag.key)
  }
  if (filter.sizeGreaterThanBytes !== undefined && filter.sizeLessThanBytes !== undefined && filter.sizeGreaterThanBytes >= filter.sizeLessThanBytes) {
    throw fail('InvalidRequest', 'ObjectSizeGreaterThan must be less than ObjectSizeLessThan')
  }
}

/** Transitions (current or noncurrent) of one rule: classes distinct, colder as days grow, IA >= 30 days. */
function checkTransitionOrder<T extends { storageClass: TransitionStorageClass }>(transitions: readonly T[], whenOf: (transition: T) => number, unitMs: number, what: string, filter: string): void {
  const classes = new Set<string>()
  for (const transition of transitions) {
    if (classes.has(transition.storageClass)) throw fail('InvalidArgument', `'StorageClass' must be different for '${what}' actions in same 'Rule' with filter '${filter}'`)
    classes.add(transition.storageClass)
  }
  const ordered = [...transitions].sort((a, b) => whenOf(a) - whenOf(b))
  for (let at = 1; at < ordered.length; at++) {
    const previous = ordered[at - 1] as T
    const next = ordered[at] as T
    if ((coldness[next.storageClass] ?? 0) <= (coldness[previous.storageClass] ?? 0) || whenOf(next) === whenOf(previous)) {
      throw fail('InvalidArgument', `'${what}' action for StorageClass '${next.storageClass}' for filter '${filter}' must come after the '${what}' action for StorageClass '${previous.storageClass}' and go to a colder storage class`)
    }
    if (infrequentAccess(previous.storageClass) && whenOf(next) - whenOf(previous) < dataManagementLimits.infrequentAccessDaysMin * unitMs) {
      throw fail('InvalidArgument', `'${what}' action for StorageClass '${next.storageClass}' for filter '${filter}' must be at least ${dataManagementLimits.infrequentAccessDaysMin} days after the transition to '${previous.storageClass}'`)
    }
  }
}

function checkExpiration(rule: LifecycleRule, filter: string): void {
  const expiration = rule.expiration
  if (expiration === undefined) return
  const parts = (expiration.days === undefined ? 0 : 1) + (expiration.dateMs === undefined ? 0 : 1) + (expiration.expiredObjectDeleteMarker === undefined ? 0 : 1)
  if (parts !== 1) throw fail('MalformedXML', 'The XML you provided was not well-formed or did not validate against our published schema (Expiration takes exactly one of Days, Date, ExpiredObjectDeleteMarker)')
  if (expiration.days !== undefined) checkDays(expiration.days, 'Days', 1)
  if (expiration.dateMs !== undefined) checkDate(expiration.dateMs, 'Expiration')
  if (expiration.expiredObjectDeleteMarker !== undefined && hasTagFilter(rule.filter)) {
    throw fail('InvalidRequest', `ExpiredObjectDeleteMarker cannot be specified with tags in a Lifecycle rule with filter '${filter}'`)
  }
}

function checkTransitions(rule: LifecycleRule, filter: string): void {
  for (const transition of rule.transitions) {
    if ((transition.days === undefined) === (transition.dateMs === undefined)) {
      throw fail('MalformedXML', 'The XML you provided was not well-formed or did not validate against our published schema (Transition takes exactly one of Days, Date)')
    }
    if (transition.days !== undefined) {
      checkDays(transition.days, 'Days', 0)
      if (infrequentAccess(transition.storageClass) && transition.days < dataManagementLimits.infrequentAccessDaysMin) {
        throw fail('InvalidArgument', `'Days' in Transition action must be greater than or equal to ${dataManagementLimits.infrequentAccessDaysMin} for storageClass '${transition.storageClass}'`)
      }
    }
    if (transition.dateMs !== undefined) checkDate(transition.dateMs, 'Transition')
  }
  const usesDays = rule.transitions.some((transition) => transition.days !== undefined) || rule.expiration?.days !== undefined
  const usesDates = rule.transitions.some((transition) => transition.dateMs !== undefined) || rule.expiration?.dateMs !== undefined
  if (usesDays && usesDates) throw fail('InvalidRequest', `Found mixed 'Date' and 'Days' based Expiration and Transition actions in lifecycle rule for filter '${filter}'`)
  const whenOf = (transition: LifecycleTransition): number => transition.days ?? transition.dateMs ?? 0
  checkTransitionOrder(rule.transitions, whenOf, usesDates ? dayMsReal : 1, 'Transition', filter)
  const expiresAt = rule.expiration?.days ?? rule.expiration?.dateMs
  for (const transition of rule.transitions) {
    if (expiresAt !== undefined && whenOf(transition) >= expiresAt) {
      throw fail('InvalidArgument', `'${usesDates ? 'Date' : 'Days'}' in the Expiration action for filter '${filter}' must be greater than '${usesDates ? 'Date' : 'Days'}' in the Transition action`)
    }
  }
}

function checkNoncurrent(rule: LifecycleRule, filter: string): void {
  const expiration = rule.noncurrentExpiration
  if (expiration !== undefined) {
    checkDays(expiration.noncurrentDays, 'NoncurrentDays', 1)
    const newer = expiration.newerNoncurrentVersions
    if (newer !== undefined && (!Number.isSafeInteger(newer) || newer < 1 || newer > dataManagementLimits.newerNoncurrentVersionsMax)) {
      throw fail('InvalidArgument', `'NewerNoncurrentVersions' must be an integer between 1 and ${dataManagementLimits.newerNoncurrentVersionsMax}`)
    }
  }
  for (const transition of rule.noncurrentTransitions) {
    checkDays(transition.noncurrentDays, 'NoncurrentDays', 0)
    if (infrequentAccess(transition.storageClass) && transition.noncurrentDays < dataManagementLimits.infrequentAccessDaysMin) {
      throw fail('InvalidArgument', `'NoncurrentDays' in NoncurrentVersionTransition action must be greater than or equal to ${dataManagementLimits.infrequentAccessDaysMin} for storageClass '${transition.storageClass}'`)
    }
    const newer = transition.newerNoncurrentVersions
    if (newer !== undefined && (!Number.isSafeInteger(newer) || newer < 1 || newer > dataManagementLimits.newerNoncurrentVersionsMax)) {
      throw fail('InvalidArgument', `'NewerNoncurrentVersions' must be an integer between 1 and ${dataManagementLimits.newerNoncurrentVersionsMax}`)
    }
    if (expiration !== undefined && transition.noncurrentDays >= expiration.noncurrentDays) {
      throw fail('InvalidArgument', `'NoncurrentDays' in the NoncurrentVersionExpiration action for filter '${filter}' must be greater than 'NoncurrentDays' in the NoncurrentVersionTransition action`)
    }
  }
  checkTransitionOrder(rule.noncurrentTransitions, (transition: NoncurrentTransition) => transition.noncurrentDays, 1, 'NoncurrentVersionTransition', filter)
}

function checkRule(rule: LifecycleRule): void {
  const filter = filterText(rule.filter)
  checkFilter(rule.filter)
  const hasAction = rule.expiration !== undefined || rule.transitions.length > 0 || rule.noncurrentExpiration !== undefined || rule.noncurrentTransitions.length > 0 || rule.abortIncompleteUploadDays !== undefined
  if (!hasAction) throw fail('InvalidRequest', 'At least one action needs to be specified in a rule')
  checkExpiration(rule, filter)
  checkTransitions(rule, filter)
  checkNoncurrent(rule, filter)
  if (rule.abortIncompleteUploadDays !== undefined) {
    checkDays(rule.abortIncompleteUploadDays, 'DaysAfterInitiation', 1)
    if (hasTagFilter(rule.filter)) throw fail('InvalidRequest', 'Tag-based filter cannot be used with AbortIncompleteMultipartUpload action')
  }
}

/** The configuration to store: validated, each rule with an ID. */
export function validateLifecycle(configuration: LifecycleConfiguration, random: Random): LifecycleConfiguration {
  const { rules } = configuration
  if (rules.length === 0) throw fail('MalformedXML', 'The XML you provided was not well-formed or did not validate against our published schema (no Rule)')
  if (rules.length > dataManagementLimits.lifecycleRulesMax) {
    throw fail('MalformedXML', `The XML you provided was not well-formed or did not validate against our published schema (at most ${dataManagementLimits.lifecycleRulesMax} rules)`)
  }
  const ids = new Set<string>()
  const named = rules.map((rule) => {
    if ([...rule.id].length > dataManagementLimits.lifecycleRuleIdCharsMax) {
      throw fail('InvalidArgument', `ID length should not exceed allowed limit of ${dataManagementLimits.lifecycleRuleIdCharsMax}`)
    }
    const id = rule.id === '' ? random.bytes(36).toString('base64url').slice(0, 48) : rule.id
    if (ids.has(id)) throw fail('InvalidArgument', 'Rule ID must be unique. Found same ID for more than one rule')
    ids.add(id)
    checkRule(rule)
    return { ...rule, id }
  })
  return { rules: named }
}
