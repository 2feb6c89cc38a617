import t from 'tap'
import { parseQuery, resolveAddressing, route, splitTarget, virtualHostBucket } from './router.ts'

const routeOf = (method: string, url: string, options: { host?: string; copySource?: boolean; domains?: string[] } = {}) => {
  const { rawPath, rawQuery } = splitTarget(url)
  return route(method, resolveAddressing(options.host, rawPath, options.domains ?? []), parseQuery(rawQuery), { copySource: options.copySource ?? false })
}

t.test('path-style addressing decodes once and never normalises', async (t) => {
  t.same(resolveAddressing(undefined, '/', []), { style: 'path' })
  t.same(resolveAddressing(undefined, '/b', []), { style: 'path', bucket: 'b' })
  t.same(resolveAddressing(undefined, '/b/', []), { style: 'path', bucket: 'b' })
  t.same(resolveAddressing(undefined, '/b/a%20b+c%25d', []), { style: 'path', bucket: 'b', key: 'a b+c%d' })
  t.same(resolveAddressing(undefined, '/b//x/./../y', []), { style: 'path', bucket: 'b', key: '/x/./../y' })
  t.same(resolveAddressing(undefined, '/b/caf%C3%A9', []), { style: 'path', bucket: 'b', key: 'café' })
  t.throws(() => resolveAddressing(undefined, '/b/%ZZ', []), { code: 'InvalidURI' })
  t.throws(() => resolveAddressing(undefined, '/b/%C3', []), { code: 'InvalidURI' })
  t.throws(() => resolveAddressing(undefined, `/b/${'k'.repeat(1025)}`, []), { code: 'KeyTooLongError' })
})

t.test('virtual-host addressing under a base domain', async (t) => {
  t.equal(virtualHostBucket('photos.s3.example.com:9000', ['s3.example.com']), 'photos')
  t.equal(virtualHostBucket('my.dotted.bucket.s3.example.com', ['s3.example.com']), 'my.dotted.bucket')
  t.equal(virtualHostBucket('s3.example.com', ['s3.example.com']), undefined)
  t.equal(virtualHostBucket('127.0.0.1:9000', ['s3.example.com']), undefined)
  t.same(resolveAddressing('photos.s3.example.com', '/a//b', ['s3.example.com']), { style: 'virtual-host', bucket: 'photos', key: 'a//b' })
  t.same(resolveAddressing('photos.s3.example.com', '/', ['s3.example.com']), { style: 'virtual-host', bucket: 'photos' })
  t.same(resolveAddressing('s3.example.com', '/photos/k', ['s3.example.com']), { style: 'path', bucket: 'photos', key: 'k' })
})

t.test('operations by method, level and subresource', async (t) => {
  t.equal(routeOf('GET', '/').kind, 'ListBuckets')
  t.throws(() => routeOf('PUT', '/'), { code: 'MethodNotAllowed' })
  t.equal(routeOf('PUT', '/b').kind, 'CreateBucket')
  t.equal(routeOf('HEAD', '/b').kind, 'HeadBucket')
  t.equal(routeOf('DELETE', '/b').kind, 'DeleteBucket')
  t.equal(routeOf('GET', '/b').kind, 'ListObjects')
  t.equal(routeOf('GET', '/b?list-type=2&x-id=ListObjectsV2').kind, 'ListObjectsV2')
  t.equal(routeOf('GET', '/b?versions').kind, 'ListObjectVersions')
  t.equal(routeOf('GET', '/b?uploads').kind, 'ListMultipartUploads')
  t.equal(routeOf('GET', '/b?location').kind, 'GetBucketLocation')
  t.equal(routeOf('PUT', '/b?versioning').kind, 'PutBucketVersioning')
  t.equal(routeOf('DELETE', '/b?tagging').kind, 'DeleteBucketTagging')
  t.equal(routeOf('POST', '/b?delete').kind, 'DeleteObjects')
  t.equal(routeOf('GET', '/b/k?x-id=GetObject').kind, 'GetObject')
  t.equal(routeOf('HEAD', '/b/k').kind, 'HeadObject')
  t.equal(routeOf('PUT', '/b/k').kind, 'PutObject')
  t.equal(routeOf('PUT', '/b/k', { copySource: true }).kind, 'CopyObject')
  t.equal(routeOf('DELETE', '/b/k?versionId=v1').kind, 'DeleteObject')
  t.equal(routeOf('POST', '/b/k?uploads').kind, 'CreateMultipartUpload')
  t.same(routeOf('PUT', '/b/k?partNumber=3&uploadId=u'), { kind: 'UploadPart', bucket: 'b', key: 'k', uploadId: 'u', partNumber: 3 })
  t.equal(routeOf('PUT', '/b/k?partNumber=3&uploadId=u', { copySource: true }).kind, 'UploadPartCopy')
  t.equal(routeOf('POST', '/b/k?uploadId=u').kind, 'CompleteMultipartUpload')
  t.equal(routeOf('DELETE', '/b/k?uploadId=u').kind, 'AbortMultipartUpload')
  t.equal(routeOf('GET', '/b/k?uploadId=u').kind, 'ListParts')
  t.equal(routeOf('GET', '/b/k?tagging').kind, 'GetObjectTagging')
  t.equal(routeOf('GET', '/b/k?acl').kind, 'GetObjectAcl')
  t.throws(() => routeOf('POST', '/b/k'), { code: 'MethodNotAllowed' })
  t.throws(() => routeOf('PATCH', '/b'), { code: 'MethodNotAllowed' })
})

t.test('recognised but unsupported subresources are NotImplemented, never another operation', async (t) => {
  for (const [url, method, operation] of [
    ['/b?policy', 'GET', 'GetBucketPolicy'],
    ['/b?policy', 'PUT', 'PutBucketPolicy'],
    ['/b?cors', 'DELETE', 'DeleteBucketCors'],
    ['/b/k?lifecycle', 'PUT', 'PutBucketLifecycleConfiguration'], // on a bucket: data-management.ts
    ['/b/k?encryption', 'GET', 'GetBucketEncryption'],
    ['/b?object-lock', 'GET', 'GetObjectLockConfiguration'],
    ['/b?website', 'GET', 'GetBucketWebsite'],
    ['/b?logging', 'GET', 'GetBucketLogging'],
    ['/b?notification', 'GET', 'GetBucketNotificationConfiguration'],
    ['/b?replication', 'GET', 'GetBucketReplication'],
    ['/b/k?select&select-type=2', 'POST', 'SelectObjectContent'],
    ['/b?restore', 'POST', 'RestoreObject'], // on an object: data-management.ts
    ['/b/k?attributes', 'GET', 'GetObjectAttributes'],
    ['/b/k?legal-hold', 'PUT', 'PutObjectLegalHold'],
    ['/b/k?retention', 'GET', 'GetObjectRetention'],
    ['/b/k?torrent', 'GET', 'GetObjectTorrent'],
    ['/b', 'POST', 'PostObject'],
  ] as const) {
    t.same(routeOf(method, url), { kind: 'NotImplemented', operation, bucket: 'b', ...(url.startsWith('/b/k') ? { key: 'k' } : {}) }, `${method} ${url}`)
  }
})

t.test('query parameters are validated with AWS errors', async (t) => {
  t.throws(() => routeOf('GET', '/b?max-keys=-1'), { code: 'InvalidArgument' })
  t.throws(() => routeOf('GET', '/b?max-keys=abc'), { code: 'InvalidArgument' })
  t.match(routeOf('GET', '/b?max-keys=5000'), { maxKeys: 1000 })
  t.match(routeOf('GET', '/b?list-type=2'), { maxKeys: 1000, fetchOwner: false, encodingType: undefined })
  t.throws(() => routeOf('GET', '/b?list-type=3'), { code: 'InvalidArgument' })
  t.throws(() => routeOf('GET', '/b?encoding-type=base64'), { code: 'InvalidArgument' })
  t.throws(() => routeOf('GET', '/b/k?partNumber=0'), { code: 'InvalidArgument' })
  t.throws(() => routeOf('PUT', '/b/k?partNumber=10001&uploadId=u'), { code: 'InvalidArgument' })
  t.throws(() => routeOf('PUT', '/b/k?uploadId=u'), { code: 'InvalidArgument' })
  t.throws(() => routeOf('GET', '/b/k?versionId='), { code: 'InvalidArgument' })
  t.throws(() => routeOf('GET', '/b?versions&version-id-marker=v'), { code: 'InvalidArgument' })
  t.match(routeOf('GET', '/b/k?response-content-type=text%2Fplain&partNumber=2'), { partNumber: 2, overrides: { contentType: 'text/plain' } })
  t.match(routeOf('GET', '/b?prefix=a%2Bb+c&delimiter=%2F&encoding-type=url'), { prefix: 'a+b c', delimiter: '/', encodingType: 'url' })
})
