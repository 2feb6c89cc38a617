// S3 users end to end: `cairn user create/list/delete` against the real server, the new access
// key signing S3 requests with the AWS SDK, each user seeing only its own buckets, anonymous
// requests denied, and a deleted user's key refused.
import t from 'tap'
import { CreateBucketCommand, DeleteBucketCommand, DeleteObjectCommand, GetObjectCommand, ListBucketsCommand, PutObjectCommand, S3Client, S3ServiceException } from '@aws-sdk/client-s3'
import { runCli } from './helpers/server.ts'
import { accessKey, secretKey, startS3 } from './fixtures/s3-common.ts'

function client(endpoint: string, accessKeyId: string, secretAccessKey: string): S3Client {
  return new S3Client({ endpoint, region: 'us-east-1', forcePathStyle: true, maxAttempts: 1, credentials: { accessKeyId, secretAccessKey } })
}

async function errorName(promise: Promise<unknown>): Promise<string | undefined> {
  try {
    await promise
    return undefined
  } catch (error) {
    if (error instanceof S3ServiceException) return error.name
    throw error
  }
}

t.test('cairn user create/list/delete and per-user buckets', async (t) => {
  const s3 = await startS3(t)
  const env = { CAIRN_ADMIN_URL: s3.server.adminUrl, CAIRN_ROOT_ACCESS_KEY: accessKey, CAIRN_ROOT_SECRET_KEY: secretKey }
  const created = await runCli(['user', 'create', 'alice', '--json'], { env })
  t.equal(created.code, 0, created.stderr)
  const alice = JSON.parse(created.stdout) as { accessKeyId: string; secretKey: string }
  const human = await runCli(['user', 'create', 'bob'], { env })
  t.equal(human.code, 0, human.stderr)
  t.match(human.stdout, /export AWS_ACCESS_KEY_ID=\S+/)
  t.match(human.stdout, /shown once/)
  t.equal((await runCli(['user', 'create', 'alice'], { env })).code, 1, 'a second alice is refused')
  const listed = await runCli(['user', 'list'], { env })
  t.match(listed.stdout, /alice/)
  t.match(listed.stdout, /bob/)
  t.notMatch(listed.stdout, alice.secretKey)

  const root = client(s3.httpUrl, accessKey, secretKey)
  const aliceClient = client(s3.httpUrl, alice.accessKeyId, alice.secretKey)
  t.teardown(() => {
    root.destroy()
    aliceClient.destroy()
  })
  await root.send(new CreateBucketCommand({ Bucket: 'root-bucket' }))
  await root.send(new PutObjectCommand({ Bucket: 'root-bucket', Key: 'secret.txt', Body: 'root only' }))
  await aliceClient.send(new CreateBucketCommand({ Bucket: 'alice-bucket' }))
  await aliceClient.send(new PutObjectCommand({ Bucket: 'alice-bucket', Key: 'mine.txt', Body: 'alice' }))
  t.same((await aliceClient.send(new ListBucketsCommand({}))).Buckets?.map((bucket) => bucket.Name), ['alice-bucket'], 'alice sees only her bucket')
  t.ok(['AccessDenied', 'NoSuchBucket'].includes((await errorName(aliceClient.send(new GetObjectCommand({ Bucket: 'root-bucket', Key: 'secret.txt' })))) ?? ''), "alice cannot read root's bucket")

  const anonymous = await fetch(`${s3.httpUrl}/alice-bucket/mine.txt`)
  t.equal(anonymous.status, 403)
  t.match(await anonymous.text(), /<Code>AccessDenied<\/Code>/)

  t.equal((await runCli(['user', 'delete', 'alice'], { env })).code, 1, 'a user who owns buckets cannot be deleted')
  await aliceClient.send(new DeleteObjectCommand({ Bucket: 'alice-bucket', Key: 'mine.txt' }))
  await aliceClient.send(new DeleteBucketCommand({ Bucket: 'alice-bucket' }))
  t.equal((await runCli(['user', 'delete', 'alice'], { env })).code, 0)
  await new Promise((resolve) => setTimeout(resolve, 1100)) // the edge caches keys for 1 s
  t.equal(await errorName(aliceClient.send(new ListBucketsCommand({}))), 'InvalidAccessKeyId')
})
