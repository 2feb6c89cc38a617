// The SigV4 canonical request exactly as S3 builds it from a request as received on the wire.
// S3 differs from the generic SigV4 rules: the path is NOT normalised (no '.'/'..' removal, '//'
// kept) and is URI-encoded once. We percent-decode the raw path and query to bytes and re-encode
// every byte that is not RFC 3986 unreserved as %XX (upper-case hex), so a key sent as
// 'a%20b', 'a b', 'a%2fb' or 'caf%C3%A9' canonicalises the way the signing SDK encoded it.
// Query parameters are sorted by encoded name, then encoded value; '+' in a query means space.
// Header values are trimmed, inner whitespace runs collapse to one space, and repeated headers
// join with ','. Never decode to a string and re-encode from it (invalid UTF-8 must survive).
import { S3AuthError } from './errors.ts'

/** Header map with lowercase names; an array holds each occurrence of a repeated header. */
export type RequestHeaders = Readonly<Record<string, string | readonly string[] | undefined>>

export interface QueryParameter {
  /** Decoded as UTF-8 (for reading X-Amz-* values); lossy for invalid UTF-8. */
  readonly name: string
  readonly value: string
  /** Canonical (re-encoded) forms, used for signing. */
  readonly encodedName: string
  readonly encodedValue: string
}

export interface CanonicalRequestParts {
  readonly method: string
  readonly canonicalUri: string
  readonly canonicalQuery: string
  readonly canonicalHeaders: string
  readonly signedHeaders: readonly string[]
  readonly payloadHash: string
}

const hexDigits = '0123456789ABCDEF'
/** byte -> its canonical form: itself when unreserved, else %XX. */
const byteEncoding: readonly string[] = Array.from({ length: 256 }, (_, byte) => {
  const char = String.fromCharCode(byte)
  if (/^[A-Za-z0-9\-._~]$/.test(char)) return char
  return `%${hexDigits[byte >> 4]}${hexDigits[byte & 15]}`
})

/** URI-encode bytes the SigV4 way; '/' stays literal when keepSlash (paths), else %2F. */
export function uriEncodeBytes(bytes: Uint8Array, keepSlash: boolean): string {
  let out = ''
  for (const byte of bytes) out += keepSlash && byte === 0x2f ? '/' : byteEncoding[byte]
  return out
}

function hexValue(code: number): number {
  if (code >= 0x30 && code <= 0x39) return code - 0x30
  const lower = code | 0x20
  if (lower >= 0x61 && lower <= 0x66) return lower - 0x61 + 10
  return -1
}

/**
 * Percent-decode to bytes. Characters outside ASCII are taken as Unicode code points and
 * UTF-8 encoded (Node's HTTP parser only hands us ASCII; the AWS test suite writes raw UTF-8).
 * A '%' not followed by two hex digits is InvalidURI.
 */
export function percentDecode(text: string, plusIsSpace: boolean): Buffer {
  const bytes: number[] = []
  for (let index = 0; index < text.length; index++) {
    const code = text.charCodeAt(index)
    if (code === 0x25) {
      const high = hexValue(text.charCodeAt(index + 1))
      const low = hexValue(text.charCodeAt(index + 2))
      if (high < 0 || low < 0) throw new S3AuthError('InvalidURI', "Couldn't parse the specified URI.")
      bytes.push(high * 16 + low)
      index += 2
    } else if (code === 0x2b && plusIsSpace) {
      bytes.push(0x20)
    } else if (code < 0x80) {
      bytes.push(code)
    } else {
      const codePoint = text.codePointAt(index) ?? code
      if (codePoint > 0xffff) index++
      for (const byte of Buffer.from(String.fromCodePoint(codePoint), 'utf8')) bytes.push(byte)
    }
  }
  return Buffer.from(bytes)
}

/** The canonical URI of a raw request path (before '?'): decoded once, encoded once, never normalised. */
export function canonicalUri(rawPath: string): string {
  if (rawPath === '') return '/'
  return uriEncodeBytes(percentDecode(rawPath, false), true)
}

/** Split a raw query string (after '?') into parameters; a bare name has the empty value. */
export function parseRawQuery(rawQuery: string): QueryParameter[] {
  const parameters: QueryParameter[] = []
  if (rawQuery === '') return parameters
  for (const pair of rawQuery.split('&')) {
    if (pair === '') continue
    const equals = pair.indexOf('=')
    const rawName = equals < 0 ? pair : pair.slice(0, equals)
    const rawValue = equals < 0 ? '' : pair.slice(equals + 1)
    const nameBytes = percentDecode(rawName, true)
    const valueBytes = percentDecode(rawValue, true)
    parameters.push({
      name: nameBytes.toString('utf8'),
      value: valueBytes.toString('utf8'),
      encodedName: uriEncodeBytes(nameBytes, false),
      encodedValue: uriEncodeBytes(valueBytes, false),
    })
  }
  return parameters
}

function compareCodeUnits(left: string, right: string): number {
  return left < right ? -1 : left > right ? 1 : 0
}

/** Sorted 'name=value' pairs joined by '&'; parameters named `omitName` (X-Amz-Signature) are left out. */
export function canonicalQueryString(parameters: readonly QueryParameter[], omitName?: string): string {
  return parameters
    .filter((parameter) => parameter.name !== omitName)
    .map((parameter) => [parameter.encodedName, parameter.encodedValue] as const)
    .sort(([nameA, valueA], [nameB, valueB]) => compareCodeUnits(nameA, nameB) || compareCodeUnits(valueA, valueB))
    .map(([name, value]) => `${name}=${value}`)
    .join('&')
}

/** Trim each occurrence, collapse inner whitespace runs to one space, join occurrences with ','. */
export function canonicalHeaderValue(value: string | readonly string[] | undefined): string {
  if (value === undefined) return ''
  const values = typeof value === 'string' ? [value] : value
  return values.map((one) => one.trim().replace(/\s+/g, ' ')).join(',')
}

/** Read one header as a single string (occurrences joined with ','), or undefined when absent. */
export function headerValue(headers: RequestHeaders, name: string): string | undefined {
  const value = headers[name]
  if (value === undefined) return undefined
  return typeof value === 'string' ? value : value.join(',')
}

/** 'name:value\n' for each signed header in the order given (absent headers sign as empty). */
export function canonicalHeadersBlock(headers: RequestHeaders, signedHeaders: readonly string[]): string {
  let block = ''
  for (const name of signedHeaders) block += `${name}:${canonicalHeaderValue(headers[name])}\n`
  return block
}

export function buildCanonicalRequest(parts: CanonicalRequestParts): string {
  return [
    parts.method,
    parts.canonicalUri,
    parts.canonicalQuery,
    parts.canonicalHeaders,
    parts.signedHeaders.join(';'),
    parts.payloadHash,
  ].join('\n')
}
