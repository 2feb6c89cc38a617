// The one place where storage errors become NBD wire errors: StoreError code -> NBD errno for
// transmission replies, and -> NBD_REP_ERR_* for option replies during the handshake. Both
// switches are exhaustive over the closed StoreErrorCode union, so a new code fails to compile
// here until someone decides what a client sees.
//
// Only StoreError is mapped. Anything else thrown by an export is a bug: the caller reports it
// (onBug) and ends the connection; it is never turned into an errno silently.
import { assertNever, type StoreError, type StoreErrorCode } from '../lib/index.ts'
import {
  NBD_EINVAL, NBD_EIO, NBD_ENOSPC, NBD_ENOTSUP, NBD_EPERM, NBD_ESHUTDOWN,
  NBD_REP_ERR_INVALID, NBD_REP_ERR_POLICY, NBD_REP_ERR_SHUTDOWN, NBD_REP_ERR_UNKNOWN,
  type NbdErrno,
} from './protocol.ts'

/** NBD errno for a StoreError raised while serving a transmission request. */
export function nbdErrnoFor(code: StoreErrorCode): NbdErrno {
  switch (code) {
    case 'INVALID_ARGUMENT':
    case 'INVALID_RANGE':
      return NBD_EINVAL
    case 'NO_SPACE':
    case 'LIMIT_EXCEEDED': // a quota is the EDQUOT case, which the spec maps to ENOSPC
      return NBD_ENOSPC
    case 'ACCESS_DENIED': // a write to a read-only export or snapshot
      return NBD_EPERM
    case 'NOT_IMPLEMENTED': // e.g. a FAST_ZERO write-zeroes that would not be fast
      return NBD_ENOTSUP
    case 'ABORTED':
    case 'CLOSED':
      return NBD_ESHUTDOWN
    case 'IO_ERROR':
    case 'CHUNK_CORRUPT':
    case 'CHUNK_MISSING':
    case 'KEY_UNAVAILABLE':
    case 'LOCKED':
    case 'CONFLICT':
    case 'NOT_FOUND': // the volume vanished under an attached export
    case 'ALREADY_EXISTS':
    case 'INVALID_STATE':
    case 'PRECONDITION_FAILED':
    case 'NOT_MODIFIED':
    case 'NOT_EMPTY':
    case 'BAD_DIGEST':
      return NBD_EIO
    default:
      return assertNever(code, 'unmapped StoreError code')
  }
}

/** NBD_REP_ERR_* for a StoreError raised while opening or describing an export (INFO/GO). */
export function optionErrorFor(code: StoreErrorCode): number {
  switch (code) {
    case 'NOT_FOUND':
      return NBD_REP_ERR_UNKNOWN
    case 'INVALID_STATE': // attached by another client, and not multi-attach
    case 'ACCESS_DENIED':
    case 'LIMIT_EXCEEDED':
      return NBD_REP_ERR_POLICY
    case 'INVALID_ARGUMENT':
    case 'INVALID_RANGE':
      return NBD_REP_ERR_INVALID
    case 'ABORTED':
    case 'CLOSED':
      return NBD_REP_ERR_SHUTDOWN
    // The export exists but cannot be served now: "the requested export is not available".
    case 'IO_ERROR':
    case 'CHUNK_CORRUPT':
    case 'CHUNK_MISSING':
    case 'KEY_UNAVAILABLE':
    case 'LOCKED':
    case 'CONFLICT':
    case 'NO_SPACE':
    case 'ALREADY_EXISTS':
    case 'PRECONDITION_FAILED':
    case 'NOT_MODIFIED':
    case 'NOT_EMPTY':
    case 'BAD_DIGEST':
    case 'NOT_IMPLEMENTED':
      return NBD_REP_ERR_UNKNOWN
    default:
      return assertNever(code, 'unmapped StoreError code')
  }
}

/** A message for the client: the error's own text (StoreError messages are written for users). */
export function clientMessage(error: StoreError): string {
  return error.message
}
