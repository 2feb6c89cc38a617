// INTELLIGENT_TIERING against the real server with @aws-sdk/client-s3 and a 1-second lifecycle
// day: an object of 300 KB left alone for 30 "days" moves to Infrequent Access (its data lands in
// the cold tier directory; /metrics counts the move), a GET reads identical bytes and brings it
// back to Frequent Access (data copied back to the hot tier); an object under 128 KiB stays.
// Then a SIGKILL and restart: the state and queue survive. Takes ~40 s: the day cannot be
// shorter than a second.
import { randomBytes } from 'node:crypto'
import { join } from 'node:path'
import t from 'tap'
import { CreateBucketCommand, GetObjectCommand, HeadObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3'
import { tempDir } from './helpers/server.ts'
import { accessKey, bytesUnder, secretKey, sha256, startS3 } from './fixtures/s3-common.ts'


async function metric(adminUrl: string, name: string): Promise<number> {
  const text = await (await fetch(`${adminUrl}/metrics`)).text()
  const line = text.split('\n').find((entry) => entry.startsWith(`${name} `))
  return line === undefined ? Number.NaN : Number(line.slice(name.length + 1))
}

async function eventually(what: string, check: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for: ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 250))
  }
}

t.test('INTELLIGENT_TIERING: idle -> Infrequent Access in the cold tier, a GET brings it back hot', async (t) => {
  const dataDir = join(tempDir(t), 'data')
  const s3 = await startS3(t, { dataDir, args: ['--lifecycle-day-seconds', '1'] })
  const client = new S3Client({ endpoint: s3.httpUrl, region: 'us-east-1', forcePathStyle: true, credentials: { accessKeyId: accessKey, secretAccessKey: secretKey } })
  t.teardown(() => client.destroy())
  const adminUrl = s3.server.adminUrl
  const bucket = 'tiering'
  await client.send(new CreateBucketCommand({ Bucket: bucket }))
  const body = randomBytes(300_000)
  const small = randomBytes(10_000)
  const coldBefore = bytesUnder(join(dataDir, 'cold'))
  await client.send(new PutObjectCommand({ Bucket: bucket, Key: 'tiered', Body: body, StorageClass: 'INTELLIGENT_TIERING' }))
  await client.send(new PutObjectCommand({ Bucket: bucket, Key: 'small', Body: small, StorageClass: 'INTELLIGENT_TIERING' }))
  t.equal(await metric(adminUrl, 'cairn_s3_tiering_to_infrequent'), 0)

  await eventually('30 idle days (30 s) and the move to Infrequent Access', async () => (await metric(adminUrl, 'cairn_s3_tiering_to_infrequent')) >= 1, 60_000)
  t.equal(await metric(adminUrl, 'cairn_s3_tiering_to_infrequent'), 1, 'one object moved: the small one is not monitored')
  t.ok(bytesUnder(join(dataDir, 'cold')) - coldBefore >= body.length, 'its data went to the cold tier directory')
  t.equal((await client.send(new HeadObjectCommand({ Bucket: bucket, Key: 'tiered' }))).StorageClass, 'INTELLIGENT_TIERING', 'HEAD: the class stays')
  t.equal(await metric(adminUrl, 'cairn_s3_tiering_pending_accesses'), 0, 'HEAD is no access')

  const hotBefore = bytesUnder(join(dataDir, 'packs'))
  const read = await client.send(new GetObjectCommand({ Bucket: bucket, Key: 'tiered' }))
  t.equal(sha256(await read.Body?.transformToByteArray() ?? new Uint8Array()), sha256(body), 'a GET from Infrequent Access reads identical bytes at once')
  await eventually('the access to be flushed and the data moved back', async () => (await metric(adminUrl, 'cairn_s3_tiering_to_frequent')) >= 1, 10_000)
  await eventually('the hot tier to hold the data again', async () => bytesUnder(join(dataDir, 'packs')) - hotBefore >= body.length, 10_000)
  t.pass('back in Frequent Access, data in the hot tier directory')
  const again = await client.send(new GetObjectCommand({ Bucket: bucket, Key: 'tiered' }))
  t.equal(sha256(await again.Body?.transformToByteArray() ?? new Uint8Array()), sha256(body), 'bytes unchanged after both moves')
  const smallRead = await client.send(new GetObjectCommand({ Bucket: bucket, Key: 'small' }))
  t.equal(sha256(await smallRead.Body?.transformToByteArray() ?? new Uint8Array()), sha256(small))

  // The tiering state and its pending checks survive a SIGKILL: the restarted server reads on.
  client.destroy()
  await s3.server.stop('SIGKILL')
  const again2 = await startS3(t, { dataDir, args: ['--lifecycle-day-seconds', '1'] })
  const client2 = new S3Client({ endpoint: again2.httpUrl, region: 'us-east-1', forcePathStyle: true, credentials: { accessKeyId: accessKey, secretAccessKey: secretKey } })
  t.teardown(() => client2.destroy())
  const afterRestart = await client2.send(new GetObjectCommand({ Bucket: bucket, Key: 'tiered' }))
  t.equal(sha256(await afterRestart.Body?.transformToByteArray() ?? new Uint8Array()), sha256(body), 'identical bytes after a SIGKILL and restart')
  await new Promise((resolve) => setTimeout(resolve, 2_500)) // a few background ticks over the restored queue
  t.equal(await metric(again2.server.adminUrl, 'cairn_s3_tiering_flushed_accesses'), 1, 'the restarted worker flushed the new read')
  t.notMatch(again2.server.stderr(), /"level":"(fatal|error)"/, 'no errors logged by the restarted server')
})
