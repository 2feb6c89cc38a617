// Server-side encryption against the real server over HTTPS with @aws-sdk/client-s3: bucket
// default encryption, SSE-S3, SSE-KMS (Cairn's managed key), SSE-C (single PUT, lib-storage
// multipart, missing key 400, wrong key 403, ranges), copies between kinds, and the response
// headers AWS sends. At the end every file under the data dir is searched for a marker written
// into each encrypted object: it must not appear (a plain control object shows the search works).
import { createHash, randomBytes } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { Agent } from 'node:https'
import { join } from 'node:path'
import t from 'tap'
import {
  CopyObjectCommand, CreateBucketCommand, GetBucketEncryptionCommand, GetObjectCommand, HeadObjectCommand, PutBucketEncryptionCommand, PutObjectCommand, S3Client,
} from '@aws-sdk/client-s3'
import { Upload } from '@aws-sdk/lib-storage'
import { tempDir } from './helpers/server.ts'
import { accessKey, failure, filesContaining, marked, secretKey, sha256, startS3 } from './fixtures/s3-common.ts'


t.test('server-side encryption with the AWS SDK over HTTPS', async (t) => {
  const dataDir = join(tempDir(t), 'data')
  const s3 = await startS3(t, { dataDir })
  const client = new S3Client({
    endpoint: s3.httpsUrl, region: 'us-east-1', forcePathStyle: true, credentials: { accessKeyId: accessKey, secretAccessKey: secretKey },
    requestHandler: { httpsAgent: new Agent({ ca: readFileSync(s3.caPath) }) },
  })
  t.teardown(() => client.destroy())
  const marker = Buffer.from('CAIRN-SSE-NATIVE-MARKER-5c81e0')
  const control = Buffer.from('CAIRN-PLAIN-CONTROL-MARKER-a7')
  const customerKey = randomBytes(32)
  const otherKey = randomBytes(32)
  const sseC = { SSECustomerAlgorithm: 'AES256', SSECustomerKey: customerKey.toString('base64') }

  await client.send(new CreateBucketCommand({ Bucket: 'sse-default' }))
  await client.send(new PutBucketEncryptionCommand({ Bucket: 'sse-default', ServerSideEncryptionConfiguration: { Rules: [{ ApplyServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }] } }))
  t.equal((await client.send(new GetBucketEncryptionCommand({ Bucket: 'sse-default' }))).ServerSideEncryptionConfiguration?.Rules?.[0]?.ApplyServerSideEncryptionByDefault?.SSEAlgorithm, 'AES256')
  const small = Buffer.concat([marker, Buffer.from(' small object')])
  const byDefault = await client.send(new PutObjectCommand({ Bucket: 'sse-default', Key: 'small', Body: small }))
  t.equal(byDefault.ServerSideEncryption, 'AES256', 'the bucket default applies')
  const large = marked(3 * 1024 * 1024, marker)
  await client.send(new PutObjectCommand({ Bucket: 'sse-default', Key: 'large', Body: large }))
  const read = await client.send(new GetObjectCommand({ Bucket: 'sse-default', Key: 'large', Range: 'bytes=1000000-1999999' }))
  t.equal(read.ServerSideEncryption, 'AES256')
  t.equal(sha256(await read.Body?.transformToByteArray() ?? new Uint8Array()), sha256(large.subarray(1_000_000, 2_000_000)), 'a range of an SSE-S3 object')

  await client.send(new CreateBucketCommand({ Bucket: 'sse-explicit' }))
  const kms = await client.send(new PutObjectCommand({ Bucket: 'sse-explicit', Key: 'kms', Body: marked(200_000, marker), ServerSideEncryption: 'aws:kms' }))
  t.equal(kms.ServerSideEncryption, 'aws:kms')
  t.match(kms.SSEKMSKeyId, /^arn:aws:kms:[a-z0-9-]+:000000000000:alias\/aws\/s3$/, "SSE-KMS uses Cairn's managed key")
  t.equal((await client.send(new HeadObjectCommand({ Bucket: 'sse-explicit', Key: 'kms' }))).SSEKMSKeyId, kms.SSEKMSKeyId)
  t.equal(await failure(client.send(new PutObjectCommand({ Bucket: 'sse-explicit', Key: 'kms2', Body: 'x', ServerSideEncryption: 'aws:kms', SSEKMSKeyId: 'arn:aws:kms:us-east-1:111122223333:key/other' }))), '400 KMS.NotFoundException', 'an unknown KMS key is what AWS answers')

  const secret = marked(500_000, marker)
  const putC = await client.send(new PutObjectCommand({ Bucket: 'sse-explicit', Key: 'customer', Body: secret, ...sseC }))
  t.equal(putC.SSECustomerAlgorithm, 'AES256')
  t.equal(putC.SSECustomerKeyMD5, createHash('md5').update(customerKey).digest('base64'), 'the key MD5 is echoed')
  t.equal(await failure(client.send(new GetObjectCommand({ Bucket: 'sse-explicit', Key: 'customer' }))), '400 InvalidRequest', 'GET without the key')
  t.equal(await failure(client.send(new GetObjectCommand({ Bucket: 'sse-explicit', Key: 'customer', SSECustomerAlgorithm: 'AES256', SSECustomerKey: otherKey.toString('base64') }))), '403 AccessDenied', 'GET with a wrong key')
  const headC = await client.send(new HeadObjectCommand({ Bucket: 'sse-explicit', Key: 'customer', ...sseC }))
  t.equal(headC.SSECustomerAlgorithm, 'AES256')
  const getC = await client.send(new GetObjectCommand({ Bucket: 'sse-explicit', Key: 'customer', Range: 'bytes=123-456788', ...sseC }))
  t.equal(sha256(await getC.Body?.transformToByteArray() ?? new Uint8Array()), sha256(secret.subarray(123, 456789)), 'an SSE-C range decrypts')
  await client.send(new PutObjectCommand({ Bucket: 'sse-explicit', Key: 'tiny-customer', Body: marker, ...sseC }))

  const multipart = marked(12 * 1024 * 1024 + 5, marker)
  await new Upload({ client, params: { Bucket: 'sse-explicit', Key: 'multipart-customer', Body: multipart, ...sseC }, partSize: 5 * 1024 * 1024 }).done()
  const getMultipart = await client.send(new GetObjectCommand({ Bucket: 'sse-explicit', Key: 'multipart-customer', ...sseC }))
  t.equal(sha256(await getMultipart.Body?.transformToByteArray() ?? new Uint8Array()), sha256(multipart), 'SSE-C multipart reads back')

  const copied = await client.send(new CopyObjectCommand({
    Bucket: 'sse-explicit', Key: 'copied', CopySource: 'sse-explicit/customer', ServerSideEncryption: 'AES256',
    CopySourceSSECustomerAlgorithm: 'AES256', CopySourceSSECustomerKey: customerKey.toString('base64'),
  }))
  t.equal(copied.ServerSideEncryption, 'AES256', 'SSE-C -> SSE-S3 copy')
  const getCopied = await client.send(new GetObjectCommand({ Bucket: 'sse-explicit', Key: 'copied' }))
  t.equal(sha256(await getCopied.Body?.transformToByteArray() ?? new Uint8Array()), sha256(secret))
  const rekeyed = await client.send(new CopyObjectCommand({
    Bucket: 'sse-explicit', Key: 'rekeyed', CopySource: 'sse-explicit/customer', SSECustomerAlgorithm: 'AES256', SSECustomerKey: otherKey.toString('base64'),
    CopySourceSSECustomerAlgorithm: 'AES256', CopySourceSSECustomerKey: customerKey.toString('base64'),
  }))
  t.equal(rekeyed.SSECustomerAlgorithm, 'AES256', 'SSE-C -> SSE-C with another key')
  t.equal(await failure(client.send(new GetObjectCommand({ Bucket: 'sse-explicit', Key: 'rekeyed', ...sseC }))), '403 AccessDenied', 'the old key no longer opens the copy')

  await client.send(new PutObjectCommand({ Bucket: 'sse-explicit', Key: 'control', Body: marked(300_000, control) }))

  await s3.server.stop()
  t.same(filesContaining(dataDir, marker), [], 'no file under the data dir holds plaintext of an encrypted object')
  t.not(filesContaining(dataDir, control).length, 0, 'the search does find the plain control object')
  t.same(filesContaining(dataDir, customerKey), [], 'the customer key is stored nowhere')
})
