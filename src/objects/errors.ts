// Errors of the objects layer: StoreError with a code, a subject and, where S3 has a code the
// pair does not determine, a hint at the start of the message ('EntityTooSmall: ...'; the
// S3ErrorHint union in api.ts). ObjectsError adds what the edge needs for response headers of
// a failed request: the delete marker a GET/HEAD ran into.
import { StoreError, type StoreErrorCode, type StoreErrorSubject } from '../lib/index.ts'
import type { S3ErrorHint, VersionId } from './api.ts'

export interface DeleteMarkerInfo {
  readonly versionId: VersionId
  readonly lastModifiedMs: number
}

export class ObjectsError extends StoreError {
  readonly hint: S3ErrorHint | undefined
  /** Set when the request ran into a delete marker (x-amz-delete-marker: true). */
  readonly deleteMarker: DeleteMarkerInfo | undefined
  constructor(
    code: StoreErrorCode,
    message: string,
    options: { subject?: StoreErrorSubject; hint?: S3ErrorHint; deleteMarker?: DeleteMarkerInfo; cause?: unknown } = {},
  ) {
    super(code, options.hint === undefined ? message : `${options.hint}: ${message}`, {
      ...(options.subject === undefined ? {} : { subject: options.subject }),
      ...(options.cause === undefined ? {} : { cause: options.cause }),
    })
    this.name = 'ObjectsError'
    this.hint = options.hint
    this.deleteMarker = options.deleteMarker
  }
}

/** The delete marker a failed GET/HEAD/tagging call ran into, if any. */
export function deleteMarkerOf(error: unknown): DeleteMarkerInfo | undefined {
  return error instanceof ObjectsError ? error.deleteMarker : undefined
}

export function invalidArgument(hint: S3ErrorHint, message: string): ObjectsError {
  return new ObjectsError('INVALID_ARGUMENT', message, { hint })
}

export function noSuchBucket(name: string): ObjectsError {
  return new ObjectsError('NOT_FOUND', `bucket ${name} does not exist`, { subject: 'bucket' })
}

export function noSuchKey(bucket: string, key: string, deleteMarker?: DeleteMarkerInfo): ObjectsError {
  return new ObjectsError('NOT_FOUND', `key ${key} does not exist in bucket ${bucket}`, { subject: 'key', ...(deleteMarker === undefined ? {} : { deleteMarker }) })
}

export function noSuchVersion(key: string, versionId: string): ObjectsError {
  return new ObjectsError('NOT_FOUND', `version ${versionId} of key ${key} does not exist`, { subject: 'version' })
}

export function noSuchUpload(uploadId: string): ObjectsError {
  return new ObjectsError('NOT_FOUND', `upload ${uploadId} does not exist (aborted, completed or never created)`, { subject: 'upload' })
}

export function invalidVersionId(versionId: string): ObjectsError {
  return invalidArgument('InvalidArgument', `Invalid version id specified: ${versionId}`)
}

export function preconditionFailed(header: string): ObjectsError {
  return new ObjectsError('PRECONDITION_FAILED', `At least one of the pre-conditions you specified did not hold (${header})`)
}
