// The real AWS SDK for JavaScript v3 (@aws-sdk/client-s3 with its default checksum settings,
// and @aws-sdk/s3-request-presigner) against our SigV4 verifier, checksum selection and
// aws-chunked decoder, without a server: a capturing request handler records exactly what the
// SDK would put on the wire. This is the check that what we decode is what the newest SDKs send.
import t from 'tap'
import { Readable } from 'node:stream'
import { PutObjectCommand, GetObjectCommand, S3Client, UploadPartCommand } from '@aws-sdk/client-s3'
import { getSignedUrl } from '@aws-sdk/s3-request-presigner'
import { systemClock } from '../../lib/index.ts'
import { createSigV4Verifier, headerValue, verifyPayloadSha256, type SigV4Request } from '../auth/index.ts'
import { checksumFromTrailers, createChecksum, parseRequestChecksum, verifyChecksum } from '../checksum/index.ts'
import { AwsChunkedDecoder } from './index.ts'

const accessKeyId = 'AKIACAIRNSDKTEST0001'
const secretAccessKey = 'sdk/test+secret=0000000000000000000000000'

interface Captured {
  readonly request: SigV4Request
  readonly body: Buffer
}

async function readBody(body: unknown): Promise<Buffer> {
  if (body === undefined || body === null) return Buffer.alloc(0)
  if (typeof body === 'string') return Buffer.from(body)
  if (body instanceof Uint8Array) return Buffer.from(body)
  const chunks: Buffer[] = []
  for await (const chunk of body as AsyncIterable<Uint8Array | string>) chunks.push(Buffer.from(chunk))
  return Buffer.concat(chunks)
}

/** An S3Client whose HTTP layer records each request instead of sending it. */
function capturingClient(captured: Captured[]): S3Client {
  return new S3Client({
    region: 'eu-central-1',
    endpoint: 'http://localhost:9000',
    forcePathStyle: true,
    credentials: { accessKeyId, secretAccessKey },
    requestHandler: {
      async handle(request: { method: string; path: string; query?: Record<string, unknown>; headers: Record<string, string>; body?: unknown }) {
        const headers: Record<string, string> = {}
        for (const [name, value] of Object.entries(request.headers)) headers[name.toLowerCase()] = value
        const rawQuery = Object.entries(request.query ?? {})
          .map(([name, value]) => `${encodeURIComponent(name)}=${encodeURIComponent(String(value ?? ''))}`)
          .join('&')
        captured.push({ request: { method: request.method, rawPath: request.path, rawQuery, headers }, body: await readBody(request.body) })
        return { response: { statusCode: 200, headers: { etag: '"0"' }, body: Readable.from([]) } }
      },
    },
  })
}

const verifier = createSigV4Verifier({ lookupSecret: async (id) => (id === accessKeyId ? secretAccessKey : undefined), clock: systemClock })

/** What the S3 layer will do with a PUT body: verify auth, decode, check the checksum. */
async function acceptPut(captured: Captured): Promise<Buffer> {
  const verified = await verifier.verify(captured.request)
  const checksum = parseRequestChecksum(captured.request.headers)
  let data: Buffer
  let trailers: ReadonlyMap<string, string> = new Map()
  if (verified.payloadMode === 'signed' || verified.payloadMode === 'unsigned') {
    data = captured.body
    if (verified.payloadSha256) verifyPayloadSha256(verified.payloadSha256, createChecksum('SHA256').update(data).digest())
  } else {
    const announced = headerValue(captured.request.headers, 'x-amz-trailer')?.split(',').map((name) => name.trim())
    const decoder = new AwsChunkedDecoder({
      mode: verified.payloadMode,
      signing: verified.chunkSigning,
      decodedContentLength: verified.decodedContentLength ?? -1,
      ...(announced ? { announcedTrailers: announced } : {}),
    })
    const pieces: Buffer[] = []
    for (let offset = 0; offset < captured.body.length; offset += 1000) pieces.push(...decoder.push(captured.body.subarray(offset, offset + 1000)))
    decoder.end()
    data = Buffer.concat(pieces)
    trailers = decoder.trailers
  }
  if (checksum) {
    const expected = checksum.location === 'header' ? checksum.expected : checksumFromTrailers(checksum, trailers)
    verifyChecksum(checksum.algorithm, expected, createChecksum(checksum.algorithm).update(data).digest())
  }
  return data
}

const keys = ['plain', 'with space', 'plus+sign', '100%', 'caf\u00e9/\u65e5\u672c', 'double//slash', '/leading', "odd!$&'()*+,;=:@[]", 'a/./b/../c']

t.test('@aws-sdk/client-s3 PutObject with a buffer body (default checksums)', async (t) => {
  const captured: Captured[] = []
  const client = capturingClient(captured)
  for (const key of keys) {
    const body = Buffer.from(`contents of ${key}`)
    await client.send(new PutObjectCommand({ Bucket: 'bucket', Key: key, Body: body, Metadata: { note: 'x  y' } }))
    const last = captured.at(-1)
    if (!last) throw new Error('nothing captured')
    t.ok(parseRequestChecksum(last.request.headers), `the SDK sent a checksum for ${key}`)
    t.same(await acceptPut(last), body, key)
  }
})

t.test('@aws-sdk/client-s3 PutObject and UploadPart with stream bodies (aws-chunked + trailer)', async (t) => {
  const captured: Captured[] = []
  const client = capturingClient(captured)
  const payload = Buffer.alloc(300_001)
  for (let index = 0; index < payload.length; index++) payload[index] = (index * 7919) & 0xff
  const algorithms = [undefined, 'CRC32C', 'CRC64NVME', 'SHA256', 'SHA1'] as const
  for (const algorithm of algorithms) {
    const common = { Bucket: 'bucket', Key: 'streamed object', Body: Readable.from([payload.subarray(0, 100_000), payload.subarray(100_000)]), ContentLength: payload.length }
    await client.send(new PutObjectCommand({ ...common, ...(algorithm ? { ChecksumAlgorithm: algorithm } : {}) }))
    const last = captured.at(-1)
    if (!last) throw new Error('nothing captured')
    t.match(headerValue(last.request.headers, 'x-amz-content-sha256'), /^STREAMING-/, `${algorithm ?? 'default'}: aws-chunked`)
    t.ok(last.body.length > payload.length, 'the wire body carries framing')
    t.same(await acceptPut(last), payload, `${algorithm ?? 'default'}: decoded data is the object, not the framing`)
  }
  await client.send(new UploadPartCommand({ Bucket: 'bucket', Key: 'k', UploadId: 'u/1+2', PartNumber: 3, Body: Readable.from([payload]), ContentLength: payload.length }))
  t.same(await acceptPut(captured.at(-1)!), payload, 'UploadPart')
  const tampered = captured.at(-1)!
  const corrupt = Buffer.from(tampered.body)
  const at = corrupt.indexOf(payload.subarray(5000, 5016))
  corrupt.writeUInt8(corrupt.readUInt8(at) ^ 1, at)
  await t.rejects(acceptPut({ ...tampered, body: corrupt }), { code: 'BadDigest' }, 'a flipped data bit fails the trailing checksum')
})

/** What a server receives for a presigned URL (not via new URL(), which would resolve '..'). */
function presignedRequest(method: string, url: string): SigV4Request {
  const target = url.slice('http://localhost:9000'.length)
  const question = target.indexOf('?')
  return { method, rawPath: target.slice(0, question), rawQuery: target.slice(question + 1), headers: { host: 'localhost:9000' } }
}

t.test('@aws-sdk/s3-request-presigner URLs verify', async (t) => {
  const client = capturingClient([])
  for (const key of keys) {
    const url = await getSignedUrl(client, new GetObjectCommand({ Bucket: 'bucket', Key: key, ResponseContentType: 'text/plain' }), { expiresIn: 3600 })
    const verified = await verifier.verify(presignedRequest('GET', url))
    t.equal(verified.authKind, 'presigned', key)
    t.equal(verified.payloadMode, 'unsigned')
  }
  const put = await getSignedUrl(client, new PutObjectCommand({ Bucket: 'bucket', Key: 'up load' }), { expiresIn: 604800 })
  const verified = await verifier.verify(presignedRequest('PUT', put))
  t.equal(verified.expiresAtMs !== undefined && verified.expiresAtMs - Date.now() > 604_000_000, true, 'seven-day URL')
})
