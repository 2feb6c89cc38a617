import t from 'tap'
import { StoreError, storeErrorCodes } from '../lib/index.ts'
import { ObjectsError } from '../objects/index.ts'
import { S3AuthError } from './auth/index.ts'
import { fromStoreError, toS3Error } from './errors.ts'

t.test('StoreError code + subject -> AWS code and status', async (t) => {
  const cases: Array<[StoreError, string, number]> = [
    [new StoreError('NOT_FOUND', 'x', { subject: 'bucket' }), 'NoSuchBucket', 404],
    [new StoreError('NOT_FOUND', 'x', { subject: 'key' }), 'NoSuchKey', 404],
    [new StoreError('NOT_FOUND', 'x', { subject: 'version' }), 'NoSuchVersion', 404],
    [new StoreError('NOT_FOUND', 'x', { subject: 'upload' }), 'NoSuchUpload', 404],
    [new StoreError('ALREADY_EXISTS', 'x', { subject: 'bucket' }), 'BucketAlreadyExists', 409],
    [new StoreError('ALREADY_EXISTS', 'BucketAlreadyOwnedByYou: yours', { subject: 'bucket' }), 'BucketAlreadyOwnedByYou', 409],
    [new StoreError('NOT_EMPTY', 'x', { subject: 'bucket' }), 'BucketNotEmpty', 409],
    [new StoreError('PRECONDITION_FAILED', 'x (If-Match)'), 'PreconditionFailed', 412],
    [new StoreError('NOT_MODIFIED', 'x'), 'NotModified', 304],
    [new StoreError('CONFLICT', 'x', { subject: 'key' }), 'ConditionalRequestConflict', 409],
    [new StoreError('INVALID_RANGE', 'x'), 'InvalidRange', 416],
    [new StoreError('BAD_DIGEST', 'x'), 'BadDigest', 400],
    [new StoreError('INVALID_ARGUMENT', 'x'), 'InvalidArgument', 400],
    [new StoreError('INVALID_ARGUMENT', 'EntityTooSmall: too small'), 'EntityTooSmall', 400],
    [new StoreError('INVALID_ARGUMENT', 'InvalidPartOrder: order'), 'InvalidPartOrder', 400],
    [new StoreError('INVALID_STATE', 'x', { subject: 'key' }), 'InvalidObjectState', 403],
    [new StoreError('INVALID_STATE', 'x', { subject: 'part' }), 'InvalidPart', 400],
    [new StoreError('INVALID_STATE', 'MethodNotAllowed: delete marker', { subject: 'version' }), 'MethodNotAllowed', 405],
    [new StoreError('ACCESS_DENIED', 'x'), 'AccessDenied', 403],
    [new StoreError('NOT_IMPLEMENTED', 'x'), 'NotImplemented', 501],
    [new StoreError('NO_SPACE', 'x'), 'InsufficientStorage', 507],
    [new StoreError('IO_ERROR', 'x'), 'InternalError', 500],
    [new StoreError('CLOSED', 'x'), 'ServiceUnavailable', 503],
  ]
  for (const [error, code, status] of cases) {
    const mapped = fromStoreError(error, { bucket: 'b', key: 'k' })
    t.equal(mapped.code, code, error.message)
    t.equal(mapped.status, status, code)
  }
  t.same(fromStoreError(new StoreError('NOT_FOUND', 'x', { subject: 'bucket' }), { bucket: 'b' }).details, { BucketName: 'b' })
  t.same(fromStoreError(new StoreError('NOT_FOUND', 'x', { subject: 'key' }), { bucket: 'b', key: 'k' }).details, { Key: 'k' })
  t.same(fromStoreError(new StoreError('PRECONDITION_FAILED', 'did not hold (If-None-Match)'), {}).details, { Condition: 'If-None-Match' })
  t.equal(fromStoreError(new StoreError('INVALID_ARGUMENT', 'EntityTooSmall: too small'), {}).message.startsWith('EntityTooSmall'), false, 'the hint is not part of the message')
})

t.test('every StoreError code maps to an S3 error', async (t) => {
  for (const code of storeErrorCodes) t.ok(fromStoreError(new StoreError(code, 'x'), {}).status >= 300, code)
})

t.test('delete markers add x-amz-delete-marker', async (t) => {
  const error = new ObjectsError('NOT_FOUND', 'x', { subject: 'key', deleteMarker: { versionId: 'v9', lastModifiedMs: 0 } })
  t.match(fromStoreError(error, {}).headers, { 'x-amz-delete-marker': 'true', 'x-amz-version-id': 'v9' })
  const named = new ObjectsError('INVALID_STATE', 'marker', { subject: 'version', hint: 'MethodNotAllowed', deleteMarker: { versionId: 'v9', lastModifiedMs: 0 } })
  t.match(fromStoreError(named, {}), { code: 'MethodNotAllowed', status: 405, headers: { allow: 'DELETE' } })
})

t.test('S3AuthError, also as the cause of a StoreError, keeps its code and details', async (t) => {
  const auth = new S3AuthError('XAmzContentSHA256Mismatch', 'mismatch', { details: { ClientComputedContentSHA256: 'a' } })
  t.match(toS3Error(auth), { code: 'XAmzContentSHA256Mismatch', status: 400, details: { ClientComputedContentSHA256: 'a' } })
  t.match(toS3Error(new StoreError('BAD_DIGEST', 'wrapped', { cause: auth })), { code: 'XAmzContentSHA256Mismatch' })
  t.equal(toS3Error(new Error('plain')), undefined)
})
