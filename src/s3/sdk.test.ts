// The S3 front-end end to end with the real @aws-sdk/client-s3 (default checksum settings: CRC32
// on every upload, aws-chunked bodies with trailing checksums for streams) against an
// in-process server over the in-memory objects layer.
import { createHash, randomBytes } from 'node:crypto'
import { Readable } from 'node:stream'
import t from 'tap'
import { CreateBucketCommand, GetObjectCommand, HeadObjectCommand, ListObjectsV2Command, PutObjectCommand } from '@aws-sdk/client-s3'
import { startTestS3 } from './testing/harness.ts'

const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex')

t.test('create a bucket, put with buffer and stream bodies, get, head, list', async (t) => {
  const s3 = await startTestS3(t)
  const client = s3.client()
  await client.send(new CreateBucketCommand({ Bucket: 'photos' }))
  const small = randomBytes(1000)
  const put = await client.send(new PutObjectCommand({ Bucket: 'photos', Key: 'a b+c%d/é//x.bin', Body: small }))
  t.equal(put.ETag, `"${createHash('md5').update(small).digest('hex')}"`)

  const big = randomBytes(3 * 1024 * 1024 + 17)
  await client.send(new PutObjectCommand({ Bucket: 'photos', Key: 'stream.bin', Body: Readable.from([big.subarray(0, 1_000_000), big.subarray(1_000_000)]), ContentLength: big.length }))

  const got = await client.send(new GetObjectCommand({ Bucket: 'photos', Key: 'a b+c%d/é//x.bin' }))
  t.equal(sha256(await got.Body!.transformToByteArray()), sha256(small))
  const gotBig = await client.send(new GetObjectCommand({ Bucket: 'photos', Key: 'stream.bin', ChecksumMode: 'ENABLED' }))
  t.equal(sha256(await gotBig.Body!.transformToByteArray()), sha256(big))
  t.ok(gotBig.ChecksumCRC32, 'CRC32 stored and returned')

  const head = await client.send(new HeadObjectCommand({ Bucket: 'photos', Key: 'stream.bin' }))
  t.equal(head.ContentLength, big.length)

  const listed = await client.send(new ListObjectsV2Command({ Bucket: 'photos' }))
  t.same(listed.Contents?.map((entry) => entry.Key), ['a b+c%d/é//x.bin', 'stream.bin'])
  t.same(s3.bugs, [])
})
