// S3 wire errors. Every failure a client sees is an S3Error { code, status, message, details }:
// the AWS error code and HTTP status, plus the extra elements AWS puts in the error document
// (BucketName, Key, UploadId, Condition, ArgumentName, ...). Three sources become S3Errors here,
// each in one place:
//   - S3Error thrown by this folder (router, handlers);
//   - S3AuthError from src/s3/auth, src/s3/checksum and src/s3/chunked (already carry code and
//     status), also when they arrive as the `cause` of a StoreError (a digests() callback or a
//     body stream that failed inside the objects layer);
//   - StoreError from the objects layer, mapped by code and subject in one exhaustive switch.
// Anything else is not an S3Error: the caller treats it as a bug or an internal error.
import { assertNever, isStoreError, type StoreError } from '../lib/index.ts'
import { deleteMarkerOf } from '../objects/index.ts'
import { isS3AuthError, s3AuthErrorStatuses, type S3AuthError } from './auth/index.ts'

export const s3ErrorStatuses = {
  ...s3AuthErrorStatuses,
  AccessControlListNotSupported: 400,
  BadRequest: 400,
  BucketAlreadyExists: 409,
  BucketAlreadyOwnedByYou: 409,
  BucketNotEmpty: 409,
  ConditionalRequestConflict: 409,
  EntityTooLarge: 400,
  EntityTooSmall: 400,
  IllegalLocationConstraintException: 400,
  IllegalVersioningConfigurationException: 400,
  InsufficientStorage: 507,
  InternalError: 500,
  InvalidBucketName: 400,
  InvalidBucketState: 409,
  InvalidLocationConstraint: 400,
  InvalidEncryptionAlgorithmError: 400,
  InvalidObjectState: 403,
  InvalidPart: 400,
  InvalidPartNumber: 416,
  InvalidPartOrder: 400,
  InvalidRange: 416,
  InvalidStorageClass: 400,
  InvalidTag: 400,
  KeyTooLongError: 400,
  // The KMS errors S3 passes through for SSE-KMS (all 400 on AWS).
  'KMS.DisabledException': 400,
  'KMS.KMSInvalidStateException': 400,
  'KMS.NotFoundException': 400,
  MalformedXML: 400,
  MaxMessageLengthExceeded: 400,
  MetadataTooLarge: 400,
  MethodNotAllowed: 405,
  MissingRequestBodyError: 400,
  NoSuchBucket: 404,
  NoSuchKey: 404,
  NoSuchConfiguration: 404,
  NoSuchLifecycleConfiguration: 404,
  NoSuchTagSet: 404,
  NoSuchUpload: 404,
  NoSuchVersion: 404,
  NotImplemented: 501,
  NotModified: 304,
  OperationAborted: 409,
  PreconditionFailed: 412,
  RequestTimeout: 400,
  RestoreAlreadyInProgress: 409,
  ServerSideEncryptionConfigurationNotFoundError: 404,
  ServiceUnavailable: 503,
  TooManyBuckets: 400,
  TooManyConfigurations: 400,
  UnexpectedContent: 400,
} as const satisfies Record<string, number>

export type S3ErrorCode = keyof typeof s3ErrorStatuses

/** AWS's default message for each code we raise without a more specific one. */
const defaultMessages: Partial<Record<S3ErrorCode, string>> = {
  AccessDenied: 'Access Denied',
  BucketAlreadyExists: 'The requested bucket name is not available. The bucket namespace is shared by all users of the system. Please select a different name and try again.',
  BucketAlreadyOwnedByYou: 'Your previous request to create the named bucket succeeded and you already own it.',
  BucketNotEmpty: 'The bucket you tried to delete is not empty',
  ConditionalRequestConflict: 'The conditional request cannot succeed due to a conflicting operation against this resource.',
  InternalError: 'We encountered an internal error. Please try again.',
  InvalidBucketName: 'The specified bucket is not valid.',
  InvalidObjectState: 'The operation is not valid for the object\'s storage class',
  InvalidPart: 'One or more of the specified parts could not be found.  The part may not have been uploaded, or the specified entity tag may not match the part\'s entity tag.',
  InvalidPartOrder: 'The list of parts was not in ascending order. Parts must be ordered by part number.',
  InvalidRange: 'The requested range is not satisfiable',
  NoSuchBucket: 'The specified bucket does not exist',
  NoSuchKey: 'The specified key does not exist.',
  NoSuchTagSet: 'The TagSet does not exist',
  NoSuchUpload: 'The specified upload does not exist. The upload ID may be invalid, or the upload may have been aborted or completed.',
  NoSuchVersion: 'The specified version does not exist.',
  NotImplemented: 'A header or query you provided implies functionality that is not implemented.',
  NotModified: 'Not Modified',
  OperationAborted: 'A conflicting conditional operation is currently in progress against this resource. Please try again.',
  PreconditionFailed: 'At least one of the pre-conditions you specified did not hold',
  ServiceUnavailable: 'Please reduce your request rate.',
  InsufficientStorage: 'The server has no space left to store this object.',
}

export type S3ErrorDetails = Readonly<Record<string, string>>

export class S3Error extends Error {
  readonly code: S3ErrorCode
  readonly status: number
  readonly details: S3ErrorDetails
  /** Response headers AWS sends with this error (x-amz-delete-marker, x-amz-version-id, ...). */
  readonly headers: Readonly<Record<string, string>>
  constructor(code: S3ErrorCode, message?: string, options: { details?: S3ErrorDetails; headers?: Record<string, string>; cause?: unknown } = {}) {
    super(message ?? defaultMessages[code] ?? code, options.cause === undefined ? undefined : { cause: options.cause })
    this.name = 'S3Error'
    this.code = code
    this.status = s3ErrorStatuses[code]
    this.details = options.details ?? {}
    this.headers = options.headers ?? {}
  }
}

export function isS3Error(error: unknown, code?: S3ErrorCode): error is S3Error {
  return error instanceof S3Error && (code === undefined || error.code === code)
}

/** What the request was about, for the extra elements of the error document. */
export interface ErrorResource {
  readonly bucket?: string
  readonly key?: string
  readonly uploadId?: string
  readonly versionId?: string
}

/** An S3 error for any error an S3 request can fail with; undefined when it is not one (a bug or an unknown failure). */
export function toS3Error(error: unknown, resource: ErrorResource = {}): S3Error | undefined {
  if (error instanceof S3Error) return error
  const auth = authErrorIn(error)
  if (auth !== undefined) return new S3Error(auth.code, auth.message, { details: auth.details, cause: error })
  if (isStoreError(error)) return fromStoreError(error, resource)
  return undefined
}

/** The S3AuthError itself or the first one in its cause chain (errors raised under the objects layer). */
function authErrorIn(error: unknown): S3AuthError | undefined {
  let current: unknown = error
  for (let depth = 0; depth < 8 && current instanceof Error; depth++) {
    if (isS3AuthError(current)) return current
    current = current.cause
  }
  return undefined
}

/**
 * INVALID_ARGUMENT / LIMIT_EXCEEDED / INVALID_STATE messages may start with the AWS code that
 * applies ('EntityTooSmall: ...'): the objects layer's way to name it (see src/objects/api.ts).
 */
function hintedCode(message: string): S3ErrorCode | undefined {
  const match = /^([A-Z][A-Za-z]*(?:\.[A-Z][A-Za-z]*)?): /.exec(message)
  const name = match?.[1]
  return name !== undefined && name in s3ErrorStatuses ? (name as S3ErrorCode) : undefined
}

function withoutHint(message: string): string {
  return message.replace(/^[A-Z][A-Za-z]*(?:\.[A-Z][A-Za-z]*)?: /, '')
}

/** StoreError (code + subject, or the hint its message starts with) -> AWS code + status, with the elements and headers AWS adds. */
export function fromStoreError(error: StoreError, resource: ErrorResource): S3Error {
  const mapped = mapStoreError(error, resource)
  const marker = deleteMarkerOf(error)
  if (marker === undefined) return mapped
  // S3 tells the client it ran into a delete marker: 404 NoSuchKey for the latest version,
  // 405 MethodNotAllowed (Allow: DELETE) for a delete marker named by version id.
  const headers: Record<string, string> = { 'x-amz-delete-marker': 'true', 'x-amz-version-id': marker.versionId, 'last-modified': new Date(marker.lastModifiedMs).toUTCString() }
  if (mapped.code === 'MethodNotAllowed') headers.allow = 'DELETE'
  return new S3Error(mapped.code, mapped.message, { details: mapped.details, headers, cause: error })
}

function mapStoreError(error: StoreError, resource: ErrorResource): S3Error {
  const make = (code: S3ErrorCode, message?: string, details: Record<string, string> = {}) => new S3Error(code, message, { details, cause: error })
  const bucketName: Record<string, string> = resource.bucket === undefined ? {} : { BucketName: resource.bucket }
  const key: Record<string, string> = resource.key === undefined ? {} : { Key: resource.key }
  const hint = hintedCode(error.message)
  if (hint !== undefined) return hintedError(hint, error, { ...bucketName, ...key })
  switch (error.code) {
    case 'NOT_FOUND':
      switch (error.subject) {
        case 'bucket':
          return make('NoSuchBucket', undefined, bucketName)
        case 'version':
          return make('NoSuchVersion', undefined, { ...key, ...(resource.versionId === undefined ? {} : { VersionId: resource.versionId }) })
        case 'upload':
          return make('NoSuchUpload', undefined, resource.uploadId === undefined ? {} : { UploadId: resource.uploadId })
        case 'part':
          return make('InvalidPart')
        case 'user':
          return make('InvalidAccessKeyId', 'The AWS Access Key Id you provided does not exist in our records.')
        default:
          return make('NoSuchKey', undefined, key)
      }
    case 'ALREADY_EXISTS':
      // The CreateBucket handler decides between BucketAlreadyExists and ...OwnedByYou.
      return error.subject === 'bucket' ? make('BucketAlreadyExists', undefined, bucketName) : make('OperationAborted', error.message)
    case 'INVALID_ARGUMENT':
      return make('InvalidArgument', error.message)
    case 'LIMIT_EXCEEDED':
      return make(error.subject === 'bucket' ? 'TooManyBuckets' : 'EntityTooLarge', error.message)
    case 'PRECONDITION_FAILED':
      return make('PreconditionFailed', undefined, conditionOf(error.message))
    case 'NOT_MODIFIED':
      return make('NotModified')
    case 'NOT_EMPTY':
      return make('BucketNotEmpty', undefined, bucketName)
    case 'INVALID_RANGE':
      return make('InvalidRange', undefined, {})
    case 'INVALID_STATE':
      switch (error.subject) {
        case 'key':
        case 'version':
          return make('InvalidObjectState', error.message)
        case 'part':
          return make('InvalidPart', error.message)
        case 'upload':
          return make('NoSuchUpload', error.message)
        case 'bucket':
          return make('InvalidBucketState', error.message, bucketName)
        default:
          return make('InvalidRequest', error.message)
      }
    case 'BAD_DIGEST':
      return make('BadDigest', error.message)
    case 'ACCESS_DENIED':
      return make('AccessDenied')
    case 'NOT_IMPLEMENTED':
      return make('NotImplemented', error.message)
    case 'CONFLICT':
      return make(error.subject === 'bucket' ? 'OperationAborted' : 'ConditionalRequestConflict')
    case 'NO_SPACE':
      return make('InsufficientStorage')
    case 'ABORTED':
    case 'CLOSED':
    case 'LOCKED':
    case 'KEY_UNAVAILABLE':
      return make('ServiceUnavailable', 'The service is unavailable. Please retry.')
    case 'CHUNK_CORRUPT':
    case 'CHUNK_MISSING':
    case 'IO_ERROR':
      return make('InternalError')
    default:
      return assertNever(error.code, 'unmapped StoreError code')
  }
}

/** A hinted code keeps the message after the hint; bucket and key elements where AWS sends them. */
function hintedError(code: S3ErrorCode, error: StoreError, elements: Record<string, string>): S3Error {
  const details: Record<string, string> = {}
  if ((code === 'BucketAlreadyExists' || code === 'BucketAlreadyOwnedByYou' || code === 'InvalidBucketName' || code === 'NoSuchTagSet') && elements.BucketName !== undefined) details.BucketName = elements.BucketName
  if (code === 'KeyTooLongError' && elements.Key !== undefined) details.Key = elements.Key
  // Hints for which AWS has a fixed message keep AWS's message; the rest keep ours.
  const message = defaultMessages[code] !== undefined && code !== 'InvalidArgument' ? undefined : withoutHint(error.message)
  return new S3Error(code, message, { details, cause: error })
}

/** 'If-Match' / 'If-None-Match' / ... when the objects layer's message names the header. */
function conditionOf(message: string): Record<string, string> {
  const match = /\b(If-Match|If-None-Match|If-Modified-Since|If-Unmodified-Since|x-amz-copy-source-if-[a-z-]+)\b/i.exec(message)
  return match?.[1] === undefined ? {} : { Condition: match[1] }
}
