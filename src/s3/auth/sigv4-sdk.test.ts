// Requests signed by @smithy/signature-v4 (the AWS SDK for JavaScript v3 signer, configured as
// @aws-sdk/client-s3 configures it) must verify: tricky keys, queries, payload modes, presigned
// URLs. This is the "real client" check of the canonicalisation without a server.
import t from 'tap'
import { createHash } from 'node:crypto'
import { ManualClock } from '../../lib/index.ts'
import { sdkEscape, sdkObjectPath, sdkSign, type SdkSignInput } from './fixtures/sdk-signer.ts'
import { createSigV4Verifier, verifyPayloadSha256 } from './sigv4.ts'

const accessKeyId = 'AKIACAIRNTEST0000001'
const secretAccessKey = 'cairn/secret+key/with=odd+chars0000000000'
const signingDate = new Date('2026-03-14T15:09:26Z')
const clock = new ManualClock(signingDate.getTime())
const verifier = createSigV4Verifier({
  lookupSecret: async (id) => (id === accessKeyId ? secretAccessKey : undefined),
  clock,
})

function input(extra: Partial<SdkSignInput> & Pick<SdkSignInput, 'method' | 'path'>): SdkSignInput {
  return { accessKeyId, secretAccessKey, signingDate, ...extra }
}

const trickyKeys = [
  'plain.txt',
  'with space.txt',
  'plus+sign',
  'percent%20literal',
  '100%',
  'caf\u00e9/\u00fcn\u00efc\u00f6d\u00e9/\u65e5\u672c\u8a9e',
  'emoji-\u{1F600}',
  'double//slash',
  '/leading-slash',
  'trailing/',
  "sub-delims!$&'()*+,;=",
  'gen-delims:@[]?#',
  'tilde~dot.dash-under_',
  'quote"back`slash\\caret^pipe|brace{}',
  'a/./b/../c',
  '..',
  'tab\tnewline\nkey',
]

t.test('SDK-signed requests with tricky keys verify (signed payload)', async (t) => {
  for (const key of trickyKeys) {
    const body = `body of ${key}`
    const request = await sdkSign(input({ method: 'PUT', path: sdkObjectPath('bucket', key), body, headers: { 'content-type': 'text/plain' } }))
    const verified = await verifier.verify(request)
    t.equal(verified.payloadMode, 'signed', key)
    verifyPayloadSha256(verified.payloadSha256 ?? '', createHash('sha256').update(body).digest())
    t.throws(() => verifyPayloadSha256(verified.payloadSha256 ?? '', createHash('sha256').update('other').digest()), { code: 'XAmzContentSHA256Mismatch' })
  }
})

t.test('the same key encoded differently on the wire still verifies', async (t) => {
  const key = "it's (a) caf\u00e9*!~"
  const request = await sdkSign(input({ method: 'GET', path: sdkObjectPath('bucket', key), payloadHash: 'UNSIGNED-PAYLOAD' }))
  t.equal(request.rawPath, '/bucket/it%27s%20%28a%29%20caf%C3%A9%2A%21~')
  const looser = "/bucket/it's%20(a)%20caf%c3%a9*!%7E"
  await verifier.verify({ ...request, rawPath: looser })
  await t.rejects(verifier.verify({ ...request, rawPath: '/bucket/it%27s%20%28a%29%20cafe%2A%21~' }), { code: 'SignatureDoesNotMatch' })
})

t.test('SDK-signed queries with reserved characters and empty values verify', async (t) => {
  const query = {
    'list-type': '2',
    prefix: 'a b+c/\u00fc',
    delimiter: '/',
    'continuation-token': 'eyJhIjoiYj0rLyJ9==',
    'start-after': "x!'()*",
    'encoding-type': 'url',
    uploads: '',
  }
  const request = await sdkSign(input({ method: 'GET', path: '/bucket', query, payloadHash: 'UNSIGNED-PAYLOAD' }))
  const verified = await verifier.verify(request)
  t.equal(verified.payloadMode, 'unsigned')
})

t.test('streaming payload modes carry the seed and the decoded length', async (t) => {
  const modes = {
    'STREAMING-AWS4-HMAC-SHA256-PAYLOAD': 'streaming-signed',
    'STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER': 'streaming-signed-trailer',
    'STREAMING-UNSIGNED-PAYLOAD-TRAILER': 'streaming-unsigned-trailer',
  } as const
  for (const [claim, mode] of Object.entries(modes)) {
    const headers = { 'content-encoding': 'aws-chunked', 'x-amz-decoded-content-length': '66560', 'x-amz-trailer': 'x-amz-checksum-crc32' }
    const request = await sdkSign(input({ method: 'PUT', path: sdkObjectPath('bucket', 'big object'), payloadHash: claim, headers }))
    const verified = await verifier.verify(request)
    t.equal(verified.payloadMode, mode, claim)
    t.equal(verified.decodedContentLength, 66560)
    t.equal(verified.chunkSigning.amzDate, '20260314T150926Z')
    t.equal(verified.chunkSigning.scope, '20260314/us-east-1/s3/aws4_request')
    t.match(verified.chunkSigning.seedSignature, /^[0-9a-f]{64}$/)
    t.equal(verified.chunkSigning.seedSignature, /Signature=([0-9a-f]{64})/.exec(String(request.headers['authorization']))?.[1])
  }
  const bad = await sdkSign(input({ method: 'PUT', path: '/bucket/k', payloadHash: 'STREAMING-UNSIGNED-PAYLOAD-TRAILER', headers: { 'x-amz-decoded-content-length': '1e3' } }))
  await t.rejects(verifier.verify(bad), { code: 'InvalidArgument' })
})

t.test('SDK-presigned URLs (UNSIGNED-PAYLOAD, as @aws-sdk/s3-request-presigner signs them)', async (t) => {
  for (const key of trickyKeys) {
    const request = await sdkSign(
      input({ method: 'GET', path: sdkObjectPath('bucket', key), payloadHash: 'UNSIGNED-PAYLOAD', presignExpiresSeconds: 900, query: { 'response-content-type': 'text/plain; charset=utf-8' } }),
    )
    t.match(request.rawQuery, /X-Amz-Signature=/)
    t.equal(request.headers['authorization'], undefined)
    const verified = await verifier.verify(request)
    t.equal(verified.authKind, 'presigned', key)
    t.equal(verified.payloadMode, 'unsigned')
    t.equal(verified.expiresAtMs, signingDate.getTime() + 900_000)
  }
})

t.test('presigned URL lifetime up to 7 days', async (t) => {
  const request = await sdkSign(input({ method: 'PUT', path: sdkObjectPath('bucket', 'upload'), payloadHash: 'UNSIGNED-PAYLOAD', presignExpiresSeconds: 604800 }))
  const local = new ManualClock(signingDate.getTime() + 604_800_000)
  const later = createSigV4Verifier({ lookupSecret: async () => secretAccessKey, clock: local })
  await later.verify(request)
  local.advance(1000)
  await t.rejects(later.verify(request), { code: 'AccessDenied', message: 'Request has expired' })
  const streaming = await sdkSign(
    input({ method: 'PUT', path: '/bucket/k', payloadHash: 'STREAMING-UNSIGNED-PAYLOAD-TRAILER', presignExpiresSeconds: 60, headers: { 'x-amz-decoded-content-length': '3' } }),
  )
  await t.rejects(verifier.verify(streaming), { code: 'InvalidRequest' }, 'presigned URLs cannot carry aws-chunked bodies')
})

t.test('a header added after signing is refused; the signing-key cache follows secret changes', async (t) => {
  const request = await sdkSign(input({ method: 'PUT', path: '/bucket/k', body: 'x' }))
  await t.rejects(verifier.verify({ ...request, headers: { ...request.headers, 'x-amz-acl': 'public-read' } }), { code: 'AccessDenied' })
  let secret = secretAccessKey
  const rotating = createSigV4Verifier({ lookupSecret: async () => secret, clock })
  await rotating.verify(request)
  secret = 'rotated'
  await t.rejects(rotating.verify(request), { code: 'SignatureDoesNotMatch' })
  t.equal(sdkEscape("a b!'()*"), 'a%20b%21%27%28%29%2A')
})
