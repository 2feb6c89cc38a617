// S3 lifecycle against the real server with a one-second lifecycle day: configurations through
// @aws-sdk/client-s3 and once through the aws CLI (s3api put-bucket-lifecycle-configuration),
// expiration in an unversioned bucket (and the bytes on disk coming back after GC + compaction),
// a versioned bucket (delete marker, noncurrent expiration), a transition to GLACIER and an
// aborted multipart upload. The configuration survives a restart.
import { randomBytes } from 'node:crypto'
import { existsSync, readdirSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { spawnSync } from 'node:child_process'
import t from 'tap'
import {
  CreateBucketCommand, CreateMultipartUploadCommand, GetBucketLifecycleConfigurationCommand, GetObjectCommand, HeadObjectCommand, ListMultipartUploadsCommand,
  ListObjectsV2Command, ListObjectVersionsCommand, PutBucketLifecycleConfigurationCommand, PutBucketVersioningCommand, PutObjectCommand, S3Client, S3ServiceException,
} from '@aws-sdk/client-s3'
import { basicAuth, tempDir } from './helpers/server.ts'
import { accessKey, check, run, secretKey, startS3, type S3Server } from './fixtures/s3-common.ts'

const lifecycleArgs = ['--lifecycle-day-seconds', '1', '--lifecycle-interval-seconds', '1', '--gc-grace-seconds', '1', '--maintenance-interval-seconds', '0']

function clientFor(s3: S3Server): S3Client {
  return new S3Client({ endpoint: s3.httpUrl, region: 'us-east-1', forcePathStyle: true, credentials: { accessKeyId: accessKey, secretAccessKey: secretKey } })
}

function bytesUnder(dir: string): number {
  if (!existsSync(dir)) return 0
  return readdirSync(dir).reduce((sum, name) => {
    const path = join(dir, name)
    const stat = statSync(path)
    return sum + (stat.isDirectory() ? bytesUnder(path) : stat.size)
  }, 0)
}

async function eventually(what: string, check: () => Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for: ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 200))
  }
}

async function errorName(promise: Promise<unknown>): Promise<string> {
  try {
    await promise
    return 'no error'
  } catch (error) {
    return error instanceof S3ServiceException ? error.name : String(error)
  }
}

function awsCli(): string | undefined {
  for (const candidate of ['/usr/bin/aws', 'aws']) {
    if (spawnSync(candidate, ['--version'], { encoding: 'utf8' }).status === 0) return candidate
  }
  return undefined
}

t.test('lifecycle rules applied by the real server', async (t) => {
  const dataDir = join(tempDir(t), 'data')
  const first = await startS3(t, { dataDir, args: lifecycleArgs })
  let client = clientFor(first)
  await client.send(new CreateBucketCommand({ Bucket: 'lc-plain' }))
  await client.send(new PutBucketLifecycleConfigurationCommand({
    Bucket: 'lc-plain',
    LifecycleConfiguration: { Rules: [{ ID: 'tmp-2-days', Status: 'Enabled', Filter: { Prefix: 'tmp/' }, Expiration: { Days: 2 } }] },
  }))
  const big = randomBytes(8 * 1024 * 1024)
  const put = await client.send(new PutObjectCommand({ Bucket: 'lc-plain', Key: 'tmp/big.bin', Body: big }))
  t.match(put.Expiration, /rule-id="tmp-2-days"/, 'PUT reports x-amz-expiration')
  await client.send(new PutObjectCommand({ Bucket: 'lc-plain', Key: 'keep/small.txt', Body: 'kept' }))
  client.destroy()

  // A restart seals the pack holding the object, so that compaction can reclaim it later.
  await first.server.stop()
  const s3 = await startS3(t, { dataDir, args: lifecycleArgs })
  client = clientFor(s3)
  t.teardown(() => client.destroy())
  const kept = await client.send(new GetBucketLifecycleConfigurationCommand({ Bucket: 'lc-plain' }))
  t.equal(kept.Rules?.[0]?.ID, 'tmp-2-days', 'the configuration survived the restart')
  const packsBefore = bytesUnder(join(dataDir, 'packs'))
  t.ok(packsBefore >= big.length, `packs hold the object (${packsBefore} bytes)`)

  await eventually('tmp/big.bin to expire', async () => {
    const listed = await client.send(new ListObjectsV2Command({ Bucket: 'lc-plain' }))
    return (listed.Contents ?? []).every((entry) => entry.Key !== 'tmp/big.bin')
  })
  t.same((await client.send(new ListObjectsV2Command({ Bucket: 'lc-plain' }))).Contents?.map((entry) => entry.Key), ['keep/small.txt'])
  await new Promise((resolve) => setTimeout(resolve, 1500)) // past the GC grace period
  const authorization = basicAuth(accessKey, secretKey)
  for (const path of ['gc', 'compact']) {
    const response = await fetch(`${s3.server.adminUrl}/admin/v1/${path}`, { method: 'POST', headers: { authorization } })
    t.equal(response.status, 200, `admin ${path}`)
  }
  const packsAfter = bytesUnder(join(dataDir, 'packs'))
  t.ok(packsBefore - packsAfter >= big.length * 0.9, `space came back: ${packsBefore} -> ${packsAfter} bytes`)

  t.test('versioned bucket: a delete marker, then noncurrent versions expire', async (t) => {
    await client.send(new CreateBucketCommand({ Bucket: 'lc-versions' }))
    await client.send(new PutBucketVersioningCommand({ Bucket: 'lc-versions', VersioningConfiguration: { Status: 'Enabled' } }))
    await client.send(new PutBucketLifecycleConfigurationCommand({
      Bucket: 'lc-versions',
      LifecycleConfiguration: { Rules: [{ ID: 'v', Status: 'Enabled', Filter: {}, Expiration: { Days: 3 }, NoncurrentVersionExpiration: { NoncurrentDays: 1 } }] },
    }))
    await client.send(new PutObjectCommand({ Bucket: 'lc-versions', Key: 'doc', Body: 'version one' }))
    await client.send(new PutObjectCommand({ Bucket: 'lc-versions', Key: 'doc', Body: 'version two' }))
    await eventually('the noncurrent version to expire', async () => ((await client.send(new ListObjectVersionsCommand({ Bucket: 'lc-versions' }))).Versions ?? []).length === 1)
    await eventually('a delete marker on top', async () => ((await client.send(new ListObjectVersionsCommand({ Bucket: 'lc-versions' }))).DeleteMarkers ?? []).length === 1)
    t.equal(await errorName(client.send(new GetObjectCommand({ Bucket: 'lc-versions', Key: 'doc' }))), 'NoSuchKey')
  })

  t.test('transition to GLACIER: the class changes and GET needs a restore', async (t) => {
    await client.send(new CreateBucketCommand({ Bucket: 'lc-transition' }))
    await client.send(new PutBucketLifecycleConfigurationCommand({
      Bucket: 'lc-transition',
      LifecycleConfiguration: { Rules: [{ ID: 'archive', Status: 'Enabled', Filter: { ObjectSizeGreaterThan: 0 }, Transitions: [{ Days: 1, StorageClass: 'GLACIER' }] }] },
    }))
    await client.send(new PutObjectCommand({ Bucket: 'lc-transition', Key: 'old.log', Body: randomBytes(300_000) }))
    await eventually('the transition', async () => (await client.send(new HeadObjectCommand({ Bucket: 'lc-transition', Key: 'old.log' }))).StorageClass === 'GLACIER')
    t.equal(await errorName(client.send(new GetObjectCommand({ Bucket: 'lc-transition', Key: 'old.log' }))), 'InvalidObjectState')
  })

  t.test('AbortIncompleteMultipartUpload', async (t) => {
    await client.send(new CreateBucketCommand({ Bucket: 'lc-uploads' }))
    await client.send(new PutBucketLifecycleConfigurationCommand({
      Bucket: 'lc-uploads',
      LifecycleConfiguration: { Rules: [{ ID: 'abort', Status: 'Enabled', Filter: { Prefix: '' }, AbortIncompleteMultipartUpload: { DaysAfterInitiation: 1 } }] },
    }))
    await client.send(new CreateMultipartUploadCommand({ Bucket: 'lc-uploads', Key: 'forgotten' }))
    t.equal((await client.send(new ListMultipartUploadsCommand({ Bucket: 'lc-uploads' }))).Uploads?.length, 1)
    await eventually('the upload to be aborted', async () => ((await client.send(new ListMultipartUploadsCommand({ Bucket: 'lc-uploads' }))).Uploads ?? []).length === 0)
    t.pass('aborted')
  })

  const aws = awsCli()
  t.test('aws s3api put-bucket-lifecycle-configuration', { skip: aws === undefined ? 'no aws CLI installed (apt-get install awscli)' : false }, async (t) => {
    const home = tempDir(t, 'cairn-awscli-lifecycle-')
    const configPath = join(home, 'config')
    writeFileSync(configPath, '[default]\nregion = us-east-1\ns3 =\n  addressing_style = path\n')
    const rulesPath = join(home, 'lifecycle.json')
    writeFileSync(rulesPath, JSON.stringify({
      Rules: [
        { ID: 'logs', Status: 'Enabled', Filter: { Prefix: 'logs/' }, Transitions: [{ Days: 30, StorageClass: 'STANDARD_IA' }, { Days: 90, StorageClass: 'GLACIER' }], Expiration: { Days: 365 } },
        { ID: 'cleanup', Status: 'Enabled', Filter: { Prefix: '' }, AbortIncompleteMultipartUpload: { DaysAfterInitiation: 7 }, NoncurrentVersionExpiration: { NoncurrentDays: 30, NewerNoncurrentVersions: 3 } },
      ],
    }))
    const env = { AWS_ACCESS_KEY_ID: accessKey, AWS_SECRET_ACCESS_KEY: secretKey, AWS_CONFIG_FILE: configPath, AWS_SHARED_CREDENTIALS_FILE: join(home, 'none'), HOME: home, AWS_PAGER: '' }
    await client.send(new CreateBucketCommand({ Bucket: 'lc-cli' }))
    check(await run(aws ?? 'aws', ['--endpoint-url', s3.httpUrl, 's3api', 'put-bucket-lifecycle-configuration', '--bucket', 'lc-cli', '--lifecycle-configuration', `file://${rulesPath}`], { env, timeoutMs: 60_000 }), 'aws s3api put-bucket-lifecycle-configuration')
    const read = await client.send(new GetBucketLifecycleConfigurationCommand({ Bucket: 'lc-cli' }))
    t.same(read.Rules?.map((rule) => rule.ID), ['logs', 'cleanup'])
    t.same(read.Rules?.[0]?.Transitions?.map((transition) => [transition.Days, transition.StorageClass]), [[30, 'STANDARD_IA'], [90, 'GLACIER']])
    t.equal(read.Rules?.[1]?.NoncurrentVersionExpiration?.NewerNoncurrentVersions, 3)
    const bad = await run(aws ?? 'aws', ['--endpoint-url', s3.httpUrl, 's3api', 'put-bucket-lifecycle-configuration', '--bucket', 'lc-cli', '--lifecycle-configuration', '{"Rules":[{"ID":"x","Status":"Enabled","Filter":{"Prefix":""},"Transitions":[{"Days":1,"StorageClass":"STANDARD_IA"}]}]}'], { env, timeoutMs: 60_000 })
    t.not(bad.code, 0)
    t.match(bad.stderr, /InvalidArgument/, 'AWS validation errors reach the CLI')
  })
})
