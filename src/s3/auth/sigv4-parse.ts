// Parsing of the SigV4 authentication parameters of a request, in either form: the
// Authorization header ('AWS4-HMAC-SHA256 Credential=..., SignedHeaders=..., Signature=...') or
// the presigned-URL query (X-Amz-Algorithm, X-Amz-Credential, X-Amz-Date, X-Amz-Expires,
// X-Amz-SignedHeaders, X-Amz-Signature). Only syntax is checked here, with AWS's codes and
// messages: AuthorizationHeaderMalformed for the header form, AuthorizationQueryParametersError
// for the query form. Time, scope-against-config and the signature itself are sigv4.ts's job.
import { s3RequestLimits } from '../../lib/index.ts'
import { headerValue, type QueryParameter, type RequestHeaders } from './canonical.ts'
import { S3AuthError, type S3AuthErrorCode } from './errors.ts'
import { sigV4Algorithm } from './signing.ts'

export type AuthKind = 'header' | 'presigned'

export interface SigV4Credential {
  readonly accessKeyId: string
  /** 'YYYYMMDD' */
  readonly date: string
  readonly region: string
  readonly service: string
  /** 'YYYYMMDD/region/service/aws4_request' */
  readonly scope: string
}

export interface ParsedSigV4 {
  readonly kind: AuthKind
  readonly credential: SigV4Credential
  readonly signedHeaders: readonly string[]
  /** As sent; compared in constant time later. */
  readonly signature: string
  /** 'YYYYMMDDTHHMMSSZ', from X-Amz-Date (query or header) or the Date header. */
  readonly amzDate: string
  readonly requestTimeMs: number
  /** Presigned only: X-Amz-Expires in seconds. */
  readonly expiresSeconds?: number
}

const amzDatePattern = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/
const headerNamePattern = /^[a-z0-9!#$%&'*+\-.^_`|~]+$/
const expiresPattern = /^\d{1,7}$/

/** Milliseconds since the epoch of a 'YYYYMMDDTHHMMSSZ' timestamp, or undefined when malformed. */
export function parseAmzDate(text: string): number | undefined {
  const match = amzDatePattern.exec(text)
  if (!match) return undefined
  const [year, month, day, hour, minute, second] = match.slice(1).map(Number) as [number, number, number, number, number, number]
  const timeMs = Date.UTC(year, month - 1, day, hour, minute, second)
  // Reject calendar overflow such as 20130231 (Date.UTC would roll it into March).
  if (formatAmzDate(timeMs) !== text) return undefined
  return timeMs
}

export function formatAmzDate(timeMs: number): string {
  return new Date(timeMs).toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '')
}

function malformedCode(kind: AuthKind): S3AuthErrorCode {
  return kind === 'header' ? 'AuthorizationHeaderMalformed' : 'AuthorizationQueryParametersError'
}

function malformed(kind: AuthKind, reason: string): S3AuthError {
  const prefix = kind === 'header' ? 'The authorization header is malformed; ' : 'Error parsing the X-Amz-Credential parameter; '
  return new S3AuthError(malformedCode(kind), prefix + reason)
}

export function parseCredential(text: string, kind: AuthKind): SigV4Credential {
  const parts = text.split('/')
  const [accessKeyId, date, region, service, terminator] = parts
  if (parts.length !== 5 || !accessKeyId || !date || !region || !service || !terminator) {
    throw malformed(kind, `the Credential is mal-formed; expecting "<YOUR-AKID>/YYYYMMDD/REGION/SERVICE/aws4_request".`)
  }
  if (!/^\d{8}$/.test(date)) throw malformed(kind, `incorrect date format "${date}". This date in the credential must be in the format "yyyyMMdd".`)
  if (terminator !== 'aws4_request') throw malformed(kind, `incorrect terminal "${terminator}". This endpoint uses "aws4_request".`)
  return { accessKeyId, date, region, service, scope: `${date}/${region}/${service}/${terminator}` }
}

export function parseSignedHeaders(text: string, kind: AuthKind): string[] {
  const names = text.split(';')
  for (const name of names) {
    if (!headerNamePattern.test(name)) throw malformed(kind, `the SignedHeaders list is mal-formed: "${text}".`)
  }
  if (!names.includes('host')) throw malformed(kind, 'the host header must be signed.')
  return names
}

/** 'AWS4-HMAC-SHA256 Credential=..., SignedHeaders=..., Signature=...' -> its three fields. */
function parseAuthorizationFields(authorization: string): { credential: string; signedHeaders: string; signature: string } {
  const space = authorization.indexOf(' ')
  const algorithm = space < 0 ? authorization : authorization.slice(0, space)
  if (algorithm !== sigV4Algorithm) {
    throw new S3AuthError('InvalidRequest', 'The authorization mechanism you have provided is not supported. Please use AWS4-HMAC-SHA256.')
  }
  const fields = new Map<string, string>()
  for (const field of authorization.slice(space + 1).split(',')) {
    const trimmed = field.trim()
    const equals = trimmed.indexOf('=')
    if (equals <= 0) throw malformed('header', `the authorization component "${trimmed}" is malformed.`)
    const name = trimmed.slice(0, equals)
    if (fields.has(name)) throw malformed('header', `the authorization component "${name}" is repeated.`)
    fields.set(name, trimmed.slice(equals + 1))
  }
  const credential = fields.get('Credential')
  const signedHeaders = fields.get('SignedHeaders')
  const signature = fields.get('Signature')
  if (credential === undefined || signedHeaders === undefined || signature === undefined || fields.size !== 3) {
    throw malformed('header', 'expecting exactly the Credential, SignedHeaders and Signature components.')
  }
  return { credential, signedHeaders, signature }
}

/** The request time of a header-signed request: X-Amz-Date, else the HTTP Date header. */
function headerRequestTime(headers: RequestHeaders): { amzDate: string; requestTimeMs: number } {
  const amzDate = headerValue(headers, 'x-amz-date')
  if (amzDate !== undefined) {
    const requestTimeMs = parseAmzDate(amzDate.trim())
    if (requestTimeMs !== undefined) return { amzDate: amzDate.trim(), requestTimeMs }
  } else {
    const date = headerValue(headers, 'date')
    const requestTimeMs = date === undefined ? Number.NaN : Date.parse(date)
    if (Number.isFinite(requestTimeMs)) return { amzDate: formatAmzDate(requestTimeMs), requestTimeMs }
  }
  throw new S3AuthError('AccessDenied', 'AWS authentication requires a valid Date or x-amz-date header')
}

export function parseAuthorizationHeader(authorization: string, headers: RequestHeaders): ParsedSigV4 {
  if (authorization.length > s3RequestLimits.authorizationMaxBytes) throw malformed('header', 'the header is too long.')
  const fields = parseAuthorizationFields(authorization)
  const credential = parseCredential(fields.credential, 'header')
  const signedHeaders = parseSignedHeaders(fields.signedHeaders, 'header')
  const { amzDate, requestTimeMs } = headerRequestTime(headers)
  if (amzDate.slice(0, 8) !== credential.date) {
    throw malformed('header', `Invalid credential date "${credential.date}". This date is not the same as X-Amz-Date: "${amzDate.slice(0, 8)}".`)
  }
  return { kind: 'header', credential, signedHeaders, signature: fields.signature, amzDate, requestTimeMs }
}

const presignedParameterNames = ['X-Amz-Algorithm', 'X-Amz-Credential', 'X-Amz-Signature', 'X-Amz-Date', 'X-Amz-SignedHeaders', 'X-Amz-Expires'] as const

export function parsePresignedQuery(parameters: readonly QueryParameter[]): ParsedSigV4 {
  const values = new Map<string, string>()
  for (const parameter of parameters) {
    if (!(presignedParameterNames as readonly string[]).includes(parameter.name)) continue
    if (values.has(parameter.name)) throw queryError(`${parameter.name} is repeated.`)
    values.set(parameter.name, parameter.value)
  }
  if (values.size !== presignedParameterNames.length) {
    throw queryError('Query-string authentication version 4 requires the X-Amz-Algorithm, X-Amz-Credential, X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, and X-Amz-Expires parameters.')
  }
  if (values.get('X-Amz-Algorithm') !== sigV4Algorithm) throw queryError('X-Amz-Algorithm only supports "AWS4-HMAC-SHA256"')
  const amzDate = values.get('X-Amz-Date') ?? ''
  const requestTimeMs = parseAmzDate(amzDate)
  if (requestTimeMs === undefined) throw queryError('X-Amz-Date must be in the ISO8601 Long Format "yyyyMMdd\'T\'HHmmss\'Z\'"')
  const expiresText = values.get('X-Amz-Expires') ?? ''
  if (!expiresPattern.test(expiresText)) throw queryError('X-Amz-Expires should be a number')
  const expiresSeconds = Number(expiresText)
  if (expiresSeconds > s3RequestLimits.presignedExpiresMaxSeconds) {
    throw queryError(`X-Amz-Expires must be less than a week (in seconds) that is ${s3RequestLimits.presignedExpiresMaxSeconds}`)
  }
  const credential = parseCredential(values.get('X-Amz-Credential') ?? '', 'presigned')
  if (credential.date !== amzDate.slice(0, 8)) {
    throw queryError(`Invalid credential date "${credential.date}". This date is not the same as X-Amz-Date: "${amzDate.slice(0, 8)}".`)
  }
  const signedHeaders = parseSignedHeaders(values.get('X-Amz-SignedHeaders') ?? '', 'presigned')
  const signature = values.get('X-Amz-Signature') ?? ''
  return { kind: 'presigned', credential, signedHeaders, signature, amzDate, requestTimeMs, expiresSeconds }
}

function queryError(message: string): S3AuthError {
  return new S3AuthError('AuthorizationQueryParametersError', message)
}
