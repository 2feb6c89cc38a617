// StoreError codes -> admin API HTTP status, in one exhaustive switch (a new code fails tsc
// here until someone decides its status).
import { assertNever, type StoreErrorCode } from '../lib/index.ts'

export function httpStatusOf(code: StoreErrorCode): number {
  switch (code) {
    case 'NOT_FOUND':
    case 'CHUNK_MISSING':
      return 404
    case 'ALREADY_EXISTS':
    case 'CONFLICT':
    case 'LOCKED':
      return 409
    case 'INVALID_ARGUMENT':
    case 'INVALID_RANGE':
    case 'BAD_DIGEST':
      return 400
    case 'ACCESS_DENIED':
      return 403
    case 'NOT_MODIFIED':
      return 304
    case 'PRECONDITION_FAILED':
      return 412
    case 'NOT_EMPTY':
    case 'INVALID_STATE':
      return 409
    case 'NOT_IMPLEMENTED':
      return 501
    case 'LIMIT_EXCEEDED':
      return 429
    case 'NO_SPACE':
      return 507
    case 'CLOSED':
    case 'KEY_UNAVAILABLE':
    case 'ABORTED': // the server is stopping and cancelled the operation
      return 503
    case 'CHUNK_CORRUPT':
    case 'IO_ERROR':
      return 500
    default:
      return assertNever(code, 'unmapped StoreError code')
  }
}
