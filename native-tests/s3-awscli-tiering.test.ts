// The commands of docs/storage-classes.md with the aws CLI (the first `aws` on PATH, v1 or v2)
// against the real server: Intelligent-Tiering configurations (put, get, list, delete, a bad
// one refused), a restore answered in list-objects-v2 --optional-object-attributes RestoreStatus
// (when this CLI knows the option), RestoreObject rules for INTELLIGENT_TIERING objects.
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { tempDir } from './helpers/server.ts'
import { accessKey, check, haveTool, run, secretKey, startS3 } from './fixtures/s3-common.ts'

const skip = haveTool('aws') ? false : 'no aws CLI on PATH (apt-get install awscli)'

t.test('aws CLI: Intelligent-Tiering configurations, RestoreStatus in listings', { skip }, async (t) => {
  const s3 = await startS3(t, { args: ['--lifecycle-day-seconds', '1', '--restore-expedited-seconds', '1'] })
  const home = tempDir(t, 'cairn-awscli-tiering-')
  const configPath = join(home, 'config')
  writeFileSync(configPath, '[default]\nregion = us-east-1\ns3 =\n  addressing_style = path\n')
  const env = { AWS_ACCESS_KEY_ID: accessKey, AWS_SECRET_ACCESS_KEY: secretKey, AWS_CONFIG_FILE: configPath, AWS_SHARED_CREDENTIALS_FILE: join(home, 'none'), HOME: home, AWS_PAGER: '' }
  const attempt = (...args: string[]) => run('aws', ['--endpoint-url', s3.httpUrl, ...args], { env, timeoutMs: 60_000 })
  const aws = async (...args: string[]) => check(await attempt(...args), `aws ${args.join(' ')}`).stdout
  const bucket = 'lake'
  await aws('s3', 'mb', `s3://${bucket}`)

  const configuration = { Id: 'archive-logs', Status: 'Enabled', Filter: { Prefix: 'logs/' }, Tierings: [{ Days: 90, AccessTier: 'ARCHIVE_ACCESS' }, { Days: 180, AccessTier: 'DEEP_ARCHIVE_ACCESS' }] }
  await aws('s3api', 'put-bucket-intelligent-tiering-configuration', '--bucket', bucket, '--id', 'archive-logs', '--intelligent-tiering-configuration', JSON.stringify(configuration))
  const got = JSON.parse(await aws('s3api', 'get-bucket-intelligent-tiering-configuration', '--bucket', bucket, '--id', 'archive-logs')) as { IntelligentTieringConfiguration: unknown }
  t.same(got.IntelligentTieringConfiguration, configuration, 'get answers what was put')
  const listed = JSON.parse(await aws('s3api', 'list-bucket-intelligent-tiering-configurations', '--bucket', bucket)) as { IntelligentTieringConfigurationList: Array<{ Id: string }> }
  t.same(listed.IntelligentTieringConfigurationList.map((entry) => entry.Id), ['archive-logs'])
  const bad = await attempt('s3api', 'put-bucket-intelligent-tiering-configuration', '--bucket', bucket, '--id', 'soon', '--intelligent-tiering-configuration', JSON.stringify({ ...configuration, Id: 'soon', Tierings: [{ Days: 30, AccessTier: 'ARCHIVE_ACCESS' }] }))
  t.not(bad.code, 0)
  t.match(bad.stderr, /InvalidArgument/, 'ARCHIVE_ACCESS before 90 days is refused')
  await aws('s3api', 'delete-bucket-intelligent-tiering-configuration', '--bucket', bucket, '--id', 'archive-logs')
  const gone = await attempt('s3api', 'get-bucket-intelligent-tiering-configuration', '--bucket', bucket, '--id', 'archive-logs')
  t.match(gone.stderr, /NoSuchConfiguration/)

  const file = join(home, 'data.bin')
  writeFileSync(file, Buffer.alloc(200_000, 1))
  await aws('s3', 'cp', '--only-show-errors', file, `s3://${bucket}/backup.bin`, '--storage-class', 'GLACIER')
  await aws('s3', 'cp', '--only-show-errors', file, `s3://${bucket}/dataset.bin`, '--storage-class', 'INTELLIGENT_TIERING')
  const notArchived = await attempt('s3api', 'restore-object', '--bucket', bucket, '--key', 'dataset.bin', '--restore-request', '{}')
  t.match(notArchived.stderr, /InvalidObjectState/, 'an INTELLIGENT_TIERING object in Frequent Access has nothing to restore')
  const noDays = await attempt('s3api', 'restore-object', '--bucket', bucket, '--key', 'backup.bin', '--restore-request', '{}')
  t.match(noDays.stderr, /MalformedXML/, 'GLACIER needs Days')
  await aws('s3api', 'restore-object', '--bucket', bucket, '--key', 'backup.bin', '--restore-request', '{"Days": 1, "GlacierJobParameters": {"Tier": "Bulk"}}')

  const withStatus = await attempt('s3api', 'list-objects-v2', '--bucket', bucket, '--optional-object-attributes', 'RestoreStatus')
  if (/Unknown options|invalid choice/.test(withStatus.stderr)) {
    t.comment(`this aws CLI has no --optional-object-attributes: ${withStatus.stderr.trim().split('\n').at(-1) ?? ''}`)
    return
  }
  check(withStatus, 'list-objects-v2 --optional-object-attributes RestoreStatus')
  const contents = (JSON.parse(withStatus.stdout) as { Contents: Array<{ Key: string; RestoreStatus?: { IsRestoreInProgress: boolean } }> }).Contents
  t.same(Object.fromEntries(contents.map((entry) => [entry.Key, entry.RestoreStatus])), { 'backup.bin': { IsRestoreInProgress: true }, 'dataset.bin': undefined })
})
