// Operation coverage with the real AWS SDK for JavaScript v3 (default checksum settings),
// in-process over the in-memory objects layer: multipart via lib-storage, copies, versioning and
// delete markers, DeleteObjects, tagging, listings with paging, presigned URLs, error names.
import { createHash, randomBytes } from 'node:crypto'
import { Readable } from 'node:stream'
import t, { type Test } from 'tap'
import {
  CopyObjectCommand, CreateBucketCommand, DeleteBucketCommand, DeleteObjectCommand, DeleteObjectsCommand, GetBucketLocationCommand,
  GetBucketVersioningCommand, GetObjectCommand, GetObjectTaggingCommand, HeadBucketCommand, HeadObjectCommand, ListBucketsCommand,
  ListObjectsCommand, ListObjectsV2Command, ListObjectVersionsCommand, PutBucketTaggingCommand, GetBucketTaggingCommand,
  PutBucketVersioningCommand, PutObjectCommand, PutObjectTaggingCommand, ListMultipartUploadsCommand, CreateMultipartUploadCommand,
  UploadPartCommand, UploadPartCopyCommand, CompleteMultipartUploadCommand, ListPartsCommand, AbortMultipartUploadCommand, S3ServiceException,
  type S3Client,
} from '@aws-sdk/client-s3'
import { Upload } from '@aws-sdk/lib-storage'
import { getSignedUrl } from '@aws-sdk/s3-request-presigner'
import { startTestS3, testBackends, type TestBackend } from './testing/harness.ts'

/** Every suite runs against the in-memory model and the real objects layer. */
function suite(name: string, body: (t: Test, backend: TestBackend) => Promise<void>): void {
  for (const backend of testBackends) t.test(`${name} (${backend})`, (t) => body(t, backend))
}

const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex')
const MiB = 1024 * 1024

async function body(client: S3Client, bucket: string, key: string, versionId?: string): Promise<Buffer> {
  const response = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key, ...(versionId === undefined ? {} : { VersionId: versionId }) }))
  return Buffer.from(await response.Body!.transformToByteArray())
}

async function rejectsWith(t: Test, promise: Promise<unknown>, name: string, status?: number): Promise<void> {
  try {
    await promise
    t.fail(`expected ${name}`)
  } catch (error) {
    t.ok(error instanceof S3ServiceException, `${name} is an S3ServiceException`)
    t.equal((error as S3ServiceException).name, name)
    if (status !== undefined) t.equal((error as S3ServiceException).$metadata.httpStatusCode, status)
  }
}

suite('buckets', async (t, backend) => {
  const s3 = await startTestS3(t, { backend })
  const client = s3.client()
  await client.send(new CreateBucketCommand({ Bucket: 'alpha' }))
  await client.send(new CreateBucketCommand({ Bucket: 'beta', CreateBucketConfiguration: { LocationConstraint: 'eu-west-1' } }))
  await rejectsWith(t, client.send(new CreateBucketCommand({ Bucket: 'alpha' })), 'BucketAlreadyOwnedByYou', 409)
  await rejectsWith(t, client.send(new CreateBucketCommand({ Bucket: 'Bad_Name' })), 'InvalidBucketName', 400)
  t.same((await client.send(new ListBucketsCommand({}))).Buckets?.map((bucket) => bucket.Name), ['alpha', 'beta'])
  t.equal((await client.send(new GetBucketLocationCommand({ Bucket: 'alpha' }))).LocationConstraint, undefined)
  t.equal((await client.send(new GetBucketLocationCommand({ Bucket: 'beta' }))).LocationConstraint, 'eu-west-1')
  t.equal((await client.send(new HeadBucketCommand({ Bucket: 'beta' }))).BucketRegion, 'eu-west-1')
  await rejectsWith(t, client.send(new HeadBucketCommand({ Bucket: 'gamma' })), 'NotFound', 404)
  await client.send(new PutBucketTaggingCommand({ Bucket: 'alpha', Tagging: { TagSet: [{ Key: 'team', Value: 'storage' }] } }))
  t.same((await client.send(new GetBucketTaggingCommand({ Bucket: 'alpha' }))).TagSet, [{ Key: 'team', Value: 'storage' }])
  await rejectsWith(t, client.send(new GetBucketTaggingCommand({ Bucket: 'beta' })), 'NoSuchTagSet', 404)
  await client.send(new PutObjectCommand({ Bucket: 'beta', Key: 'k', Body: 'x' }))
  await rejectsWith(t, client.send(new DeleteBucketCommand({ Bucket: 'beta' })), 'BucketNotEmpty', 409)
  await client.send(new DeleteObjectCommand({ Bucket: 'beta', Key: 'k' }))
  await client.send(new DeleteBucketCommand({ Bucket: 'beta' }))
  await rejectsWith(t, client.send(new GetObjectCommand({ Bucket: 'beta', Key: 'k' })), 'NoSuchBucket', 404)
  t.same(s3.bugs, [])
})

suite('multipart: lib-storage with a stream body, low-level calls, copy parts, list, abort', async (t, backend) => {
  const s3 = await startTestS3(t, { backend })
  const client = s3.client()
  await client.send(new CreateBucketCommand({ Bucket: 'multi' }))
  const data = randomBytes(12 * MiB + 123)
  const upload = new Upload({ client, params: { Bucket: 'multi', Key: 'big/object.bin', Body: Readable.from([data.subarray(0, 7 * MiB), data.subarray(7 * MiB)]) }, partSize: 5 * MiB, queueSize: 3 })
  const done = await upload.done()
  t.match(done.ETag, /^"[0-9a-f]{32}-3"$/)
  t.equal(sha256(await body(client, 'multi', 'big/object.bin')), sha256(data))
  const part2 = await client.send(new GetObjectCommand({ Bucket: 'multi', Key: 'big/object.bin', PartNumber: 2 }))
  t.equal(part2.PartsCount, 3)
  t.equal(part2.ContentRange, `bytes ${5 * MiB}-${10 * MiB - 1}/${data.length}`)
  await part2.Body!.transformToByteArray()

  const created = await client.send(new CreateMultipartUploadCommand({ Bucket: 'multi', Key: 'manual', ChecksumAlgorithm: 'CRC32', ContentType: 'text/plain', Metadata: { color: 'blue' } }))
  const uploadId = created.UploadId!
  const second = await client.send(new UploadPartCommand({ Bucket: 'multi', Key: 'manual', UploadId: uploadId, PartNumber: 2, Body: data.subarray(0, 1000), ChecksumAlgorithm: 'CRC32' }))
  const first = await client.send(new UploadPartCopyCommand({ Bucket: 'multi', Key: 'manual', UploadId: uploadId, PartNumber: 1, CopySource: 'multi/big/object.bin', CopySourceRange: `bytes=0-${5 * MiB - 1}` }))
  const parts = await client.send(new ListPartsCommand({ Bucket: 'multi', Key: 'manual', UploadId: uploadId }))
  t.same(parts.Parts?.map((part) => part.PartNumber), [1, 2])
  const uploads = await client.send(new ListMultipartUploadsCommand({ Bucket: 'multi' }))
  t.same(uploads.Uploads?.map((entry) => entry.Key), ['manual'])
  await rejectsWith(t, client.send(new CompleteMultipartUploadCommand({ Bucket: 'multi', Key: 'manual', UploadId: uploadId, MultipartUpload: { Parts: [{ PartNumber: 2, ETag: second.ETag }, { PartNumber: 1, ETag: first.CopyPartResult!.ETag }] } })), 'InvalidPartOrder', 400)
  const completed = await client.send(new CompleteMultipartUploadCommand({ Bucket: 'multi', Key: 'manual', UploadId: uploadId, MultipartUpload: { Parts: [{ PartNumber: 1, ETag: first.CopyPartResult!.ETag }, { PartNumber: 2, ETag: second.ETag }] } }))
  t.match(completed.ETag, /-2"$/)
  const manual = await body(client, 'multi', 'manual')
  t.equal(sha256(manual), sha256(Buffer.concat([data.subarray(0, 5 * MiB), data.subarray(0, 1000)])))
  const head = await client.send(new HeadObjectCommand({ Bucket: 'multi', Key: 'manual' }))
  t.equal(head.ContentType, 'text/plain')
  t.same(head.Metadata, { color: 'blue' })

  const aborted = await client.send(new CreateMultipartUploadCommand({ Bucket: 'multi', Key: 'gone' }))
  await client.send(new AbortMultipartUploadCommand({ Bucket: 'multi', Key: 'gone', UploadId: aborted.UploadId }))
  await rejectsWith(t, client.send(new ListPartsCommand({ Bucket: 'multi', Key: 'gone', UploadId: aborted.UploadId })), 'NoSuchUpload', 404)
  t.same(s3.bugs, [])
})

suite('copy, tagging, delete objects', async (t, backend) => {
  const s3 = await startTestS3(t, { backend })
  const client = s3.client()
  await client.send(new CreateBucketCommand({ Bucket: 'copies' }))
  const key = 'dir with space/ünïcödé+plus%percent'
  await client.send(new PutObjectCommand({ Bucket: 'copies', Key: key, Body: 'source', Metadata: { a: '1' }, Tagging: 'x=1&y=two%20words' }))
  t.same((await client.send(new GetObjectTaggingCommand({ Bucket: 'copies', Key: key }))).TagSet, [{ Key: 'x', Value: '1' }, { Key: 'y', Value: 'two words' }])
  t.equal((await client.send(new GetObjectCommand({ Bucket: 'copies', Key: key }))).TagCount, 2)
  const copied = await client.send(new CopyObjectCommand({ Bucket: 'copies', Key: 'copy', CopySource: `copies/${encodeURIComponent(key)}` }))
  t.ok(copied.CopyObjectResult?.ETag)
  t.equal((await body(client, 'copies', 'copy')).toString(), 'source')
  t.same((await client.send(new HeadObjectCommand({ Bucket: 'copies', Key: 'copy' }))).Metadata, { a: '1' })
  await client.send(new CopyObjectCommand({ Bucket: 'copies', Key: 'copy', CopySource: 'copies/copy', MetadataDirective: 'REPLACE', Metadata: { b: '2' }, ContentType: 'text/x-new' }))
  const replaced = await client.send(new HeadObjectCommand({ Bucket: 'copies', Key: 'copy' }))
  t.same(replaced.Metadata, { b: '2' })
  t.equal(replaced.ContentType, 'text/x-new')
  await rejectsWith(t, client.send(new CopyObjectCommand({ Bucket: 'copies', Key: 'copy', CopySource: 'copies/copy' })), 'InvalidRequest', 400)
  await rejectsWith(t, client.send(new CopyObjectCommand({ Bucket: 'copies', Key: 'x', CopySource: 'copies/copy', CopySourceIfNoneMatch: replaced.ETag })), 'PreconditionFailed', 412)
  await client.send(new PutObjectTaggingCommand({ Bucket: 'copies', Key: 'copy', Tagging: { TagSet: [{ Key: 'k', Value: 'v' }] } }))
  t.same((await client.send(new GetObjectTaggingCommand({ Bucket: 'copies', Key: 'copy' }))).TagSet, [{ Key: 'k', Value: 'v' }])

  const verbose = await client.send(new DeleteObjectsCommand({ Bucket: 'copies', Delete: { Objects: [{ Key: key }, { Key: 'missing' }] } }))
  t.same(verbose.Deleted?.map((entry) => entry.Key).sort(), [key, 'missing'].sort())
  const quiet = await client.send(new DeleteObjectsCommand({ Bucket: 'copies', Delete: { Quiet: true, Objects: [{ Key: 'copy' }] } }))
  t.equal(quiet.Deleted, undefined)
  t.equal((await client.send(new ListObjectsV2Command({ Bucket: 'copies' }))).KeyCount, 0)
  t.same(s3.bugs, [])
})

suite('versioning and delete markers', async (t, backend) => {
  const s3 = await startTestS3(t, { backend })
  const client = s3.client()
  await client.send(new CreateBucketCommand({ Bucket: 'versions' }))
  t.equal((await client.send(new GetBucketVersioningCommand({ Bucket: 'versions' }))).Status, undefined)
  await client.send(new PutBucketVersioningCommand({ Bucket: 'versions', VersioningConfiguration: { Status: 'Enabled' } }))
  t.equal((await client.send(new GetBucketVersioningCommand({ Bucket: 'versions' }))).Status, 'Enabled')
  const one = await client.send(new PutObjectCommand({ Bucket: 'versions', Key: 'k', Body: 'one' }))
  const two = await client.send(new PutObjectCommand({ Bucket: 'versions', Key: 'k', Body: 'two' }))
  t.ok(one.VersionId && two.VersionId && one.VersionId !== two.VersionId)
  t.equal((await body(client, 'versions', 'k', one.VersionId)).toString(), 'one')
  const deleted = await client.send(new DeleteObjectCommand({ Bucket: 'versions', Key: 'k' }))
  t.equal(deleted.DeleteMarker, true)
  try {
    await client.send(new GetObjectCommand({ Bucket: 'versions', Key: 'k' }))
    t.fail('expected NoSuchKey')
  } catch (error) {
    t.equal((error as S3ServiceException).name, 'NoSuchKey')
    t.equal((error as S3ServiceException).$response?.headers['x-amz-delete-marker'], 'true')
  }
  await rejectsWith(t, client.send(new GetObjectCommand({ Bucket: 'versions', Key: 'k', VersionId: deleted.VersionId })), 'MethodNotAllowed', 405)
  const versions = await client.send(new ListObjectVersionsCommand({ Bucket: 'versions' }))
  t.same(versions.Versions?.map((version) => [version.VersionId, version.IsLatest]), [[two.VersionId, false], [one.VersionId, false]])
  t.same(versions.DeleteMarkers?.map((marker) => [marker.VersionId, marker.IsLatest]), [[deleted.VersionId, true]])
  await client.send(new DeleteObjectCommand({ Bucket: 'versions', Key: 'k', VersionId: deleted.VersionId }))
  t.equal((await body(client, 'versions', 'k')).toString(), 'two')
  t.same(s3.bugs, [])
})

suite('listings: delimiter, common prefixes, paging V1 and V2, url encoding', async (t, backend) => {
  const s3 = await startTestS3(t, { backend })
  const client = s3.client()
  await client.send(new CreateBucketCommand({ Bucket: 'listing' }))
  const keys = ['a', 'a/b', 'a/c', 'b+plus', 'c d', 'photos/2024/x.jpg', 'photos/2025/y.jpg', 'z']
  for (const key of keys) await client.send(new PutObjectCommand({ Bucket: 'listing', Key: key, Body: key }))
  const top = await client.send(new ListObjectsV2Command({ Bucket: 'listing', Delimiter: '/' }))
  t.same(top.Contents?.map((entry) => entry.Key), ['a', 'b+plus', 'c d', 'z'])
  t.same(top.CommonPrefixes?.map((entry) => entry.Prefix), ['a/', 'photos/'])
  const seen: string[] = []
  let token: string | undefined
  do {
    const page = await client.send(new ListObjectsV2Command({ Bucket: 'listing', Delimiter: '/', MaxKeys: 1, ContinuationToken: token }))
    seen.push(...(page.Contents ?? []).map((entry) => entry.Key!), ...(page.CommonPrefixes ?? []).map((entry) => entry.Prefix!))
    token = page.NextContinuationToken
  } while (token !== undefined)
  t.same(seen, ['a', 'a/', 'b+plus', 'c d', 'photos/', 'z'], 'a token inside a common prefix never repeats it')
  const v1: string[] = []
  let marker: string | undefined
  for (;;) {
    const page = await client.send(new ListObjectsCommand({ Bucket: 'listing', MaxKeys: 3, Marker: marker }))
    v1.push(...(page.Contents ?? []).map((entry) => entry.Key!))
    if (page.IsTruncated !== true) break
    marker = page.NextMarker ?? page.Contents?.at(-1)?.Key
  }
  t.same(v1, keys)
  const started = await client.send(new ListObjectsV2Command({ Bucket: 'listing', StartAfter: 'c d', EncodingType: 'url' }))
  t.same(started.Contents?.map((entry) => decodeURIComponent(entry.Key!)), ['photos/2024/x.jpg', 'photos/2025/y.jpg', 'z'])
  t.same(s3.bugs, [])
})

suite('presigned URLs with fetch', async (t, backend) => {
  const s3 = await startTestS3(t, { backend })
  const client = s3.client()
  await client.send(new CreateBucketCommand({ Bucket: 'presign' }))
  const data = randomBytes(4096)
  const key = 'pre signed/ünï+%.bin'
  const putUrl = await getSignedUrl(client, new PutObjectCommand({ Bucket: 'presign', Key: key }), { expiresIn: 3600 })
  const put = await fetch(putUrl, { method: 'PUT', body: data })
  t.equal(put.status, 200, await put.text())
  const getUrl = await getSignedUrl(client, new GetObjectCommand({ Bucket: 'presign', Key: key }), { expiresIn: 7 * 24 * 3600 })
  const got = await fetch(getUrl)
  t.equal(sha256(Buffer.from(await got.arrayBuffer())), sha256(data))
  const tampered = await fetch(getUrl.replace('pre%20signed', 'pre%20signeX'))
  t.equal(tampered.status, 403)
  t.same(s3.bugs, [])
})
