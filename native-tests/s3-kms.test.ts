// SSE-KMS with customer managed keys against the real server: keys made with `cairn kms`
// (create-key with an alias, list-keys, describe-key, disable-key, enable-key, rotate), then
// @aws-sdk/client-s3 over HTTPS: PUT/GET/range/HEAD, copies, lib-storage multipart, bucket
// default encryption with a bucket key, an encryption context, unknown key 400
// KMS.NotFoundException, disabled key 400 KMS.DisabledException (GET, range, copy source, PUT;
// HEAD still answers), enabled again, rotated (old and new objects read). Then the aws CLI (v1
// on PATH and v2 at /usr/bin/aws, each skipped when absent): `aws s3 cp --sse aws:kms
// --sse-kms-key-id` up (single and multipart) and down, and the same with --sse-c; s3cmd put/get
// --server-side-encryption-kms-id without ETag complaints. Last, every file under the data dir is
// searched for a marker written into each object: it must not appear; and after `cairn keys
// rotate` (master key) the server reads every kind of object under a customer key again.
import { spawnSync } from 'node:child_process'
import { createHash, randomBytes } from 'node:crypto'
import { readFileSync, writeFileSync } from 'node:fs'
import { Agent } from 'node:https'
import { join } from 'node:path'
import t, { type Test } from 'tap'
import {
  CopyObjectCommand, CreateBucketCommand, GetBucketEncryptionCommand, GetObjectCommand, HeadObjectCommand, PutBucketEncryptionCommand, PutObjectCommand, S3Client,
} from '@aws-sdk/client-s3'
import { Upload } from '@aws-sdk/lib-storage'
import { runCli, tempDir } from './helpers/server.ts'
import { accessKey, check, failure, filesContaining, haveTool, marked, run, secretKey, sha256, startS3, type S3Server } from './fixtures/s3-common.ts'

const md5Etag = (bytes: Uint8Array): string => `"${createHash('md5').update(bytes).digest('hex')}"`

async function body(response: { Body?: { transformToByteArray(): Promise<Uint8Array> } }): Promise<string> {
  return sha256((await response.Body?.transformToByteArray()) ?? new Uint8Array())
}

interface KeyJson {
  keyId: string
  arn: string
  state: string
  aliases: string[]
  currentGeneration: number
}

async function kms(t: Test, s3: S3Server, ...args: string[]): Promise<string> {
  const env = { CAIRN_ADMIN_URL: s3.server.adminUrl, CAIRN_ROOT_ACCESS_KEY: accessKey, CAIRN_ROOT_SECRET_KEY: secretKey }
  const result = await runCli(['kms', ...args], { env })
  t.equal(result.code, 0, `cairn kms ${args.join(' ')}: ${result.stderr}`)
  return result.stdout
}

t.test('SSE-KMS with customer managed keys: cairn kms, the AWS SDK and the aws CLI', async (t) => {
  const dataDir = join(tempDir(t), 'data')
  const s3 = await startS3(t, { dataDir })
  const client = new S3Client({
    endpoint: s3.httpsUrl, region: 'us-east-1', forcePathStyle: true, maxAttempts: 1, credentials: { accessKeyId: accessKey, secretAccessKey: secretKey },
    requestHandler: { httpsAgent: new Agent({ ca: readFileSync(s3.caPath) }) },
  })
  t.teardown(() => client.destroy())
  const marker = Buffer.from('CAIRN-KMS-NATIVE-MARKER-31f9c2')

  // Keys through the CLI.
  const key = JSON.parse(await kms(t, s3, 'create-key', '--description', 'quarterly reports', '--alias', 'reports', '--json')) as KeyJson
  t.match(key, { state: 'Enabled', aliases: ['alias/reports'], currentGeneration: 1 })
  t.match(key.arn, new RegExp(`^arn:aws:kms:[a-z0-9-]+:000000000000:key/${key.keyId}$`))
  const second = JSON.parse(await kms(t, s3, 'create-key', '--json')) as KeyJson
  const table = await kms(t, s3, 'list-keys')
  t.match(table, /^KEY ID\s+STATE\s+ALIASES\s+GENERATION\s+CREATED\s+DESCRIPTION/)
  t.match(table, new RegExp(`${key.keyId}\\s+Enabled\\s+alias/reports\\s+1\\s+\\S+\\s+quarterly reports`))
  t.match(table, second.keyId)
  t.match(await kms(t, s3, 'describe-key', 'alias/reports'), new RegExp(`arn\\s+${key.arn.replace(/[/]/g, '\\/')}`))
  const missing = await runCli(['kms', 'describe-key', 'alias/nope'], { env: { CAIRN_ADMIN_URL: s3.server.adminUrl, CAIRN_ROOT_ACCESS_KEY: accessKey, CAIRN_ROOT_SECRET_KEY: secretKey } })
  t.equal(missing.code, 1)
  t.match(missing.stderr, /alias\/nope is not found/)

  // PUT / GET / HEAD / copies with the SDK.
  await client.send(new CreateBucketCommand({ Bucket: 'kms-vault' }))
  const secret = marked(700_000, marker)
  const put = await client.send(new PutObjectCommand({ Bucket: 'kms-vault', Key: 'secret', Body: secret, ServerSideEncryption: 'aws:kms', SSEKMSKeyId: 'alias/reports' }))
  t.equal(put.ServerSideEncryption, 'aws:kms')
  t.equal(put.SSEKMSKeyId, key.arn, 'the response names the key by its full ARN')
  t.not(put.ETag, md5Etag(secret), 'an SSE-KMS ETag is not the MD5 of the content (as on AWS)')
  const head = await client.send(new HeadObjectCommand({ Bucket: 'kms-vault', Key: 'secret' }))
  t.equal(head.SSEKMSKeyId, key.arn)
  t.equal(head.ETag, put.ETag)
  t.equal(await body(await client.send(new GetObjectCommand({ Bucket: 'kms-vault', Key: 'secret' }))), sha256(secret))
  t.equal(await body(await client.send(new GetObjectCommand({ Bucket: 'kms-vault', Key: 'secret', Range: 'bytes=99999-400000' }))), sha256(secret.subarray(99_999, 400_001)), 'a range decrypts')
  const byArn = await client.send(new CopyObjectCommand({ Bucket: 'kms-vault', Key: 'copy-second-key', CopySource: 'kms-vault/secret', ServerSideEncryption: 'aws:kms', SSEKMSKeyId: second.arn }))
  t.equal(byArn.SSEKMSKeyId, second.arn, 'copied under the second key')
  const kept = await client.send(new CopyObjectCommand({ Bucket: 'kms-vault', Key: 'copy-kept', CopySource: 'kms-vault/secret' }))
  t.equal(kept.SSEKMSKeyId, key.arn, 'a copy without encryption headers keeps the source key')
  t.equal(await failure(client.send(new PutObjectCommand({ Bucket: 'kms-vault', Key: 'x', Body: 'x', ServerSideEncryption: 'aws:kms', SSEKMSKeyId: 'alias/missing' }))), '400 KMS.NotFoundException')
  t.equal(await failure(client.send(new PutObjectCommand({ Bucket: 'kms-vault', Key: 'x', Body: 'x', ServerSideEncryption: 'aws:kms', SSEKMSKeyId: '0b9d6a52-63f4-4a4e-8cc5-5f16b1a3d111' }))), '400 KMS.NotFoundException')
  const contextText = Buffer.from(JSON.stringify({ project: 'q3' })).toString('base64')
  const withContext = await client.send(new PutObjectCommand({ Bucket: 'kms-vault', Key: 'context', Body: marked(10_000, marker), ServerSideEncryption: 'aws:kms', SSEKMSKeyId: key.keyId, SSEKMSEncryptionContext: contextText }))
  t.equal(withContext.SSEKMSEncryptionContext, contextText, 'the encryption context is echoed')
  t.equal(await failure(client.send(new PutObjectCommand({ Bucket: 'kms-vault', Key: 'x', Body: 'x', ServerSideEncryption: 'aws:kms', SSEKMSEncryptionContext: 'bm90IGpzb24=' }))), '400 InvalidArgument', 'a context that is not a JSON map')

  // Multipart with lib-storage.
  const big = marked(12 * 1024 * 1024 + 3, marker)
  await new Upload({ client, params: { Bucket: 'kms-vault', Key: 'multipart', Body: big, ServerSideEncryption: 'aws:kms', SSEKMSKeyId: key.arn }, partSize: 5 * 1024 * 1024 }).done()
  const multipart = await client.send(new GetObjectCommand({ Bucket: 'kms-vault', Key: 'multipart' }))
  t.equal(multipart.SSEKMSKeyId, key.arn)
  t.match(multipart.ETag, /^"[0-9a-f]{32}-3"$/, 'a multipart ETag keeps its -N form')
  t.equal(await body(multipart), sha256(big), 'multipart reads back')

  // Bucket default with a bucket key.
  await client.send(new CreateBucketCommand({ Bucket: 'kms-default' }))
  await client.send(new PutBucketEncryptionCommand({ Bucket: 'kms-default', ServerSideEncryptionConfiguration: { Rules: [{ ApplyServerSideEncryptionByDefault: { SSEAlgorithm: 'aws:kms', KMSMasterKeyID: 'alias/reports' }, BucketKeyEnabled: true }] } }))
  const rule = (await client.send(new GetBucketEncryptionCommand({ Bucket: 'kms-default' }))).ServerSideEncryptionConfiguration?.Rules?.[0]
  t.match(rule, { ApplyServerSideEncryptionByDefault: { SSEAlgorithm: 'aws:kms', KMSMasterKeyID: 'alias/reports' }, BucketKeyEnabled: true })
  const doc = marked(50_000, marker)
  const defaulted = await client.send(new PutObjectCommand({ Bucket: 'kms-default', Key: 'doc', Body: doc }))
  t.equal(defaulted.SSEKMSKeyId, key.arn, 'the bucket default applies')
  t.equal(defaulted.BucketKeyEnabled, true, 'and reports its bucket key')
  t.equal((await client.send(new HeadObjectCommand({ Bucket: 'kms-default', Key: 'doc' }))).BucketKeyEnabled, true)
  t.equal(await failure(client.send(new PutBucketEncryptionCommand({ Bucket: 'kms-default', ServerSideEncryptionConfiguration: { Rules: [{ ApplyServerSideEncryptionByDefault: { SSEAlgorithm: 'aws:kms', KMSMasterKeyID: 'alias/nope' } }] } }))), '400 KMS.NotFoundException')

  // Disable: the data is unreadable through the API; enable: readable again.
  t.match(await kms(t, s3, 'disable-key', key.keyId), /disabled key .*\n\s+key id .*\n\s+arn .*\n\s+state\s+Disabled/)
  t.equal(await failure(client.send(new GetObjectCommand({ Bucket: 'kms-vault', Key: 'secret' }))), '400 KMS.DisabledException', 'GET')
  t.equal(await failure(client.send(new GetObjectCommand({ Bucket: 'kms-vault', Key: 'secret', Range: 'bytes=0-9' }))), '400 KMS.DisabledException', 'range GET')
  t.equal(await failure(client.send(new GetObjectCommand({ Bucket: 'kms-vault', Key: 'multipart', PartNumber: 2 }))), '400 KMS.DisabledException', 'partNumber GET')
  t.equal(await failure(client.send(new GetObjectCommand({ Bucket: 'kms-default', Key: 'doc' }))), '400 KMS.DisabledException', 'GET under a bucket key')
  t.equal(await failure(client.send(new CopyObjectCommand({ Bucket: 'kms-vault', Key: 'x', CopySource: 'kms-vault/secret', ServerSideEncryption: 'AES256' }))), '400 KMS.DisabledException', 'copy source')
  t.equal(await failure(client.send(new PutObjectCommand({ Bucket: 'kms-vault', Key: 'x', Body: 'x', ServerSideEncryption: 'aws:kms', SSEKMSKeyId: key.arn }))), '400 KMS.DisabledException', 'PUT')
  t.equal((await client.send(new HeadObjectCommand({ Bucket: 'kms-vault', Key: 'secret' }))).SSEKMSKeyId, key.arn, 'HEAD still answers')
  t.equal(await body(await client.send(new GetObjectCommand({ Bucket: 'kms-vault', Key: 'copy-second-key' }))), sha256(secret), 'a copy under the other key reads')
  await kms(t, s3, 'enable-key', 'alias/reports')
  t.equal(await body(await client.send(new GetObjectCommand({ Bucket: 'kms-vault', Key: 'secret' }))), sha256(secret), 'readable again')
  t.equal(await body(await client.send(new GetObjectCommand({ Bucket: 'kms-default', Key: 'doc' }))), sha256(doc), 'the bucket-key object reads again')

  // Rotate: new material for new objects, old objects stay readable.
  t.match(await kms(t, s3, 'rotate', key.arn), /generation\s+2 of 2/)
  const after = marked(40_000, marker)
  await client.send(new PutObjectCommand({ Bucket: 'kms-vault', Key: 'after-rotation', Body: after, ServerSideEncryption: 'aws:kms', SSEKMSKeyId: 'alias/reports' }))
  t.equal(await body(await client.send(new GetObjectCommand({ Bucket: 'kms-vault', Key: 'after-rotation' }))), sha256(after))
  t.equal(await body(await client.send(new GetObjectCommand({ Bucket: 'kms-vault', Key: 'secret' }))), sha256(secret), 'an object from before the rotation')
  t.equal(await body(await client.send(new GetObjectCommand({ Bucket: 'kms-vault', Key: 'multipart' }))), sha256(big))
  t.equal((JSON.parse(await kms(t, s3, 'describe-key', key.keyId, '--json')) as KeyJson).currentGeneration, 2)

  // The aws CLI, v1 and v2 where installed.
  const clis: Array<[string, string]> = [['aws', 'v1'], ['/usr/bin/aws', 'v2']]
  for (const [aws, label] of clis) {
    const version = spawnSync(aws, ['--version'], { encoding: 'utf8' })
    const text = `${version.stdout ?? ''}${version.stderr ?? ''}`
    const skip = version.status === 0 && text.includes(`aws-cli/${label.slice(1)}.`) ? false : `no aws CLI ${label} (${aws})`
    await t.test(`aws CLI ${label}: s3 cp --sse aws:kms --sse-kms-key-id`, { skip }, async (t) => {
      const home = tempDir(t, 'cairn-awscli-kms-')
      const configPath = join(home, 'config')
      writeFileSync(configPath, '[default]\nregion = us-east-1\ns3 =\n  addressing_style = path\n  multipart_threshold = 5MB\n  multipart_chunksize = 5MB\n')
      const env = { AWS_ACCESS_KEY_ID: accessKey, AWS_SECRET_ACCESS_KEY: secretKey, AWS_CONFIG_FILE: configPath, AWS_SHARED_CREDENTIALS_FILE: join(home, 'none'), HOME: home, AWS_PAGER: '' }
      const aws_ = async (...args: string[]) => check(await run(aws, ['--endpoint-url', s3.httpsUrl, '--ca-bundle', s3.caPath, ...args], { env, timeoutMs: 120_000 }), `aws ${args.join(' ')}`)
      const small = join(home, 'small.bin')
      const large = join(home, 'large.bin')
      writeFileSync(small, marked(300_000, marker))
      writeFileSync(large, marked(11 * 1024 * 1024, marker))
      await aws_('s3', 'cp', '--only-show-errors', small, `s3://kms-vault/cli-${label}/small.bin`, '--sse', 'aws:kms', '--sse-kms-key-id', 'alias/reports')
      await aws_('s3', 'cp', '--only-show-errors', large, `s3://kms-vault/cli-${label}/large.bin`, '--sse', 'aws:kms', '--sse-kms-key-id', key.keyId)
      const described = JSON.parse((await aws_('s3api', 'head-object', '--bucket', 'kms-vault', '--key', `cli-${label}/large.bin`)).stdout) as { ServerSideEncryption: string; SSEKMSKeyId: string }
      t.same({ ServerSideEncryption: described.ServerSideEncryption, SSEKMSKeyId: described.SSEKMSKeyId }, { ServerSideEncryption: 'aws:kms', SSEKMSKeyId: key.arn }, 'the multipart upload is under the key')
      for (const name of ['small.bin', 'large.bin']) {
        const back = join(home, `back-${name}`)
        await aws_('s3', 'cp', '--only-show-errors', `s3://kms-vault/cli-${label}/${name}`, back)
        t.equal(sha256(readFileSync(back)), sha256(readFileSync(join(home, name))), `${name} downloads intact`)
      }
      // SSE-C through the same CLI: its ETags are not the MD5 either, and the CLI does not mind.
      const customerKeyPath = join(home, 'sse-c.key')
      writeFileSync(customerKeyPath, randomBytes(32))
      const sseC = ['--sse-c', 'AES256', '--sse-c-key', `fileb://${customerKeyPath}`]
      for (const name of ['small.bin', 'large.bin']) {
        await aws_('s3', 'cp', '--only-show-errors', join(home, name), `s3://kms-vault/cli-${label}/c-${name}`, ...sseC)
        const back = join(home, `back-c-${name}`)
        await aws_('s3', 'cp', '--only-show-errors', `s3://kms-vault/cli-${label}/c-${name}`, back, ...sseC)
        t.equal(sha256(readFileSync(back)), sha256(readFileSync(join(home, name))), `SSE-C ${name} round trip`)
      }
      const refused = await run(aws, ['--endpoint-url', s3.httpsUrl, '--ca-bundle', s3.caPath, 's3', 'cp', small, 's3://kms-vault/x', '--sse', 'aws:kms', '--sse-kms-key-id', 'alias/missing'], { env, timeoutMs: 120_000 })
      t.not(refused.code, 0)
      t.match(refused.stderr, /KMS\.NotFoundException/)
    })
  }

  await t.test('s3cmd put --server-side-encryption-kms-id', { skip: haveTool('s3cmd') ? false : 's3cmd is not installed (apt-get install s3cmd)' }, async (t) => {
    const home = tempDir(t, 'cairn-s3cmd-kms-')
    const hostPort = new URL(s3.httpsUrl).host
    const configPath = join(home, 's3cfg')
    writeFileSync(configPath, [
      '[default]', `access_key = ${accessKey}`, `secret_key = ${secretKey}`, `host_base = ${hostPort}`, `host_bucket = ${hostPort}`,
      'bucket_location = us-east-1', 'use_https = True', `ca_certs_file = ${s3.caPath}`, 'check_ssl_certificate = True', 'signature_v2 = False',
      'multipart_chunk_size_mb = 5', 'progress_meter = False', '',
    ].join('\n'))
    const s3cmd = async (...args: string[]) => check(await run('s3cmd', ['-c', configPath, ...args], { env: { HOME: home }, timeoutMs: 120_000 }), `s3cmd ${args.join(' ')}`)
    for (const [name, sizeBytes] of [['small.bin', 200_000], ['large.bin', 11 * 1024 * 1024]] as const) {
      const path = join(home, name)
      writeFileSync(path, marked(sizeBytes, marker))
      const put = await s3cmd('put', `--server-side-encryption-kms-id=${key.keyId}`, path, `s3://kms-vault/s3cmd/${name}`)
      t.notMatch(put.stderr, /MD5/i, `${name}: s3cmd does not complain about the ETag`)
      const back = join(home, `back-${name}`)
      const get = await s3cmd('get', `s3://kms-vault/s3cmd/${name}`, back)
      t.notMatch(get.stderr, /MD5/i, `${name}: nor on the way back`)
      t.equal(sha256(readFileSync(back)), sha256(readFileSync(path)), `${name} round trip`)
    }
    const info = (await s3cmd('info', 's3://kms-vault/s3cmd/small.bin')).stdout
    t.match(info, new RegExp(`SSE:\\s+aws:kms`))
  })

  await s3.server.stop()
  t.same(filesContaining(dataDir, marker), [], 'no file under the data dir holds plaintext of an object under a customer key')
  t.not(filesContaining(dataDir, Buffer.from(key.keyId)).length, 0, 'the search does find what is stored in plain (the key id)')

  // KMS key material is wrapped by the master key: a master-key rotation carries it along.
  const rotated = await runCli(['keys', 'rotate', '--data-dir', dataDir, '--json'])
  t.equal(rotated.code, 0, rotated.stderr)
  const again = await startS3(t, { dataDir })
  const after2 = new S3Client({
    endpoint: again.httpsUrl, region: 'us-east-1', forcePathStyle: true, maxAttempts: 1, credentials: { accessKeyId: accessKey, secretAccessKey: secretKey },
    requestHandler: { httpsAgent: new Agent({ ca: readFileSync(again.caPath) }) },
  })
  t.teardown(() => after2.destroy())
  t.equal(await body(await after2.send(new GetObjectCommand({ Bucket: 'kms-vault', Key: 'secret' }))), sha256(secret), 'after a master-key rotation: an object under the first generation')
  t.equal(await body(await after2.send(new GetObjectCommand({ Bucket: 'kms-vault', Key: 'after-rotation' }))), sha256(after), 'one under the second generation')
  t.equal(await body(await after2.send(new GetObjectCommand({ Bucket: 'kms-default', Key: 'doc' }))), sha256(doc), 'one under a bucket key')
})
