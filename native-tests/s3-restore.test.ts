// Storage classes and RestoreObject against the real server with @aws-sdk/client-s3: every class
// is accepted and reported (REDUCED_REDUNDANCY as STANDARD), archived data sits in the cold tier
// directory and refuses GET (403 InvalidObjectState); a restore answers 202, then 409 while it
// runs, survives a SIGKILL, makes the object readable (x-amz-restore with an expiry date), answers
// 200 when asked again, and expires back. Restore delays and the day are seconds here.
import { randomBytes } from 'node:crypto'
import { join } from 'node:path'
import t from 'tap'
import {
  CreateBucketCommand, GetObjectCommand, HeadObjectCommand, ListObjectsV2Command, PutObjectCommand, RestoreObjectCommand, S3Client, type StorageClass,
} from '@aws-sdk/client-s3'
import { Upload } from '@aws-sdk/lib-storage'
import { tempDir } from './helpers/server.ts'
import { accessKey, bytesUnder, failure, secretKey, sha256, startS3, type S3Server } from './fixtures/s3-common.ts'

const args = ['--lifecycle-day-seconds', '2', '--restore-expedited-seconds', '1', '--restore-standard-seconds', '2', '--restore-bulk-seconds', '3']

function clientFor(s3: S3Server): S3Client {
  return new S3Client({ endpoint: s3.httpUrl, region: 'us-east-1', forcePathStyle: true, credentials: { accessKeyId: accessKey, secretAccessKey: secretKey } })
}

async function eventually(what: string, check: () => Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for: ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 200))
  }
}

t.test('storage classes and the restore flow', async (t) => {
  const dataDir = join(tempDir(t), 'data')
  let s3 = await startS3(t, { dataDir, args })
  let client = clientFor(s3)
  const bucket = 'classes'
  await client.send(new CreateBucketCommand({ Bucket: bucket }))
  const classes: StorageClass[] = ['STANDARD', 'STANDARD_IA', 'ONEZONE_IA', 'INTELLIGENT_TIERING', 'GLACIER_IR', 'GLACIER', 'DEEP_ARCHIVE', 'REDUCED_REDUNDANCY']
  const bodies = new Map<string, Buffer>()
  const coldBefore = bytesUnder(join(dataDir, 'cold'))
  for (const storageClass of classes) {
    const body = randomBytes(200_000)
    bodies.set(storageClass, body)
    await client.send(new PutObjectCommand({ Bucket: bucket, Key: storageClass, Body: body, StorageClass: storageClass }))
    const head = await client.send(new HeadObjectCommand({ Bucket: bucket, Key: storageClass }))
    const reported = storageClass === 'REDUCED_REDUNDANCY' ? undefined : storageClass === 'STANDARD' ? undefined : storageClass
    t.equal(head.StorageClass, reported, `HEAD reports ${storageClass}`)
  }
  const listed = await client.send(new ListObjectsV2Command({ Bucket: bucket }))
  t.same(Object.fromEntries((listed.Contents ?? []).map((entry) => [entry.Key, entry.StorageClass])), {
    DEEP_ARCHIVE: 'DEEP_ARCHIVE', GLACIER: 'GLACIER', GLACIER_IR: 'GLACIER_IR', INTELLIGENT_TIERING: 'INTELLIGENT_TIERING', ONEZONE_IA: 'ONEZONE_IA',
    REDUCED_REDUNDANCY: 'STANDARD', STANDARD: 'STANDARD', STANDARD_IA: 'STANDARD_IA',
  }, 'ListObjectsV2 reports every class')
  t.ok(bytesUnder(join(dataDir, 'cold')) - coldBefore >= 400_000, 'GLACIER and DEEP_ARCHIVE data went to the cold tier directory')
  t.equal(await failure(client.send(new GetObjectCommand({ Bucket: bucket, Key: 'GLACIER' }))), '403 InvalidObjectState')
  t.equal(await failure(client.send(new GetObjectCommand({ Bucket: bucket, Key: 'DEEP_ARCHIVE' }))), '403 InvalidObjectState')
  const ia = await client.send(new GetObjectCommand({ Bucket: bucket, Key: 'GLACIER_IR' }))
  t.equal(sha256(await ia.Body?.transformToByteArray() ?? new Uint8Array()), sha256(bodies.get('GLACIER_IR') ?? Buffer.alloc(0)), 'GLACIER_IR reads at once')

  // A multipart upload into GLACIER is archived too.
  const big = randomBytes(11 * 1024 * 1024)
  await new Upload({ client, params: { Bucket: bucket, Key: 'multipart-glacier', Body: big, StorageClass: 'GLACIER' }, partSize: 5 * 1024 * 1024 }).done()
  t.equal((await client.send(new HeadObjectCommand({ Bucket: bucket, Key: 'multipart-glacier' }))).StorageClass, 'GLACIER')

  t.equal(await failure(client.send(new RestoreObjectCommand({ Bucket: bucket, Key: 'STANDARD', RestoreRequest: { Days: 1 } }))), '403 InvalidObjectState', 'nothing to restore')
  t.equal(await failure(client.send(new RestoreObjectCommand({ Bucket: bucket, Key: 'DEEP_ARCHIVE', RestoreRequest: { Days: 1, GlacierJobParameters: { Tier: 'Expedited' } } }))), '400 InvalidArgument')
  const started = await client.send(new RestoreObjectCommand({ Bucket: bucket, Key: 'GLACIER', RestoreRequest: { Days: 1, GlacierJobParameters: { Tier: 'Standard' } } }))
  t.equal(started.$metadata.httpStatusCode, 202, 'restore accepted')
  t.equal(await failure(client.send(new RestoreObjectCommand({ Bucket: bucket, Key: 'GLACIER', RestoreRequest: { Days: 1 } }))), '409 RestoreAlreadyInProgress')
  t.equal((await client.send(new HeadObjectCommand({ Bucket: bucket, Key: 'GLACIER' }))).Restore, 'ongoing-request="true"')
  await client.send(new RestoreObjectCommand({ Bucket: bucket, Key: 'multipart-glacier', RestoreRequest: { Days: 1, GlacierJobParameters: { Tier: 'Expedited' } } }))

  // The restore state is durable: kill the server mid-restore and start it again.
  client.destroy()
  await s3.server.stop('SIGKILL')
  s3 = await startS3(t, { dataDir, args })
  client = clientFor(s3)
  t.teardown(() => client.destroy())
  await eventually('the restore to complete', async () => /ongoing-request="false"/.test((await client.send(new HeadObjectCommand({ Bucket: bucket, Key: 'GLACIER' }))).Restore ?? ''))
  const head = await client.send(new HeadObjectCommand({ Bucket: bucket, Key: 'GLACIER' }))
  t.match(head.Restore, /^ongoing-request="false", expiry-date="[A-Z][a-z]{2}, \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} GMT"$/)
  const restored = await client.send(new GetObjectCommand({ Bucket: bucket, Key: 'GLACIER' }))
  t.equal(sha256(await restored.Body?.transformToByteArray() ?? new Uint8Array()), sha256(bodies.get('GLACIER') ?? Buffer.alloc(0)), 'the restored copy reads back')
  await eventually('the multipart restore', async () => /ongoing-request="false"/.test((await client.send(new HeadObjectCommand({ Bucket: bucket, Key: 'multipart-glacier' }))).Restore ?? ''))
  const multipart = await client.send(new GetObjectCommand({ Bucket: bucket, Key: 'multipart-glacier' }))
  t.equal(sha256(await multipart.Body?.transformToByteArray() ?? new Uint8Array()), sha256(big))

  const again = await client.send(new RestoreObjectCommand({ Bucket: bucket, Key: 'GLACIER', RestoreRequest: { Days: 1 } }))
  t.equal(again.$metadata.httpStatusCode, 200, 'asking again while restored: 200')
  await eventually('the restored copy to expire', async () => (await client.send(new HeadObjectCommand({ Bucket: bucket, Key: 'GLACIER' }))).Restore === undefined)
  t.equal(await failure(client.send(new GetObjectCommand({ Bucket: bucket, Key: 'GLACIER' }))), '403 InvalidObjectState', 'archived again')
})
