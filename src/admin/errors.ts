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
      return 400
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
