// The data-management edge in process (data-management.ts, handlers-lifecycle.ts,
// lifecycle-xml.ts, sse-headers.ts): routing, lifecycle and encryption documents through the AWS
// SDK, AWS's error codes, x-amz-expiration / x-amz-restore / SSE response headers, RestoreObject
// 202 / 409 / 200, SSE-C refused over plain HTTP, REDUCED_REDUNDANCY stored as STANDARD.
import { createHash } from 'node:crypto'
import t from 'tap'
import {
  DeleteBucketEncryptionCommand, DeleteBucketLifecycleCommand, GetBucketEncryptionCommand, GetBucketLifecycleConfigurationCommand, GetObjectCommand,
  HeadObjectCommand, ListObjectsCommand, ListObjectsV2Command, ListObjectVersionsCommand, PutBucketEncryptionCommand, PutBucketLifecycleConfigurationCommand,
  PutBucketVersioningCommand, PutObjectCommand, RestoreObjectCommand, S3ServiceException,
  DeleteBucketIntelligentTieringConfigurationCommand, GetBucketIntelligentTieringConfigurationCommand, ListBucketIntelligentTieringConfigurationsCommand,
  PutBucketIntelligentTieringConfigurationCommand,
} from '@aws-sdk/client-s3'
import { dataTestSetup, testDayMs } from '../objects/lifecycle-testing.ts'
import { parseLifecycleConfiguration, lifecycleXml } from './lifecycle-xml.ts'
import { routeDataManagement } from './data-management.ts'
import { startTestS3 } from './testing/harness.ts'
import { errorCode, rawRequest } from './testing/raw.ts'
import { xmlDocument } from './xml.ts'

async function failure(promise: Promise<unknown>): Promise<{ name: string; status: number | undefined }> {
  try {
    await promise
  } catch (error) {
    if (error instanceof S3ServiceException) return { name: error.name, status: error.$metadata.httpStatusCode }
    throw error
  }
  throw new Error('expected a failure')
}

t.test('routing', async (t) => {
  const query = (name: string, value = '') => new Map([[name, value]])
  t.same(routeDataManagement('GET', 'b', undefined, query('lifecycle')), { kind: 'GetBucketLifecycleConfiguration', bucket: 'b' })
  t.same(routeDataManagement('DELETE', 'b', undefined, query('lifecycle')), { kind: 'DeleteBucketLifecycle', bucket: 'b' })
  t.same(routeDataManagement('PUT', 'b', undefined, query('encryption')), { kind: 'PutBucketEncryption', bucket: 'b' })
  t.same(routeDataManagement('POST', 'b', 'k', new Map([['restore', ''], ['versionId', 'v']])), { kind: 'RestoreObject', bucket: 'b', key: 'k', versionId: 'v' })
  t.throws(() => routeDataManagement('POST', 'b', undefined, query('lifecycle')), { code: 'MethodNotAllowed' })
  t.throws(() => routeDataManagement('GET', 'b', 'k', query('restore')), { code: 'MethodNotAllowed' })
  t.equal(routeDataManagement('GET', 'b', undefined, query('versioning')), undefined)
})

t.test('lifecycle XML: every element round-trips; shape errors are MalformedXML', async (t) => {
  const text = `<LifecycleConfiguration><Rule><ID>a</ID><Filter><And><Prefix>logs/</Prefix><Tag><Key>k</Key><Value>v</Value></Tag><ObjectSizeGreaterThan>10</ObjectSizeGreaterThan></And></Filter><Status>Enabled</Status>
    <Transition><Days>30</Days><StorageClass>STANDARD_IA</StorageClass></Transition><Transition><Days>90</Days><StorageClass>GLACIER</StorageClass></Transition>
    <Expiration><Days>365</Days></Expiration><NoncurrentVersionTransition><NoncurrentDays>30</NoncurrentDays><StorageClass>GLACIER</StorageClass><NewerNoncurrentVersions>2</NewerNoncurrentVersions></NoncurrentVersionTransition>
    <NoncurrentVersionExpiration><NoncurrentDays>60</NoncurrentDays></NoncurrentVersionExpiration><AbortIncompleteMultipartUpload><DaysAfterInitiation>7</DaysAfterInitiation></AbortIncompleteMultipartUpload></Rule>
    <Rule><ID>b</ID><Prefix>old/</Prefix><Status>Disabled</Status><Expiration><Date>2030-01-01T00:00:00.000Z</Date></Expiration></Rule>
    <Rule><Filter/><Status>Enabled</Status><Expiration><ExpiredObjectDeleteMarker>true</ExpiredObjectDeleteMarker></Expiration></Rule></LifecycleConfiguration>`
  const parsed = parseLifecycleConfiguration(Buffer.from(text))
  t.equal(parsed.rules.length, 3)
  t.same(parsed.rules[1]?.filter, { kind: 'rulePrefix', prefix: 'old/' })
  t.equal(parsed.rules[1]?.expiration?.dateMs, Date.UTC(2030, 0, 1))
  const again = parseLifecycleConfiguration(Buffer.from(xmlDocument('LifecycleConfiguration', lifecycleXml(parsed))))
  t.same(again, parsed, 'rendered XML parses back to the same configuration')
  for (const bad of [
    '<LifecycleConfiguration><Rule><Filter/><Status>On</Status><Expiration><Days>1</Days></Expiration></Rule></LifecycleConfiguration>',
    '<LifecycleConfiguration><Rule><Filter><Prefix>a</Prefix><Tag><Key>k</Key><Value>v</Value></Tag></Filter><Status>Enabled</Status><Expiration><Days>1</Days></Expiration></Rule></LifecycleConfiguration>',
    '<LifecycleConfiguration><Rule><Filter/><Prefix>x</Prefix><Status>Enabled</Status><Expiration><Days>1</Days></Expiration></Rule></LifecycleConfiguration>',
    '<LifecycleConfiguration><Rule><Filter/><Status>Enabled</Status><Expiration><Days>one</Days></Expiration></Rule></LifecycleConfiguration>',
    '<LifecycleConfiguration><Rule><Filter/><Status>Enabled</Status><Transition><Days>1</Days><StorageClass>STANDARD</StorageClass></Transition></Rule></LifecycleConfiguration>',
    '<LifecycleConfiguration><Rule><Filter/><Status>Enabled</Status><Bogus/></Rule></LifecycleConfiguration>',
  ]) {
    t.throws(() => parseLifecycleConfiguration(Buffer.from(bad)), { code: 'MalformedXML' })
  }
})

t.test('through the SDK against the real objects layer', async (t) => {
  const setup = await dataTestSetup()
  t.teardown(() => setup.cleanup())
  const s3 = await startTestS3(t, { objects: setup.objects })
  const client = s3.client()
  const bucket = 'edge-bucket'
  await setup.objects.createBucket(setup.root, bucket)
  const root = { accessKeyId: 'ROOTKEY', secretAccessKey: 'root-secret' }
  const rootClient = s3.client({ credentials: root })

  t.equal((await failure(rootClient.send(new GetBucketLifecycleConfigurationCommand({ Bucket: bucket })))).name, 'NoSuchLifecycleConfiguration')
  const noAction = await failure(rootClient.send(new PutBucketLifecycleConfigurationCommand({ Bucket: bucket, LifecycleConfiguration: { Rules: [{ ID: 'x', Status: 'Enabled', Filter: { Prefix: '' } }] } })))
  t.same(noAction, { name: 'InvalidRequest', status: 400 }, 'a rule without an action')
  const ia = await failure(rootClient.send(new PutBucketLifecycleConfigurationCommand({ Bucket: bucket, LifecycleConfiguration: { Rules: [{ ID: 'x', Status: 'Enabled', Filter: { Prefix: '' }, Transitions: [{ Days: 5, StorageClass: 'STANDARD_IA' }] }] } })))
  t.same(ia, { name: 'InvalidArgument', status: 400 }, 'STANDARD_IA before 30 days')
  await rootClient.send(new PutBucketLifecycleConfigurationCommand({
    Bucket: bucket,
    LifecycleConfiguration: { Rules: [{ ID: 'expire-tmp', Status: 'Enabled', Filter: { Prefix: 'tmp/' }, Expiration: { Days: 3 } }] },
  }))
  const got = await rootClient.send(new GetBucketLifecycleConfigurationCommand({ Bucket: bucket }))
  t.same(got.Rules?.map((rule) => [rule.ID, rule.Filter?.Prefix, rule.Expiration?.Days]), [['expire-tmp', 'tmp/', 3]])

  const put = await rootClient.send(new PutObjectCommand({ Bucket: bucket, Key: 'tmp/a', Body: 'temporary' }))
  t.match(put.Expiration, /^expiry-date="[A-Z][a-z]{2}, \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} GMT", rule-id="expire-tmp"$/, 'PUT answers x-amz-expiration')
  const head = await rootClient.send(new HeadObjectCommand({ Bucket: bucket, Key: 'tmp/a' }))
  t.equal(head.Expiration, put.Expiration, 'HEAD too')
  await rootClient.send(new DeleteBucketLifecycleCommand({ Bucket: bucket }))
  t.equal((await rootClient.send(new HeadObjectCommand({ Bucket: bucket, Key: 'tmp/a' }))).Expiration, undefined)

  await rootClient.send(new PutBucketEncryptionCommand({ Bucket: bucket, ServerSideEncryptionConfiguration: { Rules: [{ ApplyServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }] } }))
  const encryption = await rootClient.send(new GetBucketEncryptionCommand({ Bucket: bucket }))
  t.equal(encryption.ServerSideEncryptionConfiguration?.Rules?.[0]?.ApplyServerSideEncryptionByDefault?.SSEAlgorithm, 'AES256')
  const sealed = await rootClient.send(new PutObjectCommand({ Bucket: bucket, Key: 'sealed', Body: 'secret' }))
  t.equal(sealed.ServerSideEncryption, 'AES256', 'the bucket default shows on PUT')
  const kms = await rootClient.send(new PutObjectCommand({ Bucket: bucket, Key: 'kms', Body: 'secret', ServerSideEncryption: 'aws:kms', BucketKeyEnabled: true }))
  t.equal(kms.ServerSideEncryption, 'aws:kms')
  t.match(kms.SSEKMSKeyId, /^arn:aws:kms:us-east-1:000000000000:/)
  t.equal(kms.BucketKeyEnabled, true)
  const read = await rootClient.send(new GetObjectCommand({ Bucket: bucket, Key: 'kms' }))
  t.equal(read.ServerSideEncryption, 'aws:kms')
  t.equal(await read.Body?.transformToString(), 'secret')
  await rootClient.send(new DeleteBucketEncryptionCommand({ Bucket: bucket }))
  t.equal((await failure(rootClient.send(new GetBucketEncryptionCommand({ Bucket: bucket })))).name, 'ServerSideEncryptionConfigurationNotFoundError')

  const customerKey = createHash('sha256').update('k').digest()
  const overHttp = await failure(rootClient.send(new PutObjectCommand({ Bucket: bucket, Key: 'c', Body: 'x', SSECustomerAlgorithm: 'AES256', SSECustomerKey: customerKey.toString('base64') })))
  t.same(overHttp, { name: 'InvalidRequest', status: 400 }, 'SSE-C needs HTTPS, as on AWS')

  const rr = await rootClient.send(new PutObjectCommand({ Bucket: bucket, Key: 'rr', Body: 'x', StorageClass: 'REDUCED_REDUNDANCY' }))
  t.ok(rr.ETag)
  t.equal((await rootClient.send(new HeadObjectCommand({ Bucket: bucket, Key: 'rr' }))).StorageClass, undefined, 'REDUCED_REDUNDANCY is stored as STANDARD')

  // RestoreObject: 202, then 409 while in progress, x-amz-restore on HEAD, 200 once restored.
  await rootClient.send(new PutObjectCommand({ Bucket: bucket, Key: 'cold', Body: 'archived', StorageClass: 'GLACIER' }))
  t.equal((await failure(rootClient.send(new GetObjectCommand({ Bucket: bucket, Key: 'cold' })))).name, 'InvalidObjectState')
  const started = await rootClient.send(new RestoreObjectCommand({ Bucket: bucket, Key: 'cold', RestoreRequest: { Days: 1, GlacierJobParameters: { Tier: 'Expedited' } } }))
  t.equal(started.$metadata.httpStatusCode, 202)
  t.same(await failure(rootClient.send(new RestoreObjectCommand({ Bucket: bucket, Key: 'cold', RestoreRequest: { Days: 1 } }))), { name: 'RestoreAlreadyInProgress', status: 409 })
  t.equal((await rootClient.send(new HeadObjectCommand({ Bucket: bucket, Key: 'cold' }))).Restore, 'ongoing-request="true"')
  setup.clock.advance(100)
  await setup.objects.runBackgroundNow()
  const restored = await rootClient.send(new HeadObjectCommand({ Bucket: bucket, Key: 'cold' }))
  t.match(restored.Restore, /^ongoing-request="false", expiry-date="[^"]+ GMT"$/)
  t.equal(Date.parse(/expiry-date="([^"]+)"/.exec(restored.Restore ?? '')?.[1] ?? ''), Math.floor((setup.clock.nowMs() + testDayMs) / 1000) * 1000)
  t.equal(await (await rootClient.send(new GetObjectCommand({ Bucket: bucket, Key: 'cold' }))).Body?.transformToString(), 'archived')
  const again = await rootClient.send(new RestoreObjectCommand({ Bucket: bucket, Key: 'cold', RestoreRequest: { Days: 2 } }))
  t.equal(again.$metadata.httpStatusCode, 200, 'a restored copy: 200, expiry moved')
  const plain = await failure(rootClient.send(new RestoreObjectCommand({ Bucket: bucket, Key: 'rr', RestoreRequest: { Days: 1 } })))
  t.same(plain, { name: 'InvalidObjectState', status: 403 })

  // A test double without data management answers NotImplemented.
  const memory = await startTestS3(t)
  const response = await rawRequest(memory.url, { method: 'GET', path: '/anything', query: { lifecycle: '' } })
  t.equal(response.status, 501)
  t.equal(errorCode(response.body), 'NotImplemented')
  client.destroy()
})

t.test('listings report RestoreStatus when asked with x-amz-optional-object-attributes', async (t) => {
  const setup = await dataTestSetup()
  t.teardown(() => setup.cleanup())
  const s3 = await startTestS3(t, { objects: setup.objects })
  const client = s3.client({ credentials: { accessKeyId: 'ROOTKEY', secretAccessKey: 'root-secret' } })
  t.teardown(() => client.destroy())
  const bucket = 'restore-listing'
  await setup.objects.createBucket(setup.root, bucket)
  await client.send(new PutBucketVersioningCommand({ Bucket: bucket, VersioningConfiguration: { Status: 'Enabled' } }))
  for (const key of ['done', 'ongoing', 'untouched']) await client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: key, StorageClass: 'GLACIER' }))
  await client.send(new PutObjectCommand({ Bucket: bucket, Key: 'plain', Body: 'plain' }))
  await client.send(new RestoreObjectCommand({ Bucket: bucket, Key: 'done', RestoreRequest: { Days: 1, GlacierJobParameters: { Tier: 'Expedited' } } }))
  setup.clock.advance(100)
  await setup.objects.runBackgroundNow()
  await client.send(new RestoreObjectCommand({ Bucket: bucket, Key: 'ongoing', RestoreRequest: { Days: 1, GlacierJobParameters: { Tier: 'Bulk' } } }))
  const expiryMs = setup.clock.nowMs() + testDayMs
  const expected = {
    done: { IsRestoreInProgress: false, RestoreExpiryDate: new Date(expiryMs).toISOString() },
    ongoing: { IsRestoreInProgress: true },
    plain: undefined,
    untouched: undefined,
  }
  const statuses = (entries: Array<{ Key?: string; RestoreStatus?: { IsRestoreInProgress?: boolean; RestoreExpiryDate?: Date } }> | undefined) =>
    Object.fromEntries((entries ?? []).map((entry) => [entry.Key, entry.RestoreStatus === undefined ? undefined : {
      IsRestoreInProgress: entry.RestoreStatus.IsRestoreInProgress,
      ...(entry.RestoreStatus.RestoreExpiryDate === undefined ? {} : { RestoreExpiryDate: entry.RestoreStatus.RestoreExpiryDate.toISOString() }),
    }]))
  const v2 = await client.send(new ListObjectsV2Command({ Bucket: bucket, OptionalObjectAttributes: ['RestoreStatus'] }))
  t.same(statuses(v2.Contents), expected, 'ListObjectsV2')
  const v1 = await client.send(new ListObjectsCommand({ Bucket: bucket, OptionalObjectAttributes: ['RestoreStatus'] }))
  t.same(statuses(v1.Contents), expected, 'ListObjects')
  const versions = await client.send(new ListObjectVersionsCommand({ Bucket: bucket, OptionalObjectAttributes: ['RestoreStatus'] }))
  t.same(statuses(versions.Versions), expected, 'ListObjectVersions')
  const without = await client.send(new ListObjectsV2Command({ Bucket: bucket }))
  t.same(statuses(without.Contents), { done: undefined, ongoing: undefined, plain: undefined, untouched: undefined }, 'not asked: not reported')
  const response = await rawRequest(s3.url, { method: 'GET', path: `/${bucket}`, query: { 'list-type': '2' }, headers: { 'x-amz-optional-object-attributes': 'Owner' }, accessKeyId: 'ROOTKEY', secretKey: 'root-secret' })
  t.equal(response.status, 400)
  t.equal(errorCode(response.body), 'InvalidArgument', 'an unknown optional attribute')
})

t.test('Intelligent-Tiering archive configurations and the archive tiers through the SDK', async (t) => {
  const setup = await dataTestSetup()
  t.teardown(() => setup.cleanup())
  const s3 = await startTestS3(t, { objects: setup.objects })
  const client = s3.client({ credentials: { accessKeyId: 'ROOTKEY', secretAccessKey: 'root-secret' } })
  t.teardown(() => client.destroy())
  const bucket = 'tiering-config'
  await setup.objects.createBucket(setup.root, bucket)
  const put = (Id: string, Tierings: Array<{ AccessTier: 'ARCHIVE_ACCESS' | 'DEEP_ARCHIVE_ACCESS'; Days: number }>, Filter?: { Prefix?: string; Tag?: { Key: string; Value: string } }) =>
    client.send(new PutBucketIntelligentTieringConfigurationCommand({ Bucket: bucket, Id, IntelligentTieringConfiguration: { Id, Status: 'Enabled', Tierings, ...(Filter === undefined ? {} : { Filter }) } }))

  t.same(await failure(client.send(new GetBucketIntelligentTieringConfigurationCommand({ Bucket: bucket, Id: 'none' }))), { name: 'NoSuchConfiguration', status: 404 })
  t.same(await failure(put('short', [{ AccessTier: 'ARCHIVE_ACCESS', Days: 89 }])), { name: 'InvalidArgument', status: 400 }, 'ARCHIVE_ACCESS needs >= 90 days')
  t.same(await failure(put('short', [{ AccessTier: 'DEEP_ARCHIVE_ACCESS', Days: 179 }])), { name: 'InvalidArgument', status: 400 }, 'DEEP_ARCHIVE_ACCESS needs >= 180 days')
  t.same(await failure(put('long', [{ AccessTier: 'ARCHIVE_ACCESS', Days: 731 }])), { name: 'InvalidArgument', status: 400 }, 'at most 730 days')
  await put('logs', [{ AccessTier: 'ARCHIVE_ACCESS', Days: 90 }, { AccessTier: 'DEEP_ARCHIVE_ACCESS', Days: 180 }], { Prefix: 'logs/' })
  await put('tagged', [{ AccessTier: 'DEEP_ARCHIVE_ACCESS', Days: 365 }], { Tag: { Key: 'tier', Value: 'deep' } })
  const got = await client.send(new GetBucketIntelligentTieringConfigurationCommand({ Bucket: bucket, Id: 'logs' }))
  t.same(got.IntelligentTieringConfiguration, { Id: 'logs', Status: 'Enabled', Filter: { Prefix: 'logs/' }, Tierings: [{ Days: 90, AccessTier: 'ARCHIVE_ACCESS' }, { Days: 180, AccessTier: 'DEEP_ARCHIVE_ACCESS' }] })
  const listed = await client.send(new ListBucketIntelligentTieringConfigurationsCommand({ Bucket: bucket }))
  t.same(listed.IntelligentTieringConfigurationList?.map((entry) => entry.Id), ['logs', 'tagged'])
  t.equal(listed.IsTruncated, false)
  await client.send(new DeleteBucketIntelligentTieringConfigurationCommand({ Bucket: bucket, Id: 'tagged' }))
  t.same(await failure(client.send(new DeleteBucketIntelligentTieringConfigurationCommand({ Bucket: bucket, Id: 'tagged' }))), { name: 'NoSuchConfiguration', status: 404 })

  // An object under logs/ idle for 90 days goes to Archive Access: GET refused, HEAD says so.
  const body = Buffer.alloc(200_000, 7)
  await client.send(new PutObjectCommand({ Bucket: bucket, Key: 'logs/a', Body: body, StorageClass: 'INTELLIGENT_TIERING' }))
  await client.send(new PutObjectCommand({ Bucket: bucket, Key: 'other', Body: body, StorageClass: 'INTELLIGENT_TIERING' }))
  for (const stepMs of [1, 30 * testDayMs, 60 * testDayMs]) { // the first check, 30 days, 90 days
    setup.clock.advance(stepMs)
    await setup.objects.runBackgroundNow()
    await setup.objects.runBackgroundNow()
  }
  t.same(await failure(client.send(new GetObjectCommand({ Bucket: bucket, Key: 'logs/a' }))), { name: 'InvalidObjectState', status: 403 }, 'Archive Access: restore first')
  t.equal((await client.send(new HeadObjectCommand({ Bucket: bucket, Key: 'logs/a' }))).ArchiveStatus, 'ARCHIVE_ACCESS')
  t.equal((await client.send(new HeadObjectCommand({ Bucket: bucket, Key: 'other' }))).ArchiveStatus, undefined, 'no configuration matches: Archive Instant Access, no archive status')
  t.equal(await (await client.send(new GetObjectCommand({ Bucket: bucket, Key: 'other' }))).Body?.transformToString().then((text) => text.length), body.length)

  t.same(await failure(client.send(new RestoreObjectCommand({ Bucket: bucket, Key: 'logs/a', RestoreRequest: { Days: 1 } }))), { name: 'InvalidArgument', status: 400 }, 'no Days for INTELLIGENT_TIERING')
  t.same(await failure(client.send(new RestoreObjectCommand({ Bucket: bucket, Key: 'other', RestoreRequest: {} }))), { name: 'InvalidObjectState', status: 403 }, 'nothing to restore in Archive Instant Access')
  const started = await client.send(new RestoreObjectCommand({ Bucket: bucket, Key: 'logs/a', RestoreRequest: { GlacierJobParameters: { Tier: 'Expedited' } } }))
  t.equal(started.$metadata.httpStatusCode, 202)
  t.same(await failure(client.send(new RestoreObjectCommand({ Bucket: bucket, Key: 'logs/a', RestoreRequest: {} }))), { name: 'RestoreAlreadyInProgress', status: 409 })
  const during = await client.send(new HeadObjectCommand({ Bucket: bucket, Key: 'logs/a' }))
  t.same([during.ArchiveStatus, during.Restore], ['ARCHIVE_ACCESS', 'ongoing-request="true"'])
  const listing = await client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: 'logs/', OptionalObjectAttributes: ['RestoreStatus'] }))
  t.same(listing.Contents?.[0]?.RestoreStatus, { IsRestoreInProgress: true })
  setup.clock.advance(100)
  await setup.objects.runBackgroundNow()
  const after = await client.send(new HeadObjectCommand({ Bucket: bucket, Key: 'logs/a' }))
  t.same([after.ArchiveStatus, after.Restore, after.StorageClass], [undefined, undefined, 'INTELLIGENT_TIERING'], 'restored: Frequent Access again, no expiry')
  const read = await client.send(new GetObjectCommand({ Bucket: bucket, Key: 'logs/a' }))
  t.same(Buffer.from(await read.Body?.transformToByteArray() ?? new Uint8Array()), body, 'the bytes come back')
})
