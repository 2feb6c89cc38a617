// The lifecycle configuration document in both directions (PutBucketLifecycleConfiguration's
// body, GetBucketLifecycleConfiguration's answer). Parsing checks shapes only, with AWS's
// MalformedXML for anything the schema does not allow (unknown Status, a non-number Days, a
// Filter with two predicates outside And, both Filter and Prefix, an unknown StorageClass);
// the rules' meaning (IDs, day ranges, transition order, ...) is checked by the objects layer.
// Rendering writes each rule back in the form it was given (Filter or the deprecated Prefix).
// Never: accept an element where the schema has text, or silently drop an element we know.
import type { LifecycleConfiguration, LifecycleExpiration, LifecycleFilter, LifecycleRule, LifecycleTransition, NoncurrentTransition, TransitionStorageClass } from '../objects/index.ts'
import { S3Error } from './errors.ts'
import { childList, childNode, childText, parseXmlBody, type XmlChild, type XmlNode } from './xml.ts'

const transitionClasses: readonly TransitionStorageClass[] = ['STANDARD_IA', 'ONEZONE_IA', 'INTELLIGENT_TIERING', 'GLACIER_IR', 'GLACIER', 'DEEP_ARCHIVE']

function malformed(detail: string): S3Error {
  return new S3Error('MalformedXML', 'The XML you provided was not well-formed or did not validate against our published schema', { details: { Detail: detail } })
}

const knownRuleElements = new Set(['ID', 'Prefix', 'Filter', 'Status', 'Expiration', 'Transition', 'NoncurrentVersionTransition', 'NoncurrentVersionExpiration', 'AbortIncompleteMultipartUpload'])

/** An integer element: digits (a sign is allowed so that range errors are InvalidArgument, not MalformedXML). */
function integerOf(node: XmlNode, name: string): number | undefined {
  const text = childText(node, name)
  if (text === undefined) return undefined
  if (!/^-?\d{1,16}$/.test(text.trim())) throw malformed(`${name} must be an integer`)
  return Number(text.trim())
}

function dateOf(node: XmlNode, name: string): number | undefined {
  const text = childText(node, name)
  if (text === undefined) return undefined
  const trimmed = text.trim()
  // ISO 8601: a date, or a date and time (AWS writes 2030-01-01T00:00:00.000Z).
  const iso = /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})?)?$/.test(trimmed)
  const ms = iso ? Date.parse(/T.*(Z|[+-]\d{2}:?\d{2})$/.test(trimmed) || !trimmed.includes('T') ? trimmed : `${trimmed}Z`) : Number.NaN
  if (!Number.isFinite(ms)) throw new S3Error('InvalidArgument', `'${name}' must be an ISO 8601 date, e.g. 2030-01-01T00:00:00.000Z`, { details: { ArgumentName: name, ArgumentValue: text } })
  return ms
}

function storageClassOf(node: XmlNode): TransitionStorageClass {
  const text = childText(node, 'StorageClass')
  const storageClass = transitionClasses.find((candidate) => candidate === text?.trim())
  if (storageClass === undefined) throw malformed(`StorageClass must be one of ${transitionClasses.join(', ')}`)
  return storageClass
}

function tagOf(node: XmlNode): { key: string; value: string } {
  const key = childText(node, 'Key')
  const value = childText(node, 'Value')
  if (key === undefined || value === undefined) throw malformed('a Tag needs Key and Value')
  return { key, value }
}

function nonNegative(value: number | undefined, name: string): number | undefined {
  if (value !== undefined && value < 0) throw malformed(`${name} must not be negative`)
  return value
}

function filterOf(node: XmlNode): LifecycleFilter {
  if (typeof node === 'string') {
    if (node.trim() !== '') throw malformed('Filter holds elements, not text')
    return { kind: 'empty' }
  }
  const names = Object.keys(node)
  if (names.length === 0) return { kind: 'empty' }
  if (names.length > 1 || childList(node, names[0] ?? '').length > 1) throw malformed('Filter takes one of Prefix, Tag, ObjectSizeGreaterThan, ObjectSizeLessThan or And')
  const tag = childNode(node, 'Tag')
  if (tag !== undefined) return { kind: 'tag', tag: tagOf(tag) }
  const prefix = childText(node, 'Prefix')
  if (prefix !== undefined) return { kind: 'prefix', prefix }
  const greater = nonNegative(integerOf(node, 'ObjectSizeGreaterThan'), 'ObjectSizeGreaterThan')
  if (greater !== undefined) return { kind: 'sizeGreaterThan', bytes: greater }
  const less = nonNegative(integerOf(node, 'ObjectSizeLessThan'), 'ObjectSizeLessThan')
  if (less !== undefined) return { kind: 'sizeLessThan', bytes: less }
  const and = childNode(node, 'And')
  if (and === undefined) throw malformed(`unknown Filter element ${names[0] ?? ''}`)
  const andPrefix = childText(and, 'Prefix')
  const andGreater = nonNegative(integerOf(and, 'ObjectSizeGreaterThan'), 'ObjectSizeGreaterThan')
  const andLess = nonNegative(integerOf(and, 'ObjectSizeLessThan'), 'ObjectSizeLessThan')
  return {
    kind: 'and',
    ...(andPrefix === undefined ? {} : { prefix: andPrefix }),
    tags: childList(and, 'Tag').map(tagOf),
    ...(andGreater === undefined ? {} : { sizeGreaterThanBytes: andGreater }),
    ...(andLess === undefined ? {} : { sizeLessThanBytes: andLess }),
  }
}

function expirationOf(node: XmlNode): LifecycleExpiration {
  const days = integerOf(node, 'Days')
  const dateMs = dateOf(node, 'Date')
  const marker = childText(node, 'ExpiredObjectDeleteMarker')
  if (marker !== undefined && marker !== 'true' && marker !== 'false') throw malformed('ExpiredObjectDeleteMarker must be true or false')
  return { ...(days === undefined ? {} : { days }), ...(dateMs === undefined ? {} : { dateMs }), ...(marker === undefined ? {} : { expiredObjectDeleteMarker: marker === 'true' }) }
}

function transitionOf(node: XmlNode): LifecycleTransition {
  const days = integerOf(node, 'Days')
  const dateMs = dateOf(node, 'Date')
  return { ...(days === undefined ? {} : { days }), ...(dateMs === undefined ? {} : { dateMs }), storageClass: storageClassOf(node) }
}

function noncurrentDaysOf(node: XmlNode, what: string): { noncurrentDays: number; newerNoncurrentVersions?: number } {
  const noncurrentDays = integerOf(node, 'NoncurrentDays')
  if (noncurrentDays === undefined) throw malformed(`${what} needs NoncurrentDays`)
  const newer = integerOf(node, 'NewerNoncurrentVersions')
  return { noncurrentDays, ...(newer === undefined ? {} : { newerNoncurrentVersions: newer }) }
}

function ruleOf(node: XmlNode): LifecycleRule {
  if (typeof node === 'string') throw malformed('Rule holds elements')
  for (const name of Object.keys(node)) if (!knownRuleElements.has(name)) throw malformed(`unknown Rule element ${name}`)
  const status = childText(node, 'Status')
  if (status !== 'Enabled' && status !== 'Disabled') throw malformed('Status must be Enabled or Disabled')
  const filterNode = childNode(node, 'Filter')
  const prefix = childText(node, 'Prefix')
  if (filterNode !== undefined && prefix !== undefined) throw malformed('a Rule takes Filter or Prefix, not both')
  if (filterNode === undefined && prefix === undefined) throw malformed('a Rule needs a Filter (or the deprecated Prefix)')
  const expiration = childNode(node, 'Expiration')
  const noncurrentExpiration = childNode(node, 'NoncurrentVersionExpiration')
  const abort = childNode(node, 'AbortIncompleteMultipartUpload')
  const abortDays = abort === undefined ? undefined : integerOf(abort, 'DaysAfterInitiation')
  if (abort !== undefined && abortDays === undefined) throw malformed('AbortIncompleteMultipartUpload needs DaysAfterInitiation')
  return {
    id: childText(node, 'ID') ?? '',
    enabled: status === 'Enabled',
    filter: filterNode === undefined ? { kind: 'rulePrefix', prefix: prefix ?? '' } : filterOf(filterNode),
    ...(expiration === undefined ? {} : { expiration: expirationOf(expiration) }),
    transitions: childList(node, 'Transition').map(transitionOf),
    ...(noncurrentExpiration === undefined ? {} : { noncurrentExpiration: noncurrentDaysOf(noncurrentExpiration, 'NoncurrentVersionExpiration') }),
    noncurrentTransitions: childList(node, 'NoncurrentVersionTransition').map((entry): NoncurrentTransition => ({ ...noncurrentDaysOf(entry, 'NoncurrentVersionTransition'), storageClass: storageClassOf(entry) })),
    ...(abortDays === undefined ? {} : { abortIncompleteUploadDays: abortDays }),
  }
}

export function parseLifecycleConfiguration(body: Buffer): LifecycleConfiguration {
  if (body.length === 0) throw new S3Error('MissingRequestBodyError', 'Request Body is empty')
  const root = parseXmlBody(body, 'LifecycleConfiguration')
  if (typeof root !== 'string') {
    for (const name of Object.keys(root)) if (name !== 'Rule') throw malformed(`unknown LifecycleConfiguration element ${name}`)
  }
  return { rules: childList(root, 'Rule').map(ruleOf) }
}

// ---- Rendering ----------------------------------------------------------------------------

const isoDate = (ms: number): string => new Date(ms).toISOString()

function tagXml(tag: { key: string; value: string }): XmlChild {
  return ['Tag', [['Key', tag.key], ['Value', tag.value]]]
}

function filterXml(filter: LifecycleFilter): XmlChild {
  switch (filter.kind) {
    case 'rulePrefix':
      return ['Prefix', filter.prefix]
    case 'empty':
      return ['Filter', []]
    case 'prefix':
      return ['Filter', [['Prefix', filter.prefix]]]
    case 'tag':
      return ['Filter', [tagXml(filter.tag)]]
    case 'sizeGreaterThan':
      return ['Filter', [['ObjectSizeGreaterThan', filter.bytes]]]
    case 'sizeLessThan':
      return ['Filter', [['ObjectSizeLessThan', filter.bytes]]]
    case 'and':
      return ['Filter', [['And', [
        ['Prefix', filter.prefix],
        ...filter.tags.map(tagXml),
        ['ObjectSizeGreaterThan', filter.sizeGreaterThanBytes],
        ['ObjectSizeLessThan', filter.sizeLessThanBytes],
      ]]]]
  }
}

function ruleXml(rule: LifecycleRule): XmlChild {
  const expiration = rule.expiration
  return ['Rule', [
    ['ID', rule.id],
    filterXml(rule.filter),
    ['Status', rule.enabled ? 'Enabled' : 'Disabled'],
    ...rule.transitions.map((transition): XmlChild => ['Transition', [
      ['Date', transition.dateMs === undefined ? undefined : isoDate(transition.dateMs)],
      ['Days', transition.days],
      ['StorageClass', transition.storageClass],
    ]]),
    ['Expiration', expiration === undefined ? undefined : [
      ['Date', expiration.dateMs === undefined ? undefined : isoDate(expiration.dateMs)],
      ['Days', expiration.days],
      ['ExpiredObjectDeleteMarker', expiration.expiredObjectDeleteMarker],
    ]],
    ...rule.noncurrentTransitions.map((transition): XmlChild => ['NoncurrentVersionTransition', [
      ['NoncurrentDays', transition.noncurrentDays],
      ['StorageClass', transition.storageClass],
      ['NewerNoncurrentVersions', transition.newerNoncurrentVersions],
    ]]),
    ['NoncurrentVersionExpiration', rule.noncurrentExpiration === undefined ? undefined : [
      ['NoncurrentDays', rule.noncurrentExpiration.noncurrentDays],
      ['NewerNoncurrentVersions', rule.noncurrentExpiration.newerNoncurrentVersions],
    ]],
    ['AbortIncompleteMultipartUpload', rule.abortIncompleteUploadDays === undefined ? undefined : [['DaysAfterInitiation', rule.abortIncompleteUploadDays]]],
  ]]
}

export function lifecycleXml(configuration: LifecycleConfiguration): XmlChild[] {
  return configuration.rules.map(ruleXml)
}
