// The real server with the real AWS SDK for JavaScript v3 (default checksum settings: CRC32 on
// uploads, aws-chunked bodies with trailing checksums for streams), over HTTP and HTTPS: tricky
// keys, buffer and stream bodies, lib-storage multipart, listings, copies, deletes, presigned
// URLs. Every scenario downloads what it stored and compares SHA-256.
import { randomBytes } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { Agent, get as httpsGet } from 'node:https'
import { Readable } from 'node:stream'
import t from 'tap'
import {
  CopyObjectCommand, CreateBucketCommand, DeleteObjectsCommand, GetObjectCommand, HeadObjectCommand, ListObjectsV2Command, PutObjectCommand,
  S3Client, type S3ClientConfig,
} from '@aws-sdk/client-s3'
import { Upload } from '@aws-sdk/lib-storage'
import { getSignedUrl } from '@aws-sdk/s3-request-presigner'
import { accessKey, secretKey, sha256, startS3, trickyNames } from './fixtures/s3-common.ts'

const MiB = 1024 * 1024

function httpsBody(url: string, ca: Buffer): Promise<{ status: number; body: Buffer }> {
  return new Promise((resolve, reject) => {
    httpsGet(url, { ca }, (response) => {
      const pieces: Buffer[] = []
      response.on('data', (piece: Buffer) => pieces.push(piece))
      response.on('end', () => resolve({ status: response.statusCode ?? 0, body: Buffer.concat(pieces) }))
      response.on('error', reject)
    }).on('error', reject)
  })
}

t.test('AWS SDK v3 against the real server', async (t) => {
  const s3 = await startS3(t)
  const ca = readFileSync(s3.caPath)
  for (const [transport, endpoint] of [['http', s3.httpUrl], ['https', s3.httpsUrl]] as const) {
    t.test(transport, async (t) => {
      const config: S3ClientConfig = {
        endpoint,
        region: 'us-east-1',
        forcePathStyle: true,
        credentials: { accessKeyId: accessKey, secretAccessKey: secretKey },
        ...(transport === 'https' ? { requestHandler: { httpsAgent: new Agent({ ca }) } } : {}),
      }
      const client = new S3Client(config)
      t.teardown(() => client.destroy())
      const bucket = `sdk-${transport}`
      await client.send(new CreateBucketCommand({ Bucket: bucket }))

      const stored = new Map<string, string>()
      for (const name of [...trickyNames, 'double//slash', '/leading-slash', 'a', 'a/b']) {
        const data = randomBytes(1 + Math.floor(Math.random() * 4000))
        await client.send(new PutObjectCommand({ Bucket: bucket, Key: name, Body: data }))
        stored.set(name, sha256(data))
      }
      const streamed = randomBytes(6 * MiB + 5)
      await client.send(new PutObjectCommand({ Bucket: bucket, Key: 'streamed body', Body: Readable.from([streamed.subarray(0, 2 * MiB), streamed.subarray(2 * MiB)]), ContentLength: streamed.length }))
      stored.set('streamed body', sha256(streamed))
      const big = randomBytes(17 * MiB + 3)
      const upload = await new Upload({ client, params: { Bucket: bucket, Key: 'multi part/ünï.bin', Body: Readable.from([big]) }, partSize: 5 * MiB, queueSize: 4 }).done()
      t.match(upload.ETag, /-4"$/, 'a four-part upload')
      stored.set('multi part/ünï.bin', sha256(big))

      for (const [key, digest] of stored) {
        const response = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key, ChecksumMode: 'ENABLED' }))
        t.equal(sha256(await response.Body!.transformToByteArray()), digest, `GET ${JSON.stringify(key)} returns the bytes stored`)
      }
      const listed: string[] = []
      let token: string | undefined
      do {
        const page = await client.send(new ListObjectsV2Command({ Bucket: bucket, MaxKeys: 4, ContinuationToken: token }))
        listed.push(...(page.Contents ?? []).map((entry) => entry.Key!))
        token = page.NextContinuationToken
      } while (token !== undefined)
      t.same(listed, [...stored.keys()].sort(), 'paged listing returns every key once, in order')

      await client.send(new CopyObjectCommand({ Bucket: bucket, Key: 'copied', CopySource: `${bucket}/${encodeURIComponent('multi part/ünï.bin')}` }))
      t.equal(sha256(await (await client.send(new GetObjectCommand({ Bucket: bucket, Key: 'copied' }))).Body!.transformToByteArray()), sha256(big))
      const head = await client.send(new HeadObjectCommand({ Bucket: bucket, Key: 'copied' }))
      t.equal(head.ContentLength, big.length)

      const presignedPut = await getSignedUrl(client, new PutObjectCommand({ Bucket: bucket, Key: 'pre signed+key' }), { expiresIn: 600 })
      const presignedGet = await getSignedUrl(client, new GetObjectCommand({ Bucket: bucket, Key: 'pre signed+key' }), { expiresIn: 600 })
      const payload = randomBytes(10_000)
      if (transport === 'http') {
        t.equal((await fetch(presignedPut, { method: 'PUT', body: payload })).status, 200)
        t.equal(sha256(Buffer.from(await (await fetch(presignedGet)).arrayBuffer())), sha256(payload))
      } else {
        await client.send(new PutObjectCommand({ Bucket: bucket, Key: 'pre signed+key', Body: payload }))
        const got = await httpsBody(presignedGet, ca)
        t.equal(got.status, 200)
        t.equal(sha256(got.body), sha256(payload))
      }

      const deleted = await client.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: [...stored.keys(), 'copied', 'pre signed+key'].map((Key) => ({ Key })) } }))
      t.equal(deleted.Errors, undefined)
      t.equal((await client.send(new ListObjectsV2Command({ Bucket: bucket }))).KeyCount, 0)
    })
  }
})
