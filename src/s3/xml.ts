// S3 XML in both directions. Rendering: a tiny element builder that escapes every text node
// (the five XML entities plus '\r' and the C0 controls as character references, so keys with
// newlines or carriage returns survive a parser's line-end normalisation) and puts the S3
// namespace on the root. Parsing: request bodies (CompleteMultipartUpload, Delete, Tagging,
// VersioningConfiguration, CreateBucketConfiguration) with fast-xml-parser, whitespace kept
// (keys may begin or end with spaces), entities decoded here (the XML five and numeric
// references only; a DOCTYPE is refused, so no entity expansion can blow up). Anything that is
// not well-formed, or whose root is not the expected element, is MalformedXML.
// Never renders a value unescaped; never hands a caller a '#text' node.
import { XMLParser, XMLValidator } from 'fast-xml-parser'
import { S3Error } from './errors.ts'

export const s3Namespace = 'http://s3.amazonaws.com/doc/2006-03-01/'
const declaration = '<?xml version="1.0" encoding="UTF-8"?>\n'

/**
 * One child element: [name, value]. Undefined values are left out; arrays nest elements. A name
 * may carry attributes after a space ('Grantee xsi:type="CanonicalUser"'): they are written
 * verbatim, so only constant attribute text belongs there, never client data.
 */
export type XmlChild = readonly [name: string, value: XmlValue]
export type XmlValue = string | number | boolean | undefined | readonly XmlChild[]

const escapes: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;', '\r': '&#13;' }

/** Escape text for an element body or attribute value. */
export function escapeXml(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/[&<>"'\r\x00-\x08\x0b\x0c\x0e-\x1f]/g, (char) => escapes[char] ?? `&#${char.charCodeAt(0)};`)
}

function renderChildren(children: readonly XmlChild[], out: string[]): void {
  for (const [name, value] of children) {
    if (value === undefined) continue
    const space = name.indexOf(' ')
    const closing = space < 0 ? name : name.slice(0, space)
    if (typeof value === 'object') {
      out.push(`<${name}>`)
      renderChildren(value, out)
      out.push(`</${closing}>`)
    } else {
      const text = typeof value === 'string' ? escapeXml(value) : String(value)
      out.push(`<${name}>${text}</${closing}>`)
    }
  }
}

/** A whole document: declaration, root element (with the S3 namespace unless namespace: false). */
export function xmlDocument(root: string, children: readonly XmlChild[], options: { namespace?: boolean } = {}): string {
  const out: string[] = [declaration, options.namespace === false ? `<${root}>` : `<${root} xmlns="${s3Namespace}">`]
  renderChildren(children, out)
  out.push(`</${root}>`)
  return out.join('')
}

/** A document whose root holds only text (GetBucketLocation's LocationConstraint). */
export function xmlTextDocument(root: string, text: string): string {
  return `${declaration}<${root} xmlns="${s3Namespace}">${escapeXml(text)}</${root}>`
}

/** ISO 8601 with milliseconds, as S3 writes LastModified and friends in XML. */
export function xmlTimestamp(ms: number): string {
  return new Date(ms).toISOString()
}

// ---- Parsing ------------------------------------------------------------------------------

/** A parsed element: text, or named children (a repeated name becomes an array). */
export type XmlNode = string | { readonly [name: string]: XmlNode | XmlNode[] }

const parser = new XMLParser({
  ignoreAttributes: true,
  parseTagValue: false,
  parseAttributeValue: false,
  trimValues: false,
  processEntities: false,
  ignoreDeclaration: true,
  ignorePiTags: true,
  removeNSPrefix: true,
})

const entityPattern = /&(?:(amp|lt|gt|quot|apos)|#(\d{1,7})|#x([0-9a-fA-F]{1,6}));/g
const namedEntities: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" }

function malformed(detail?: string): S3Error {
  return new S3Error('MalformedXML', 'The XML you provided was not well-formed or did not validate against our published schema.', detail === undefined ? {} : { details: { Detail: detail } })
}

function decodeEntities(text: string): string {
  if (!text.includes('&')) return text
  if (text.replace(entityPattern, '').includes('&')) throw malformed('a bare "&" or an unknown entity')
  return text.replace(entityPattern, (_match, name: string | undefined, decimal: string | undefined, hex: string | undefined) => {
    if (name !== undefined) return namedEntities[name] ?? ''
    const codePoint = decimal !== undefined ? Number(decimal) : Number.parseInt(hex ?? '', 16)
    if (codePoint > 0x10ffff || codePoint === 0) throw malformed('bad character reference')
    return String.fromCodePoint(codePoint)
  })
}

/** Convert the parser's output: decode entities, drop whitespace-only '#text' of mixed content. */
function normalise(value: unknown): XmlNode {
  if (typeof value === 'string') return decodeEntities(value)
  if (typeof value !== 'object' || value === null) return ''
  const out: Record<string, XmlNode | XmlNode[]> = {}
  for (const [name, child] of Object.entries(value)) {
    if (name === '#text') {
      if (typeof child === 'string' && child.trim() !== '') throw malformed('text where elements were expected')
      continue
    }
    out[name] = Array.isArray(child) ? child.map(normalise) : normalise(child)
  }
  return out
}

/**
 * Parse a request body whose root must be `root`; returns the root's content. An empty body is
 * MalformedXML too (callers that allow an empty body check before calling).
 */
export function parseXmlBody(body: Buffer, root: string): XmlNode {
  const text = body.toString('utf8')
  if (/<!DOCTYPE/i.test(text)) throw malformed('DOCTYPE is not allowed')
  if (text.trim() === '' || XMLValidator.validate(text) !== true) throw malformed()
  let parsed: unknown
  try {
    parsed = parser.parse(text)
  } catch (error) {
    throw new S3Error('MalformedXML', 'The XML you provided was not well-formed or did not validate against our published schema.', { cause: error })
  }
  const document = normalise(parsed)
  if (typeof document === 'string') throw malformed()
  const names = Object.keys(document)
  if (names.length !== 1 || names[0] !== root) throw malformed(`the root element must be ${root}`)
  const content = document[root]
  if (content === undefined || Array.isArray(content)) throw malformed(`one ${root} element`)
  return content
}

/** The child elements of `node` named `name`, always as a list (0, 1 or many). */
export function childList(node: XmlNode, name: string): XmlNode[] {
  if (typeof node === 'string') return []
  const child = node[name]
  if (child === undefined) return []
  return Array.isArray(child) ? child : [child]
}

/** The single child `name` of `node`: its node, or undefined when absent. Repeated: MalformedXML. */
export function childNode(node: XmlNode, name: string): XmlNode | undefined {
  const list = childList(node, name)
  if (list.length > 1) throw malformed(`${name} is repeated`)
  return list[0]
}

/** The text of the single child `name`, or undefined; an element where text belongs is MalformedXML. */
export function childText(node: XmlNode, name: string): string | undefined {
  const child = childNode(node, name)
  if (child === undefined) return undefined
  if (typeof child !== 'string') {
    // <Name/> and <Name></Name> parse as '' already; an object here has child elements.
    if (Object.keys(child).length === 0) return ''
    throw malformed(`${name} must hold text`)
  }
  return child
}

export function requireChildText(node: XmlNode, name: string): string {
  const text = childText(node, name)
  if (text === undefined) throw malformed(`${name} is missing`)
  return text
}
