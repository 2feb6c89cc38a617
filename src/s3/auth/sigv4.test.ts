import t from 'tap'
import { createHash } from 'node:crypto'
import { ManualClock } from '../../lib/index.ts'
import { parseRawRequest, withoutUnsignedAmzHeaders, type ParsedRawRequest } from './fixtures/raw-request.ts'
import { s3DocsContext, s3DocsVectors, suiteContext, suiteHeaderVectors, suiteNormalizedOnlyVectors, suiteQueryVectors } from './fixtures/sigv4-vectors.ts'
import { createSigV4Verifier, type SigV4Request, type SigV4VerifierOptions } from './sigv4.ts'
import { deriveSigningKey, emptySha256Hex, requestStringToSign, signString } from './signing.ts'
import { buildCanonicalRequest, canonicalHeadersBlock, canonicalQueryString, canonicalUri, parseRawQuery } from './canonical.ts'

function verifierFor(context: { accessKeyId: string; secretAccessKey: string; service: string; timeMs: number }, extra: Partial<SigV4VerifierOptions> = {}) {
  const clock = new ManualClock(context.timeMs)
  const verifier = createSigV4Verifier({
    lookupSecret: async (accessKeyId) => (accessKeyId === context.accessKeyId ? context.secretAccessKey : undefined),
    clock,
    service: context.service,
    ...extra,
  })
  return { verifier, clock }
}

function signedHeadersOf(request: ParsedRawRequest): string[] {
  const authorization = request.headers['authorization']?.[0]
  const fromHeader = authorization ? /SignedHeaders=([^,\s]+)/.exec(authorization)?.[1] : undefined
  const fromQuery = /X-Amz-SignedHeaders=([^&]+)/.exec(request.rawQuery)?.[1]
  return decodeURIComponent(fromHeader ?? fromQuery ?? '').split(';')
}

function suiteRequest(text: string): SigV4Request {
  const parsed = parseRawRequest(text)
  const request = withoutUnsignedAmzHeaders(parsed, signedHeadersOf(parsed))
  // The generic suite signs the hash of the body, not an x-amz-content-sha256 claim.
  return { ...request, payloadHash: createHash('sha256').update(parsed.body).digest('hex') }
}

t.test('AWS SigV4 test suite: Authorization header form', async (t) => {
  const { verifier } = verifierFor(suiteContext)
  for (const vector of suiteHeaderVectors) {
    const verified = await verifier.verify(suiteRequest(vector.request))
    t.equal(verified.accessKeyId, 'AKIDEXAMPLE', vector.name)
    t.equal(verified.authKind, 'header', vector.name)
  }
})

t.test('AWS SigV4 test suite: presigned query form', async (t) => {
  const { verifier } = verifierFor(suiteContext)
  for (const vector of suiteQueryVectors) {
    const verified = await verifier.verify(suiteRequest(vector.request))
    t.equal(verified.authKind, 'presigned', vector.name)
    t.equal(verified.expiresAtMs, suiteContext.timeMs + 3600_000, vector.name)
  }
})

t.test('signatures that assume path normalisation do not verify (S3 never normalises)', async (t) => {
  const { verifier } = verifierFor(suiteContext)
  for (const vector of suiteNormalizedOnlyVectors) {
    await t.rejects(verifier.verify(suiteRequest(vector.request)), { code: 'SignatureDoesNotMatch', status: 403 }, vector.name)
  }
})

t.test('Amazon S3 API reference worked examples', async (t) => {
  const { verifier } = verifierFor(s3DocsContext)
  for (const vector of s3DocsVectors) {
    const { body: _body, ...request } = parseRawRequest(vector.request)
    const verified = await verifier.verify(request)
    t.equal(verified.accessKeyId, s3DocsContext.accessKeyId, vector.name)
  }
  const put = parseRawRequest(s3DocsVectors[1]!.request)
  const verified = await verifier.verify(put)
  t.equal(verified.payloadMode, 'signed')
  t.equal(verified.payloadSha256, createHash('sha256').update(put.body).digest('hex'))
  const presigned = await verifier.verify(parseRawRequest(s3DocsVectors[4]!.request))
  t.equal(presigned.payloadMode, 'unsigned')
  t.equal(presigned.expiresAtMs, s3DocsContext.timeMs + 86_400_000)
})

t.test('S3 canonical URI: decode once, encode once, never normalise', async (t) => {
  t.equal(canonicalUri('/test%24file.text'), '/test%24file.text')
  t.equal(canonicalUri('/test$file.text'), '/test%24file.text')
  t.equal(canonicalUri('/b/a b'), '/b/a%20b')
  t.equal(canonicalUri('/b/a+b'), '/b/a%2Bb', "'+' in a path is a plus, not a space")
  t.equal(canonicalUri('/b/100%25'), '/b/100%25')
  t.equal(canonicalUri('/b/caf%c3%a9'), '/b/caf%C3%A9', 'hex case does not matter')
  t.equal(canonicalUri('/b//x/./../y/'), '/b//x/./../y/')
  t.equal(canonicalUri('/b/a%2Fb'), '/b/a/b', 'an encoded slash is the same key as a slash')
  t.equal(canonicalUri("/b/!'()*"), '/b/%21%27%28%29%2A')
  t.equal(canonicalUri('/b/%FF%FE'), '/b/%FF%FE', 'invalid UTF-8 survives')
  t.equal(canonicalUri(''), '/')
  t.throws(() => canonicalUri('/b/%zz'), { code: 'InvalidURI' })
  t.throws(() => canonicalUri('/b/%4'), { code: 'InvalidURI' })
})

t.test('S3 canonical query: sorted by encoded name then value, empty values kept', async (t) => {
  const canonical = (raw: string) => canonicalQueryString(parseRawQuery(raw))
  t.equal(canonical('uploads'), 'uploads=')
  t.equal(canonical('b=2&a=2&a=1&c='), 'a=1&a=2&b=2&c=')
  t.equal(canonical('prefix=a+b&delimiter=%2F'), 'delimiter=%2F&prefix=a%20b')
  t.equal(canonical('Param=Value2&%E1%88%B4=Value1&Param-3=Value3'), '%E1%88%B4=Value1&Param=Value2&Param-3=Value3')
  t.equal(canonical('x=a%3Db&&y'), 'x=a%3Db&y=')
  t.equal(canonicalQueryString(parseRawQuery('a=1&X-Amz-Signature=abc'), 'X-Amz-Signature'), 'a=1')
})

t.test('tampering with anything signed breaks the signature', async (t) => {
  const { verifier } = verifierFor(s3DocsContext)
  const base = parseRawRequest(s3DocsVectors[0]!.request)
  const variants: Array<[string, SigV4Request]> = [
    ['method', { ...base, method: 'HEAD' }],
    ['path', { ...base, rawPath: '/test.txu' }],
    ['query', { ...base, rawQuery: 'x=1' }],
    ['signed header', { ...base, headers: { ...base.headers, range: ['bytes=0-10'] } }],
    ['host', { ...base, headers: { ...base.headers, host: ['evil.example.com'] } }],
    ['payload claim', { ...base, headers: { ...base.headers, 'x-amz-content-sha256': ['UNSIGNED-PAYLOAD'] } }],
  ]
  for (const [what, request] of variants) {
    await t.rejects(verifier.verify(request), { code: 'SignatureDoesNotMatch' }, what)
  }
  const error = await verifier.verify({ ...base, method: 'HEAD' }).catch((caught: unknown) => caught)
  t.match(error, { details: { CanonicalRequest: /^HEAD\n\/test\.txt\n/, AWSAccessKeyId: 'AKIAIOSFODNN7EXAMPLE' } })
  t.notMatch(JSON.stringify(error), s3DocsContext.secretAccessKey, 'the secret never appears in an error')
})

t.test('header auth: 15-minute clock skew either way', async (t) => {
  const { verifier, clock } = verifierFor(s3DocsContext)
  const request = parseRawRequest(s3DocsVectors[0]!.request)
  const skewMs = 15 * 60 * 1000
  for (const offsetMs of [-skewMs, skewMs, 0]) {
    clock.advance(offsetMs)
    await verifier.verify(request)
    clock.advance(-offsetMs)
  }
  clock.advance(skewMs + 1000)
  await t.rejects(verifier.verify(request), { code: 'RequestTimeTooSkewed', status: 403, details: { MaxAllowedSkewMilliseconds: String(skewMs) } })
  clock.advance(-2 * (skewMs + 1000))
  await t.rejects(verifier.verify(request), { code: 'RequestTimeTooSkewed' })
})

t.test('presigned: valid until X-Amz-Date + X-Amz-Expires, independent of the skew window', async (t) => {
  const { verifier, clock } = verifierFor(s3DocsContext)
  const request = parseRawRequest(s3DocsVectors[4]!.request)
  clock.advance(86_400_000)
  await verifier.verify(request)
  clock.advance(1)
  await t.rejects(verifier.verify(request), { code: 'AccessDenied', message: 'Request has expired', status: 403 })
  clock.advance(-86_400_001 - 15 * 60 * 1000)
  await verifier.verify(request)
  clock.advance(-1000)
  await t.rejects(verifier.verify(request), { code: 'AccessDenied', message: 'Request is not valid yet' })
})

t.test('unknown key, wrong secret', async (t) => {
  const { verifier } = verifierFor({ ...s3DocsContext, accessKeyId: 'SOMEONEELSE' })
  const request = parseRawRequest(s3DocsVectors[0]!.request)
  await t.rejects(verifier.verify(request), { code: 'InvalidAccessKeyId', status: 403, details: { AWSAccessKeyId: 'AKIAIOSFODNN7EXAMPLE' } })
  const wrongSecret = verifierFor({ ...s3DocsContext, secretAccessKey: 'not-the-secret' }).verifier
  await t.rejects(wrongSecret.verify(request), { code: 'SignatureDoesNotMatch' })
})

t.test('region: any accepted unless one is configured', async (t) => {
  const request = parseRawRequest(s3DocsVectors[0]!.request)
  await verifierFor(s3DocsContext, { region: 'us-east-1' }).verifier.verify(request)
  await t.rejects(verifierFor(s3DocsContext, { region: 'eu-west-1' }).verifier.verify(request), {
    code: 'AuthorizationHeaderMalformed',
    status: 400,
    details: { Region: 'eu-west-1' },
  })
  const presigned = parseRawRequest(s3DocsVectors[4]!.request)
  await t.rejects(verifierFor(s3DocsContext, { region: 'eu-west-1' }).verifier.verify(presigned), { code: 'AuthorizationQueryParametersError' })
  await t.rejects(verifierFor({ ...s3DocsContext, service: 'iam' }).verifier.verify(request), { code: 'AuthorizationHeaderMalformed' })
})

function withAuthorization(request: ParsedRawRequest, authorization: string): ParsedRawRequest {
  return { ...request, headers: { ...request.headers, authorization: [authorization] } }
}

t.test('malformed Authorization headers', async (t) => {
  const { verifier } = verifierFor(s3DocsContext)
  const request = parseRawRequest(s3DocsVectors[0]!.request)
  const signature = 'f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41'
  const cases: Array<[string, string, string]> = [
    ['AWS AKIAIOSFODNN7EXAMPLE:frJIUN8DYpKDtOLCwo//yllqDzg=', 'InvalidRequest', 'SigV2'],
    ['AWS4-ECDSA-P256-SHA256 Credential=x', 'InvalidRequest', 'SigV4a'],
    [`AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3, SignedHeaders=host, Signature=${signature}`, 'AuthorizationHeaderMalformed', 'short credential'],
    [`AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws5_request, SignedHeaders=host, Signature=${signature}`, 'AuthorizationHeaderMalformed', 'terminator'],
    [`AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130525/us-east-1/s3/aws4_request, SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, Signature=${signature}`, 'AuthorizationHeaderMalformed', 'date differs from x-amz-date'],
    [`AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, SignedHeaders=range;x-amz-content-sha256;x-amz-date, Signature=${signature}`, 'AuthorizationHeaderMalformed', 'host not signed'],
    [`AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, SignedHeaders=Host;range, Signature=${signature}`, 'AuthorizationHeaderMalformed', 'upper-case signed header'],
    [`AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, Signature=${signature}`, 'AuthorizationHeaderMalformed', 'no SignedHeaders'],
    [`AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=${signature}, Extra=1`, 'AuthorizationHeaderMalformed', 'extra component'],
    [`AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, Signature=XYZ`, 'SignatureDoesNotMatch', 'signature not hex'],
    [`AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, Signature=${signature.toUpperCase()}`, 'SignatureDoesNotMatch', 'signature upper-case'],
  ]
  for (const [authorization, code, what] of cases) {
    await t.rejects(verifier.verify(withAuthorization(request, authorization)), { code }, what)
  }
  // Without separating spaces is fine (the S3 docs examples use ',' alone).
  await verifier.verify(withAuthorization(request, `AWS4-HMAC-SHA256   Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request ,SignedHeaders=host;range;x-amz-content-sha256;x-amz-date,  Signature=${signature}`))
})

t.test('request-level refusals', async (t) => {
  const { verifier } = verifierFor(s3DocsContext)
  const request = parseRawRequest(s3DocsVectors[0]!.request)
  const { 'x-amz-content-sha256': _claim, ...noClaim } = request.headers
  await t.rejects(verifier.verify({ ...request, headers: noClaim }), { code: 'InvalidRequest', message: /x-amz-content-sha256/ })
  const { 'x-amz-date': _date, ...noDate } = request.headers
  await t.rejects(verifier.verify({ ...request, headers: noDate }), { code: 'AccessDenied', message: /Date or x-amz-date/ })
  await t.rejects(verifier.verify({ ...request, headers: { ...request.headers, 'x-amz-date': ['20130524T000000'] } }), { code: 'AccessDenied' })
  await t.rejects(verifier.verify({ ...request, headers: { ...request.headers, 'x-amz-meta-late': ['added'] } }), {
    code: 'AccessDenied',
    details: { HeadersNotSigned: 'x-amz-meta-late' },
  })
  await t.rejects(verifier.verify({ ...request, headers: { ...request.headers, 'x-amz-security-token': ['token'] } }), { code: 'InvalidToken' })
  await t.rejects(verifier.verify({ ...request, rawQuery: 'X-Amz-Algorithm=AWS4-HMAC-SHA256' }), { code: 'InvalidArgument', message: /Only one auth mechanism/ })
  const { authorization: _authorization, ...anonymous } = request.headers
  await t.rejects(verifier.verify({ ...request, headers: anonymous }), { code: 'AccessDenied' })
  // Unsigned, non-amz headers are fine (proxies add them).
  await verifier.verify({ ...request, headers: { ...request.headers, 'user-agent': ['curl'], 'x-forwarded-for': ['10.0.0.1'] } })
})

t.test('presigned query parameter validation', async (t) => {
  const { verifier } = verifierFor(s3DocsContext)
  const request = parseRawRequest(s3DocsVectors[4]!.request)
  const withQuery = (edit: (query: string) => string) => ({ ...request, rawQuery: edit(request.rawQuery) })
  const cases: Array<[string, (query: string) => string]> = [
    ['missing X-Amz-Expires', (query) => query.replace('&X-Amz-Expires=86400', '')],
    ['expires over a week', (query) => query.replace('X-Amz-Expires=86400', 'X-Amz-Expires=604801')],
    ['negative expires', (query) => query.replace('X-Amz-Expires=86400', 'X-Amz-Expires=-1')],
    ['bad algorithm', (query) => query.replace('X-Amz-Algorithm=AWS4-HMAC-SHA256', 'X-Amz-Algorithm=AWS4-HMAC-SHA1')],
    ['bad date', (query) => query.replace('X-Amz-Date=20130524T000000Z', 'X-Amz-Date=2013-05-24')],
    ['calendar overflow', (query) => query.replace('X-Amz-Date=20130524T000000Z', 'X-Amz-Date=20130231T000000Z')],
    ['repeated parameter', (query) => `${query}&X-Amz-Expires=10`],
  ]
  for (const [what, edit] of cases) {
    await t.rejects(verifier.verify(withQuery(edit)), { code: 'AuthorizationQueryParametersError', status: 400 }, what)
  }
  await t.rejects(verifier.verify(withQuery((query) => `${query}&X-Amz-Security-Token=abc`)), { code: 'InvalidToken' })
  const week = withQuery((query) => query.replace('X-Amz-Expires=86400', 'X-Amz-Expires=604800'))
  await t.rejects(verifier.verify(week), { code: 'SignatureDoesNotMatch' }, 'a week is allowed (and then signed)')
})

t.test('payload modes from x-amz-content-sha256', async (t) => {
  const { verifier } = verifierFor(s3DocsContext)
  const request = parseRawRequest(s3DocsVectors[0]!.request)
  const withClaim = (claim: string, extra: Record<string, string[]> = {}) => ({
    ...request,
    headers: { ...request.headers, 'x-amz-content-sha256': [claim], ...extra },
  })
  await t.rejects(verifier.verify(withClaim('STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD')), { code: 'InvalidArgument', status: 400 })
  await t.rejects(verifier.verify(withClaim(emptySha256Hex.toUpperCase())), { code: 'InvalidArgument' })
  await t.rejects(verifier.verify(withClaim('STREAMING-UNSIGNED-PAYLOAD-TRAILER')), { code: 'MissingContentLength', status: 411 })
})

t.test('the HTTP Date header dates a request without x-amz-date, and must then be signed', async (t) => {
  const { verifier } = verifierFor(s3DocsContext)
  const headers = { host: ['examplebucket.s3.amazonaws.com'], date: ['Fri, 24 May 2013 00:00:00 GMT'], 'x-amz-content-sha256': [emptySha256Hex] }
  const sign = (signedHeaders: string[]) => {
    const canonicalRequest = buildCanonicalRequest({
      method: 'GET',
      canonicalUri: '/test.txt',
      canonicalQuery: '',
      canonicalHeaders: canonicalHeadersBlock(headers, signedHeaders),
      signedHeaders,
      payloadHash: emptySha256Hex,
    })
    const scope = '20130524/us-east-1/s3/aws4_request'
    const signingKey = deriveSigningKey(s3DocsContext.secretAccessKey, '20130524', 'us-east-1', 's3')
    const signature = signString(signingKey, requestStringToSign('20130524T000000Z', scope, canonicalRequest))
    const authorization = `AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/${scope}, SignedHeaders=${signedHeaders.join(';')}, Signature=${signature}`
    return { method: 'GET', rawPath: '/test.txt', rawQuery: '', headers: { ...headers, authorization: [authorization] } }
  }
  const verified = await verifier.verify(sign(['date', 'host', 'x-amz-content-sha256']))
  t.equal(verified.chunkSigning.amzDate, '20130524T000000Z')
  await t.rejects(verifier.verify(sign(['host', 'x-amz-content-sha256'])), { code: 'AccessDenied', details: { HeadersNotSigned: 'date' } })
})

t.test('Signature Version 2 gets AWS answer for SigV4-only regions, header and presigned', async (t) => {
  const { verifier } = verifierFor(s3DocsContext)
  const message = 'The authorization mechanism you have provided is not supported. Please use AWS4-HMAC-SHA256.'
  const header: SigV4Request = { method: 'GET', rawPath: '/bucket/key', rawQuery: '', headers: { host: ['s3.example'], authorization: ['AWS AKIAIOSFODNN7EXAMPLE:frJIUN8DYpKDtOLCwo//yllqDzg='] } }
  await t.rejects(verifier.verify(header), { code: 'InvalidRequest', status: 400, message })
  const presigned: SigV4Request = { method: 'GET', rawPath: '/bucket/key', rawQuery: 'AWSAccessKeyId=AKIAIOSFODNN7EXAMPLE&Expires=1700000000&Signature=abc%3D', headers: { host: ['s3.example'] } }
  await t.rejects(verifier.verify(presigned), { code: 'InvalidRequest', status: 400, message })
})
