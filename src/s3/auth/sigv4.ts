// Verification of AWS Signature Version 4 for S3, for a request described as plain data (no
// HTTP framework here). Both forms: the Authorization header and presigned URLs. The result tells
// the caller who signed, how the body must be checked (payloadMode) and, for aws-chunked bodies,
// the context the chunk signatures chain from. Everything that fails throws S3AuthError with
// AWS's code and status. Time comes from the injected Clock, secrets from lookupSecret.
// Invariants: a request is accepted only when its signature was recomputed from the canonical
// request and compared in constant time; every x-amz-* header present is covered by the
// signature. This module never reads the body: the caller verifies the payload hash
// (verifyPayloadSha256) or decodes aws-chunked bodies with the returned chunkSigning context.
import { createSecretKey, type KeyObject } from 'node:crypto'
import { s3RequestLimits, type Clock } from '../../lib/index.ts'
import {
  buildCanonicalRequest,
  canonicalHeadersBlock,
  canonicalQueryString,
  canonicalUri,
  headerValue,
  parseRawQuery,
  type QueryParameter,
  type RequestHeaders,
} from './canonical.ts'
import { S3AuthError } from './errors.ts'
import { deriveSigningKey, requestStringToSign, signaturesEqual, signString, type ChunkSigningContext } from './signing.ts'
import { parseAuthorizationHeader, parsePresignedQuery, type AuthKind, type ParsedSigV4 } from './sigv4-parse.ts'

export type PayloadMode = 'signed' | 'unsigned' | 'streaming-signed' | 'streaming-signed-trailer' | 'streaming-unsigned-trailer'

/** The x-amz-content-sha256 values that name a payload mode (all but 'signed', which is a hex hash). */
export const payloadModeClaims = {
  'UNSIGNED-PAYLOAD': 'unsigned',
  'STREAMING-AWS4-HMAC-SHA256-PAYLOAD': 'streaming-signed',
  'STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER': 'streaming-signed-trailer',
  'STREAMING-UNSIGNED-PAYLOAD-TRAILER': 'streaming-unsigned-trailer',
} as const satisfies Record<string, Exclude<PayloadMode, 'signed'>>

export interface SigV4Request {
  readonly method: string
  /** The path exactly as received (before '?'), still percent-encoded. */
  readonly rawPath: string
  /** The query exactly as received (after '?', without it); '' when none. */
  readonly rawQuery: string
  /** Lowercase names; repeated headers as arrays (Node: req.headersDistinct). */
  readonly headers: RequestHeaders
  /**
   * The payload hash the signature covers, for callers that know it better than the headers
   * (non-S3 test vectors sign the hash of the body). Default: the x-amz-content-sha256 header;
   * for presigned URLs the X-Amz-Content-Sha256 query parameter or header, else UNSIGNED-PAYLOAD.
   */
  readonly payloadHash?: string
}

export interface SigV4VerifierOptions {
  /** The secret of an access key, or undefined when the key does not exist (or is disabled). */
  lookupSecret(accessKeyId: string): Promise<string | undefined>
  readonly clock: Clock
  /** When set, only this region is accepted in the credential scope; otherwise any region. */
  readonly region?: string
  /** Service in the credential scope; 's3' unless testing with the generic SigV4 suite. */
  readonly service?: string
}

export interface SigV4Verified {
  readonly accessKeyId: string
  readonly authKind: AuthKind
  readonly payloadMode: PayloadMode
  /** payloadMode 'signed': the lowercase hex SHA-256 the body must have. */
  readonly payloadSha256?: string
  /** Streaming modes: x-amz-decoded-content-length, the size of the decoded body. */
  readonly decodedContentLength?: number
  readonly region: string
  readonly signedHeaders: readonly string[]
  /** The seed for aws-chunked chunk and trailer signatures (the request signature itself). */
  readonly chunkSigning: ChunkSigningContext
  /** Presigned only: when the URL stops being valid (ms since the epoch). */
  readonly expiresAtMs?: number
}

export interface SigV4Verifier {
  verify(request: SigV4Request): Promise<SigV4Verified>
}

/** Which authentication a request carries, without validating it. */
export function detectAuthKind(request: Pick<SigV4Request, 'headers' | 'rawQuery'>): AuthKind | 'anonymous' {
  const hasHeader = headerValue(request.headers, 'authorization') !== undefined
  const hasQuery = /(?:^|&)(?:X-Amz-Algorithm|X-Amz-Signature|Signature)=/.test(request.rawQuery)
  if (hasHeader && hasQuery) {
    throw new S3AuthError(
      'InvalidArgument',
      'Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter, Signature query string parameter or the Authorization header should be specified',
    )
  }
  if (hasHeader) return 'header'
  return hasQuery ? 'presigned' : 'anonymous'
}

/**
 * Signature Version 2 (`Authorization: AWS key:sig`, or `AWSAccessKeyId=...&Signature=...` in a
 * presigned URL; boto3 before 1.36 presigns this way by default) gets AWS's own answer for
 * regions that only take SigV4, instead of a confusing SigV4 parse error.
 */
function rejectSignatureVersion2(request: Pick<SigV4Request, 'headers' | 'rawQuery'>, kind: AuthKind): void {
  const header = headerValue(request.headers, 'authorization') ?? ''
  const version2 = kind === 'header' ? /^AWS [^\s:]+:/.test(header) : !/(?:^|&)X-Amz-Algorithm=/.test(request.rawQuery) && /(?:^|&)AWSAccessKeyId=/.test(request.rawQuery)
  if (version2) {
    throw new S3AuthError('InvalidRequest', 'The authorization mechanism you have provided is not supported. Please use AWS4-HMAC-SHA256.')
  }
}

export function createSigV4Verifier(options: SigV4VerifierOptions): SigV4Verifier {
  const service = options.service ?? 's3'
  const signingKeys = new SigningKeyCache(s3RequestLimits.signingKeyCacheEntriesMax)

  async function verify(request: SigV4Request): Promise<SigV4Verified> {
    const kind = detectAuthKind(request)
    if (kind === 'anonymous') throw new S3AuthError('AccessDenied', 'Access Denied')
    rejectSignatureVersion2(request, kind)
    const query = parseRawQuery(request.rawQuery)
    const parsed = kind === 'header' ? parseAuthorizationHeader(headerValue(request.headers, 'authorization') ?? '', request.headers) : parsePresignedQuery(query)
    checkScope(parsed, service, options.region)
    rejectSessionTokens(request.headers, query)
    const expiresAtMs = checkTime(parsed, options.clock.nowMs())
    checkAmzHeadersSigned(request.headers, parsed)
    const payloadClaim = request.payloadHash ?? payloadClaimOf(request.headers, query, kind)
    const payload = parsePayloadClaim(payloadClaim, kind)
    const decodedContentLength = payload.mode.startsWith('streaming') ? parseDecodedContentLength(request.headers) : undefined

    const { accessKeyId } = parsed.credential
    const secret = await options.lookupSecret(accessKeyId)
    if (secret === undefined) {
      throw new S3AuthError('InvalidAccessKeyId', 'The AWS Access Key Id you provided does not exist in our records.', { details: { AWSAccessKeyId: accessKeyId } })
    }
    const { signingKey, hmacKey } = signingKeys.get(accessKeyId, secret, parsed.credential)
    const canonicalRequest = buildCanonicalRequest({
      method: request.method,
      canonicalUri: canonicalUri(request.rawPath),
      canonicalQuery: canonicalQueryString(query, kind === 'presigned' ? 'X-Amz-Signature' : undefined),
      canonicalHeaders: canonicalHeadersBlock(request.headers, parsed.signedHeaders),
      signedHeaders: parsed.signedHeaders,
      payloadHash: payloadClaim,
    })
    const stringToSign = requestStringToSign(parsed.amzDate, parsed.credential.scope, canonicalRequest)
    const signature = signString(hmacKey, stringToSign)
    if (!signaturesEqual(signature, parsed.signature)) {
      throw new S3AuthError('SignatureDoesNotMatch', 'The request signature we calculated does not match the signature you provided. Check your key and signing method.', {
        details: { AWSAccessKeyId: accessKeyId, StringToSign: stringToSign, SignatureProvided: parsed.signature, CanonicalRequest: canonicalRequest },
      })
    }
    return {
      accessKeyId,
      authKind: kind,
      payloadMode: payload.mode,
      ...(payload.sha256 === undefined ? {} : { payloadSha256: payload.sha256 }),
      ...(decodedContentLength === undefined ? {} : { decodedContentLength }),
      ...(expiresAtMs === undefined ? {} : { expiresAtMs }),
      region: parsed.credential.region,
      signedHeaders: parsed.signedHeaders,
      chunkSigning: { signingKey, amzDate: parsed.amzDate, scope: parsed.credential.scope, seedSignature: signature },
    }
  }

  return { verify }
}

function checkScope(parsed: ParsedSigV4, service: string, region: string | undefined): void {
  const code = parsed.kind === 'header' ? 'AuthorizationHeaderMalformed' : 'AuthorizationQueryParametersError'
  const { credential } = parsed
  if (credential.service !== service) {
    throw new S3AuthError(code, `Error parsing the Credential: incorrect service "${credential.service}". This endpoint belongs to "${service}".`)
  }
  if (region !== undefined && credential.region !== region) {
    const prefix = parsed.kind === 'header' ? 'The authorization header is malformed' : 'Error parsing the X-Amz-Credential parameter'
    throw new S3AuthError(code, `${prefix}; the region '${credential.region}' is wrong; expecting '${region}'`, { details: { Region: region } })
  }
}

/** Cairn issues no temporary credentials, so a session token can never be valid. */
function rejectSessionTokens(headers: RequestHeaders, query: readonly QueryParameter[]): void {
  if (headers['x-amz-security-token'] !== undefined || query.some((parameter) => parameter.name === 'X-Amz-Security-Token')) {
    throw new S3AuthError('InvalidToken', 'The provided token is malformed or otherwise invalid.')
  }
}

/** Header auth: within the clock-skew window. Presigned: not yet expired, not from the future. */
function checkTime(parsed: ParsedSigV4, nowMs: number): number | undefined {
  const skewMaxMs = s3RequestLimits.sigV4ClockSkewMaxMs
  const serverTime = new Date(nowMs).toISOString()
  if (parsed.kind === 'header') {
    if (Math.abs(nowMs - parsed.requestTimeMs) > skewMaxMs) {
      throw new S3AuthError('RequestTimeTooSkewed', 'The difference between the request time and the current time is too large.', {
        details: { RequestTime: parsed.amzDate, ServerTime: serverTime, MaxAllowedSkewMilliseconds: String(skewMaxMs) },
      })
    }
    return undefined
  }
  const expiresSeconds = parsed.expiresSeconds ?? 0
  const expiresAtMs = parsed.requestTimeMs + expiresSeconds * 1000
  if (nowMs > expiresAtMs) {
    throw new S3AuthError('AccessDenied', 'Request has expired', {
      details: { 'X-Amz-Expires': String(expiresSeconds), Expires: new Date(expiresAtMs).toISOString(), ServerTime: serverTime },
    })
  }
  if (parsed.requestTimeMs - nowMs > skewMaxMs) {
    throw new S3AuthError('AccessDenied', 'Request is not valid yet', { details: { 'X-Amz-Date': parsed.amzDate, ServerTime: serverTime } })
  }
  return expiresAtMs
}

/** AWS refuses x-amz-* headers the signature does not cover (and the Date header it dates by). */
function checkAmzHeadersSigned(headers: RequestHeaders, parsed: ParsedSigV4): void {
  const signed = new Set(parsed.signedHeaders)
  const unsigned = Object.keys(headers).filter((name) => headers[name] !== undefined && name.startsWith('x-amz-') && !signed.has(name))
  if (parsed.kind === 'header' && headers['x-amz-date'] === undefined && !signed.has('date')) unsigned.push('date')
  if (unsigned.length > 0) {
    throw new S3AuthError('AccessDenied', 'There were headers present in the request which were not signed', { details: { HeadersNotSigned: unsigned.join(', ') } })
  }
}

function payloadClaimOf(headers: RequestHeaders, query: readonly QueryParameter[], kind: AuthKind): string {
  const header = headerValue(headers, 'x-amz-content-sha256')
  if (kind === 'header') {
    if (header === undefined) throw new S3AuthError('InvalidRequest', 'Missing required header for this request: x-amz-content-sha256')
    return header
  }
  const fromQuery = query.find((parameter) => parameter.name.toLowerCase() === 'x-amz-content-sha256')
  return fromQuery?.value ?? header ?? 'UNSIGNED-PAYLOAD'
}

export function parsePayloadClaim(claim: string, kind: AuthKind): { mode: PayloadMode; sha256?: string } {
  if (/^[0-9a-f]{64}$/.test(claim)) return { mode: 'signed', sha256: claim }
  const mode = (payloadModeClaims as Record<string, Exclude<PayloadMode, 'signed'> | undefined>)[claim]
  if (mode === undefined) {
    throw new S3AuthError('InvalidArgument', `x-amz-content-sha256 must be ${Object.keys(payloadModeClaims).join(', ')} or a valid sha256 value.`, {
      details: { ArgumentName: 'x-amz-content-sha256', ArgumentValue: claim },
    })
  }
  if (kind === 'presigned' && mode !== 'unsigned') {
    throw new S3AuthError('InvalidRequest', 'Presigned URLs do not support aws-chunked payloads.')
  }
  return { mode }
}

function parseDecodedContentLength(headers: RequestHeaders): number {
  const text = headerValue(headers, 'x-amz-decoded-content-length')
  if (text === undefined) throw new S3AuthError('MissingContentLength', 'You must provide the Content-Length HTTP header.')
  const length = /^\d{1,16}$/.test(text) ? Number(text) : Number.NaN
  if (!Number.isSafeInteger(length)) {
    throw new S3AuthError('InvalidArgument', 'x-amz-decoded-content-length must be a non-negative integer.', {
      details: { ArgumentName: 'x-amz-decoded-content-length', ArgumentValue: text },
    })
  }
  return length
}

/** After reading a 'signed' body: its SHA-256 must equal the claim the signature covered. */
export function verifyPayloadSha256(claimedSha256Hex: string, computed: Uint8Array): void {
  const computedHex = Buffer.from(computed).toString('hex')
  if (!signaturesEqual(computedHex, claimedSha256Hex)) {
    throw new S3AuthError('XAmzContentSHA256Mismatch', "The provided 'x-amz-content-sha256' header does not match what was computed.", {
      details: { ClientComputedContentSHA256: claimedSha256Hex, S3ComputedContentSHA256: computedHex },
    })
  }
}

/**
 * Bounded LRU of derived signing keys (as KeyObjects: HMAC with a KeyObject skips the key
 * preparation node:crypto does for a Buffer on every call); an entry is reused only while the
 * secret is unchanged.
 */
class SigningKeyCache {
  readonly #entriesMax: number
  readonly #entries = new Map<string, CachedSigningKey>()
  constructor(entriesMax: number) {
    this.#entriesMax = entriesMax
  }
  get(accessKeyId: string, secret: string, credential: ParsedSigV4['credential']): CachedSigningKey {
    const cacheKey = `${accessKeyId}\n${credential.scope}`
    const cached = this.#entries.get(cacheKey)
    this.#entries.delete(cacheKey)
    const entry = cached?.secret === secret ? cached : derivedKey(secret, credential)
    this.#entries.set(cacheKey, entry)
    if (this.#entries.size > this.#entriesMax) {
      const oldest = this.#entries.keys().next()
      if (!oldest.done) this.#entries.delete(oldest.value)
    }
    return entry
  }
}

interface CachedSigningKey {
  readonly secret: string
  readonly signingKey: Buffer
  /** The same key as a KeyObject, for the request signature's HMAC. */
  readonly hmacKey: KeyObject
}

function derivedKey(secret: string, credential: ParsedSigV4['credential']): CachedSigningKey {
  const signingKey = deriveSigningKey(secret, credential.date, credential.region, credential.service)
  return { secret, signingKey, hmacKey: createSecretKey(signingKey) }
}
