import t from 'tap'
import { validateBucketName } from './validate.ts'
import { bodyOf, digestsFor, objectsTestSetup } from './testing.ts'

t.test('bucket names follow the AWS rules', async (t) => {
  for (const good of ['abc', 'my-bucket', 'my.bucket.name', 'a'.repeat(63), '1bucket', 'bucket1', 'xn-bucket']) {
    t.doesNotThrow(() => validateBucketName(good), good)
  }
  for (const bad of ['ab', 'a'.repeat(64), 'MyBucket', 'my_bucket', '-bucket', 'bucket-', '.bucket', 'bucket.', 'my..bucket', '192.168.5.4', 'xn--bucket', 'sthree-x', 'bucket-s3alias', 'bucket--ol-s3', 'bucket.mrap', 'bucket--x-s3', 'bücket', 'my bucket']) {
    t.throws(() => validateBucketName(bad), { code: 'INVALID_ARGUMENT', message: /^InvalidBucketName: / }, bad)
  }
})

t.test('create, head, list per owner, delete; access is per owner', async (t) => {
  const { objects, root, signal, cleanup } = await objectsTestSetup()
  t.teardown(cleanup)
  const alice = await objects.users.createUser('alice')
  const aliceRecord = await objects.users.lookupAccessKey(alice.accessKeyId)
  t.ok(aliceRecord !== undefined)
  const asAlice = aliceRecord!.principal
  t.equal(asAlice.isRoot, false)
  t.equal(aliceRecord?.secretKey, alice.secretKey)

  await objects.createBucket(root, 'root-bucket')
  await objects.createBucket(asAlice, 'alice-bucket', { region: 'eu-west-1' })
  await t.rejects(objects.createBucket(root, 'root-bucket'), { code: 'ALREADY_EXISTS', subject: 'bucket', message: /^BucketAlreadyOwnedByYou: / })
  await t.rejects(objects.createBucket(asAlice, 'root-bucket'), { code: 'ALREADY_EXISTS', subject: 'bucket', message: /^BucketAlreadyExists: / })
  await t.rejects(objects.createBucket(root, 'Bad_Name'), { code: 'INVALID_ARGUMENT', message: /^InvalidBucketName/ })
  t.same((await objects.listBuckets(root)).map((bucket) => bucket.name), ['root-bucket'], 'root sees its own buckets')
  const aliceBuckets = await objects.listBuckets(asAlice)
  t.same(aliceBuckets.map((bucket) => [bucket.name, bucket.region, bucket.owner, bucket.versioning]), [['alice-bucket', 'eu-west-1', alice.userId, 'Unversioned']])
  await t.rejects(objects.headBucket(asAlice, 'root-bucket'), { code: 'ACCESS_DENIED' })
  await t.rejects(objects.listObjects({ bucket: 'root-bucket', principal: asAlice, maxKeys: 10 }), { code: 'ACCESS_DENIED' })
  const bytes = Buffer.from('x')
  await t.rejects(objects.putObject({ bucket: 'root-bucket', key: 'k', principal: asAlice, body: bodyOf(bytes), digests: digestsFor(bytes), contentHeaders: {}, userMetadata: {}, signal }), { code: 'ACCESS_DENIED' })
  t.equal((await objects.headBucket(root, 'alice-bucket')).owner, alice.userId, 'root may use any bucket')
  await t.rejects(objects.headBucket(root, 'missing'), { code: 'NOT_FOUND', subject: 'bucket' })

  await objects.putObject({ bucket: 'alice-bucket', key: 'k', principal: asAlice, body: bodyOf(bytes), digests: digestsFor(bytes), contentHeaders: {}, userMetadata: {}, signal })
  await t.rejects(objects.deleteBucket(asAlice, 'alice-bucket'), { code: 'NOT_EMPTY', subject: 'bucket' })
  await t.rejects(objects.users.deleteUser('alice'), { code: 'NOT_EMPTY', subject: 'user' })
  await objects.putBucketVersioning(asAlice, 'alice-bucket', 'Enabled')
  await objects.deleteObject({ bucket: 'alice-bucket', key: 'k', principal: asAlice, signal })
  await t.rejects(objects.deleteBucket(asAlice, 'alice-bucket'), { code: 'NOT_EMPTY' }, 'noncurrent versions and delete markers keep a bucket')
  const versions = await objects.listObjectVersions({ bucket: 'alice-bucket', principal: asAlice, maxKeys: 10 })
  for (const version of versions.versions) await objects.deleteObject({ bucket: 'alice-bucket', key: version.key, versionId: version.versionId, principal: asAlice, signal })
  await objects.deleteBucket(asAlice, 'alice-bucket')
  t.same(await objects.listBuckets(asAlice), [])
  await objects.createBucket(root, 'alice-bucket')
  t.equal((await objects.headBucket(root, 'alice-bucket')).versioning, 'Unversioned', 'a recreated bucket starts fresh')
  await objects.users.deleteUser('alice')
  t.equal(await objects.users.lookupAccessKey(alice.accessKeyId), undefined)
  await t.rejects(objects.createBucket(asAlice, 'ghost-bucket'), { code: 'ACCESS_DENIED' }, 'a deleted user cannot create buckets with a stale principal')
})

t.test('bucket versioning and tagging', async (t) => {
  const { objects, root, cleanup } = await objectsTestSetup()
  t.teardown(cleanup)
  await objects.createBucket(root, 'tags')
  await t.rejects(objects.getBucketTagging(root, 'tags'), { code: 'NOT_FOUND', message: /^NoSuchTagSet/ })
  await objects.putBucketTagging(root, 'tags', [{ key: 'team', value: 'storage' }])
  t.same(await objects.getBucketTagging(root, 'tags'), [{ key: 'team', value: 'storage' }])
  await t.resolves(objects.putBucketTagging(root, 'tags', Array.from({ length: 50 }, (_, at) => ({ key: `k${at}`, value: '' }))))
  await t.rejects(objects.putBucketTagging(root, 'tags', Array.from({ length: 51 }, (_, at) => ({ key: `k${at}`, value: '' }))), { message: /^InvalidTag/ })
  await objects.deleteBucketTagging(root, 'tags')
  await t.rejects(objects.getBucketTagging(root, 'tags'), { code: 'NOT_FOUND' })
  await objects.putBucketVersioning(root, 'tags', 'Suspended')
  t.equal((await objects.headBucket(root, 'tags')).versioning, 'Suspended')
  await objects.putBucketVersioning(root, 'tags', 'Enabled')
  t.equal((await objects.headBucket(root, 'tags')).versioning, 'Enabled')
})

t.test('users: create, list, delete; root from the server credentials', async (t) => {
  const { objects, cleanup } = await objectsTestSetup()
  t.teardown(cleanup)
  const root = await objects.users.lookupAccessKey('ROOTKEY')
  t.same(root, { principal: { userId: 'root', accessKeyId: 'ROOTKEY', displayName: 'root', isRoot: true }, secretKey: 'root-secret' })
  objects.setRootCredentials({ accessKeyId: 'NEWROOT', secretKey: 'new-secret' })
  t.equal(await objects.users.lookupAccessKey('ROOTKEY'), undefined)
  t.equal((await objects.users.lookupAccessKey('NEWROOT'))?.principal.userId, 'root', 'root keeps its user id across credential changes')
  const bob = await objects.users.createUser('bob')
  t.match(bob.accessKeyId, /^AKIA[A-Z2-7]{16}$/)
  t.match(bob.secretKey, /^[A-Za-z0-9+/]{40}$/)
  t.match(bob.userId, /^AIDA/)
  await objects.users.createUser('carol')
  await t.rejects(objects.users.createUser('bob'), { code: 'ALREADY_EXISTS', subject: 'user' })
  await t.rejects(objects.users.createUser('root'), { code: 'INVALID_ARGUMENT' })
  await t.rejects(objects.users.createUser('bad name'), { code: 'INVALID_ARGUMENT' })
  await t.rejects(objects.users.createUser(''), { code: 'INVALID_ARGUMENT' })
  const users = await objects.users.listUsers()
  t.same(users.map((user) => [user.name, user.accessKeyIds.length]), [['bob', 1], ['carol', 1]])
  t.notOk(JSON.stringify(users).includes(bob.secretKey), 'listing never shows a secret')
  await objects.users.deleteUser('bob')
  await t.rejects(objects.users.deleteUser('bob'), { code: 'NOT_FOUND', subject: 'user' })
  t.same((await objects.users.listUsers()).map((user) => user.name), ['carol'])
  t.equal(await objects.users.lookupAccessKey('nope'), undefined)
})

t.test('a closed layer refuses calls', async (t) => {
  const { objects, root, cleanup } = await objectsTestSetup()
  t.teardown(cleanup)
  await objects.close()
  await t.rejects(objects.listBuckets(root), { code: 'CLOSED' })
})
