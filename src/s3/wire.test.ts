// The S3 front-end on the wire, with requests no client library would send: anonymous ones,
// wrong payload hashes, bad checksums, Expect: 100-continue, unsupported subresources, HEAD
// errors, virtual-host addressing. Each refusal must leave nothing committed.
import { createHash, randomBytes } from 'node:crypto'
import { crc32 as zlibCrc32 } from 'node:zlib'
import t, { type Test } from 'tap'
import { deriveSigningKey, type ChunkSigningContext } from './auth/index.ts'
import { encodeAwsChunkedToBuffer } from './chunked/index.ts'
import { startTestS3, testBackends, type TestBackend } from './testing/harness.ts'
import { errorCode, rawRequest as rawRequestAs, type RawRequestOptions } from './testing/raw.ts'

for (const backend of testBackends) t.test(`wire behaviour (${backend} objects layer)`, async (t) => wireBehaviour(t, backend))

async function wireBehaviour(t: Test, backend: TestBackend): Promise<void> {
  const s3 = await startTestS3(t, { backend, baseDomains: ['s3.cairn.test'] })
  const rawRequest = (url: string, options: RawRequestOptions) => rawRequestAs(url, { accessKeyId: s3.accessKeyId, secretKey: s3.secretAccessKey, ...options })
  const put = (path: string, body: string, extra: Partial<Parameters<typeof rawRequest>[1]> = {}) => rawRequest(s3.url, { method: 'PUT', path, body, ...extra })
  t.equal((await rawRequest(s3.url, { method: 'PUT', path: '/wire' })).status, 200)

  t.test('every response carries request ids; errors are XML with Code, Message, Resource, RequestId', async (t) => {
    const anonymous = await rawRequest(s3.url, { method: 'GET', path: '/wire', anonymous: true })
    t.equal(anonymous.status, 403)
    t.equal(errorCode(anonymous.body), 'AccessDenied')
    t.match(anonymous.headers['x-amz-request-id'], /^[0-9A-F]{16}$/)
    t.ok(anonymous.headers['x-amz-id-2'])
    t.match(anonymous.body, /<Message>Access Denied<\/Message>/)
    t.match(anonymous.body, new RegExp(`<RequestId>${String(anonymous.headers['x-amz-request-id'])}</RequestId>`))
    const missing = await rawRequest(s3.url, { method: 'GET', path: '/wire/nope' })
    t.equal(missing.status, 404)
    t.match(missing.body, /<Code>NoSuchKey<\/Code>.*<Key>nope<\/Key>.*<Resource>\/wire\/nope<\/Resource>/s)
    const noBucket = await rawRequest(s3.url, { method: 'GET', path: '/nobucket' })
    t.match(noBucket.body, /<Code>NoSuchBucket<\/Code>.*<BucketName>nobucket<\/BucketName>/s)
    const head = await rawRequest(s3.url, { method: 'HEAD', path: '/wire/nope' })
    t.equal(head.status, 404)
    t.equal(head.body, '', 'HEAD errors have no body')
    t.ok(head.headers['x-amz-request-id'])
    const wrongSecret = await rawRequest(s3.url, { method: 'GET', path: '/wire', secretKey: 'wrong-secret-0000000000000000000000000000' })
    t.equal(errorCode(wrongSecret.body), 'SignatureDoesNotMatch')
  })

  t.test('unsupported subresources answer NotImplemented (501)', async (t) => {
    for (const [method, query] of [['GET', 'policy'], ['PUT', 'cors'], ['GET', 'website'], ['GET', 'logging'], ['GET', 'object-lock']] as const) {
      const response = await rawRequest(s3.url, { method, path: '/wire', query: { [query]: '' } })
      t.equal(response.status, 501, `${method} ?${query}`)
      t.equal(errorCode(response.body), 'NotImplemented')
    }
  })

  t.test('a payload whose SHA-256 differs from the signed claim is refused and nothing is stored', async (t) => {
    const response = await put('/wire/sha', 'real body', { payloadHash: createHash('sha256').update('other body').digest('hex') })
    t.equal(response.status, 400)
    t.equal(errorCode(response.body), 'XAmzContentSHA256Mismatch')
    t.equal((await rawRequest(s3.url, { method: 'HEAD', path: '/wire/sha' })).status, 404)
  })

  t.test('Content-MD5 and x-amz-checksum-* are verified (BadDigest, nothing stored)', async (t) => {
    const md5 = (text: string) => createHash('md5').update(text).digest('base64')
    const badMd5 = await put('/wire/md5', 'body', { headers: { 'content-md5': md5('other') } })
    t.equal(errorCode(badMd5.body), 'BadDigest')
    const badCrc = await put('/wire/crc', 'body', { headers: { 'x-amz-checksum-crc32': 'AAAAAA==' } })
    t.equal(errorCode(badCrc.body), 'BadDigest')
    const malformed = await put('/wire/crc', 'body', { headers: { 'content-md5': 'not-base64' } })
    t.equal(errorCode(malformed.body), 'InvalidDigest')
    for (const key of ['md5', 'crc']) t.equal((await rawRequest(s3.url, { method: 'HEAD', path: `/wire/${key}` })).status, 404)
    const good = await put('/wire/good', 'body', { headers: { 'content-md5': md5('body'), 'x-amz-checksum-sha256': createHash('sha256').update('body').digest('base64') } })
    t.equal(good.status, 200)
    t.equal(good.headers['x-amz-checksum-sha256'], createHash('sha256').update('body').digest('base64'))
  })

  t.test('Expect: 100-continue: the body is asked for after auth; refused requests never send it', async (t) => {
    const ok = await put('/wire/continue', 'continued body', { expectContinue: true })
    t.equal(ok.status, 200)
    t.ok(ok.continued)
    const refused = await put('/nobucket/continue', 'never sent', { expectContinue: true })
    t.equal(refused.status, 404)
    t.equal(refused.continued, false)
    t.equal(refused.headers.connection, 'close')
  })

  t.test('virtual-host-style addressing', async (t) => {
    const body = 'virtual'
    t.equal((await put('/v%20key', body, { host: 'wire.s3.cairn.test' })).status, 200)
    const got = await rawRequest(s3.url, { method: 'GET', path: '/wire/v%20key' })
    t.equal(got.body, body)
    const listed = await rawRequest(s3.url, { method: 'GET', path: '/', host: 'wire.s3.cairn.test', query: { 'list-type': '2', prefix: 'v' } })
    t.match(listed.body, /<Key>v key<\/Key>/)
  })

  t.test('ranges, conditions and overrides', async (t) => {
    t.equal((await put('/wire/range', '0123456789')).status, 200)
    const range = await rawRequest(s3.url, { method: 'GET', path: '/wire/range', headers: { range: 'bytes=2-4' } })
    t.equal(range.status, 206)
    t.equal(range.body, '234')
    t.equal(range.headers['content-range'], 'bytes 2-4/10')
    const suffix = await rawRequest(s3.url, { method: 'GET', path: '/wire/range', headers: { range: 'bytes=-3' } })
    t.equal(suffix.body, '789')
    const past = await rawRequest(s3.url, { method: 'GET', path: '/wire/range', headers: { range: 'bytes=20-' } })
    t.equal(past.status, 416)
    t.equal(errorCode(past.body), 'InvalidRange')
    const etag = String(range.headers.etag)
    const notModified = await rawRequest(s3.url, { method: 'GET', path: '/wire/range', headers: { 'if-none-match': etag } })
    t.equal(notModified.status, 304)
    t.equal(notModified.body, '')
    const failed = await rawRequest(s3.url, { method: 'GET', path: '/wire/range', headers: { 'if-match': '"nope"' } })
    t.equal(failed.status, 412)
    const overridden = await rawRequest(s3.url, { method: 'GET', path: '/wire/range', query: { 'response-content-type': 'text/x-snowman-☃', 'response-cache-control': 'no-cache' } })
    t.equal(overridden.headers['cache-control'], 'no-cache')
    t.match(overridden.headers['content-type'], /^=\?UTF-8\?B\?/, 'values outside latin1 are RFC 2047 encoded, never a crash')
    t.same(s3.bugs, [])
  })

  t.test('conditional writes', async (t) => {
    const created = await put('/wire/cond', 'one', { headers: { 'if-none-match': '*' } })
    t.equal(created.status, 200)
    const again = await put('/wire/cond', 'two', { headers: { 'if-none-match': '*' } })
    t.equal(again.status, 412)
    t.equal(errorCode(again.body), 'PreconditionFailed')
    const matched = await put('/wire/cond', 'three', { headers: { 'if-match': String(created.headers.etag) } })
    t.equal(matched.status, 200)
    const unsupported = await put('/wire/cond', 'four', { headers: { 'if-none-match': '"abc"' } })
    t.equal(unsupported.status, 501)
    t.equal((await rawRequest(s3.url, { method: 'GET', path: '/wire/cond' })).body, 'three')
  })

  t.test('x-amz-expected-bucket-owner and oversized configuration bodies', async (t) => {
    t.equal((await rawRequest(s3.url, { method: 'GET', path: '/wire', headers: { 'x-amz-expected-bucket-owner': 'root' } })).status, 200)
    const other = await rawRequest(s3.url, { method: 'GET', path: '/wire', headers: { 'x-amz-expected-bucket-owner': '111122223333' } })
    t.equal(other.status, 403)
    t.equal(errorCode(other.body), 'AccessDenied')
    const huge = `<Tagging><TagSet>${'<Tag><Key>k</Key><Value>v</Value></Tag>'.repeat(120_000)}</TagSet></Tagging>`
    const tooBig = await rawRequest(s3.url, { method: 'PUT', path: '/wire', query: { tagging: '' }, body: huge })
    t.equal(errorCode(tooBig.body), 'MaxMessageLengthExceeded')
  })

  t.test('unsupported request headers are refused, not ignored', async (t) => {
    t.equal(errorCode((await put('/wire/sse', 'x', { headers: { 'x-amz-server-side-encryption': 'aws:kms' } })).body), 'NotImplemented')
    t.equal(errorCode((await put('/wire/acl', 'x', { headers: { 'x-amz-acl': 'public-read' } })).body), 'AccessControlListNotSupported')
    t.equal((await put('/wire/acl', 'x', { headers: { 'x-amz-acl': 'private' } })).status, 200)
  })
}

/** The chunk-signing context a server derives from a header-signed request (what a signing client holds). */
function chunkSigningOf(headers: Record<string, string>, secretKey: string): ChunkSigningContext {
  const authorization = headers.authorization ?? ''
  const credential = /Credential=([^,]+)/.exec(authorization)?.[1] ?? ''
  const [, date = '', region = '', service = ''] = credential.split('/')
  return {
    signingKey: deriveSigningKey(secretKey, date, region, service),
    amzDate: headers['x-amz-date'] ?? '',
    scope: credential.split('/').slice(1).join('/'),
    seedSignature: /Signature=([0-9a-f]{64})/.exec(authorization)?.[1] ?? '',
  }
}

for (const backend of testBackends) {
  t.test(`aws-chunked bodies with signed chunks and trailers (${backend} objects layer)`, async (t) => {
    const s3 = await startTestS3(t, { backend })
    const rawRequest = (url: string, options: RawRequestOptions) => rawRequestAs(url, { accessKeyId: s3.accessKeyId, secretKey: s3.secretAccessKey, ...options })
    t.equal((await rawRequest(s3.url, { method: 'PUT', path: '/chunked' })).status, 200)
    const data = randomBytes(200_000)
    const crc32 = Buffer.alloc(4)
    crc32.writeUInt32BE(zlibCrc32(data) >>> 0)
    const put = (key: string, mode: 'streaming-signed' | 'streaming-signed-trailer', tamper: boolean, trailerValue = crc32.toString('base64')) =>
      rawRequest(s3.url, {
        method: 'PUT',
        path: `/chunked/${key}`,
        payloadHash: mode === 'streaming-signed' ? 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD' : 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER',
        headers: {
          'content-encoding': 'aws-chunked,gzip',
          'x-amz-decoded-content-length': String(data.length),
          ...(mode === 'streaming-signed-trailer' ? { 'x-amz-trailer': 'x-amz-checksum-crc32' } : {}),
        },
        encodeBody: (headers) => {
          const encoded = encodeAwsChunkedToBuffer(data, {
            mode,
            signing: chunkSigningOf(headers, s3.secretAccessKey),
            chunkSizeBytes: 64 * 1024,
            ...(mode === 'streaming-signed-trailer' ? { trailers: [['x-amz-checksum-crc32', trailerValue]] as const } : {}),
          })
          if (tamper) encoded[1000] = (encoded[1000] ?? 0) ^ 1 // inside the first chunk's data
          return encoded
        },
      })
    for (const mode of ['streaming-signed', 'streaming-signed-trailer'] as const) {
      const stored = await put(mode, mode, false)
      t.equal(stored.status, 200, `${mode}: ${stored.body}`)
      const head = await rawRequest(s3.url, { method: 'HEAD', path: `/chunked/${mode}` })
      t.equal(head.headers['content-length'], String(data.length), 'the decoded length is stored, not the framing')
      t.equal(head.headers['content-encoding'], 'gzip', 'aws-chunked is removed from the stored Content-Encoding')
      t.equal(head.headers.etag, `"${createHash('md5').update(data).digest('hex')}"`, 'the ETag is the MD5 of the decoded data')
      const tampered = await put(`${mode}-tampered`, mode, true)
      t.equal(tampered.status, 403)
      t.equal(errorCode(tampered.body), 'SignatureDoesNotMatch')
      t.equal((await rawRequest(s3.url, { method: 'HEAD', path: `/chunked/${mode}-tampered` })).status, 404, 'nothing is stored')
    }
    const badTrailer = await put('bad-trailer', 'streaming-signed-trailer', false, 'AAAAAA==')
    t.equal(errorCode(badTrailer.body), 'BadDigest')
    t.equal((await rawRequest(s3.url, { method: 'HEAD', path: '/chunked/bad-trailer' })).status, 404)
    t.same(s3.bugs, [])
  })
}
