// The IntelligentTieringConfiguration document in both directions (the body of
// PutBucketIntelligentTieringConfiguration, the answer of Get..., one entry of List...):
//   <IntelligentTieringConfiguration><Id/><Filter>(<Prefix/> | <Tag/> | <And><Prefix/><Tag/>*</And>)</Filter>
//     <Status>Enabled|Disabled</Status><Tiering><Days/><AccessTier>ARCHIVE_ACCESS|DEEP_ARCHIVE_ACCESS</AccessTier></Tiering>+
//   </IntelligentTieringConfiguration>
// Parsing checks shapes (MalformedXML as AWS); day ranges and limits are the objects layer's.
// Never: accept an element where the schema has text, or silently drop an element we know.
import type { TieringConfiguration } from '../objects/index.ts'
import { S3Error } from './errors.ts'
import { childList, childNode, childText, parseXmlBody, type XmlChild, type XmlNode } from './xml.ts'

function malformed(detail: string): S3Error {
  return new S3Error('MalformedXML', 'The XML you provided was not well-formed or did not validate against our published schema', { details: { Detail: detail } })
}

const knownElements = new Set(['Id', 'Filter', 'Status', 'Tiering'])

function tagOf(node: XmlNode): { key: string; value: string } {
  const key = childText(node, 'Key')
  const value = childText(node, 'Value')
  if (key === undefined || value === undefined) throw malformed('a Tag needs Key and Value')
  return { key, value }
}

function filterOf(node: XmlNode | undefined): TieringConfiguration['filter'] {
  if (node === undefined || typeof node === 'string') {
    if (typeof node === 'string' && node.trim() !== '') throw malformed('Filter holds elements, not text')
    return { tags: [] }
  }
  const names = Object.keys(node)
  if (names.length === 0) return { tags: [] }
  if (names.length > 1 || childList(node, names[0] ?? '').length > 1) throw malformed('Filter takes one of Prefix, Tag or And')
  const prefix = childText(node, 'Prefix')
  if (prefix !== undefined) return { prefix, tags: [] }
  const tag = childNode(node, 'Tag')
  if (tag !== undefined) return { tags: [tagOf(tag)] }
  const and = childNode(node, 'And')
  if (and === undefined) throw malformed(`unknown Filter element ${names[0] ?? ''}`)
  if (typeof and !== 'string' && Object.keys(and).some((name) => name !== 'Prefix' && name !== 'Tag')) throw malformed('And takes Prefix and Tag')
  const andPrefix = childText(and, 'Prefix')
  return { ...(andPrefix === undefined ? {} : { prefix: andPrefix }), tags: childList(and, 'Tag').map(tagOf) }
}

export function parseTieringConfiguration(body: Buffer): TieringConfiguration {
  const root = parseXmlBody(body, 'IntelligentTieringConfiguration')
  if (typeof root === 'string') throw malformed('IntelligentTieringConfiguration holds elements')
  for (const name of Object.keys(root)) if (!knownElements.has(name)) throw malformed(`unknown element ${name}`)
  const id = childText(root, 'Id')
  if (id === undefined) throw malformed('Id is missing')
  const status = childText(root, 'Status')?.trim()
  if (status !== 'Enabled' && status !== 'Disabled') throw malformed('Status must be Enabled or Disabled')
  const tierings = childList(root, 'Tiering')
  if (tierings.length === 0) throw malformed('at least one Tiering')
  const days: { archiveAccessDays?: number; deepArchiveAccessDays?: number } = {}
  for (const tiering of tierings) {
    const daysText = childText(tiering, 'Days')?.trim()
    if (daysText === undefined || !/^-?\d{1,16}$/.test(daysText)) throw malformed('Tiering needs Days as an integer')
    const accessTier = childText(tiering, 'AccessTier')?.trim()
    const field = accessTier === 'ARCHIVE_ACCESS' ? 'archiveAccessDays' : accessTier === 'DEEP_ARCHIVE_ACCESS' ? 'deepArchiveAccessDays' : undefined
    if (field === undefined) throw malformed('AccessTier must be ARCHIVE_ACCESS or DEEP_ARCHIVE_ACCESS')
    if (days[field] !== undefined) throw new S3Error('InvalidArgument', `Only one Tiering per AccessTier: ${accessTier ?? ''} is repeated`)
    days[field] = Number(daysText)
  }
  return { id, enabled: status === 'Enabled', filter: filterOf(childNode(root, 'Filter')), ...days }
}

/** The children of an <IntelligentTieringConfiguration> element. */
export function tieringConfigurationXml(configuration: TieringConfiguration): XmlChild[] {
  const { prefix, tags } = configuration.filter
  const tagXml = (tag: { key: string; value: string }): XmlChild => ['Tag', [['Key', tag.key], ['Value', tag.value]]]
  let filter: XmlChild[] = []
  if (tags.length === 0 && prefix !== undefined) filter = [['Prefix', prefix]]
  else if (tags.length === 1 && prefix === undefined && tags[0] !== undefined) filter = [tagXml(tags[0])]
  else if (tags.length > 0) filter = [['And', [...(prefix === undefined ? [] : [['Prefix', prefix] as XmlChild]), ...tags.map(tagXml)]]]
  const tierings: XmlChild[] = []
  if (configuration.archiveAccessDays !== undefined) tierings.push(['Tiering', [['Days', configuration.archiveAccessDays], ['AccessTier', 'ARCHIVE_ACCESS']]])
  if (configuration.deepArchiveAccessDays !== undefined) tierings.push(['Tiering', [['Days', configuration.deepArchiveAccessDays], ['AccessTier', 'DEEP_ARCHIVE_ACCESS']]])
  return [['Id', configuration.id], ['Filter', filter], ['Status', configuration.enabled ? 'Enabled' : 'Disabled'], ...tierings]
}
