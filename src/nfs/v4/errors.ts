// NFSv4 errors: Nfs4Error carries an nfsstat4 out of an operation; statusOf maps everything an
// operation can throw to one, in one exhaustive switch over StoreError codes (the table is in
// src/files/api.ts). Bugs (AssertionError/TypeError) are not mapped: they propagate to the RPC
// layer, which answers SYSTEM_ERR and reports them.
import { assertNever, isStoreError, type StoreError } from '../../lib/index.ts'
import { FileError, type FileErrorReason } from '../../files/api.ts'
import { isXdrDecodeError } from '../xdr.ts'
import { isBug } from '../rpc.ts'
import { status, type NfsStatus } from './constants.ts'

export class Nfs4Error extends Error {
  readonly status: NfsStatus
  constructor(nfsStatus: NfsStatus, message?: string) {
    super(message ?? `NFS4 status ${nfsStatus}`)
    this.name = 'Nfs4Error'
    this.status = nfsStatus
  }
}

export function nfsError(nfsStatus: NfsStatus, message?: string): never {
  throw new Nfs4Error(nfsStatus, message)
}

function reasonStatus(reason: FileErrorReason): NfsStatus {
  switch (reason) {
    case 'not-directory': return status.NOTDIR
    case 'is-directory': return status.ISDIR
    case 'not-symlink': return status.INVAL
    case 'not-owner': return status.PERM
    case 'read-only': return status.ROFS
    case 'cross-filesystem': return status.XDEV
    case 'too-many-links': return status.MLINK
    case 'name-too-long': return status.NAMETOOLONG
    case 'invalid-name': return status.BADNAME
    case 'file-too-large': return status.FBIG
    default: return assertNever(reason, 'file error reason')
  }
}

export function storeErrorStatus(error: StoreError): NfsStatus {
  if (error instanceof FileError) return reasonStatus(error.reason)
  switch (error.code) {
    case 'NOT_FOUND': return error.subject === 'entry' ? status.NOENT : status.STALE
    case 'ALREADY_EXISTS': return status.EXIST
    case 'NOT_EMPTY': return status.NOTEMPTY
    case 'ACCESS_DENIED': return status.ACCESS
    case 'NO_SPACE': return status.NOSPC
    case 'LIMIT_EXCEEDED': return status.DQUOT
    case 'INVALID_ARGUMENT':
    case 'INVALID_RANGE': return status.INVAL
    case 'PRECONDITION_FAILED': return status.NOT_SAME
    case 'CONFLICT':
    case 'LOCKED':
    case 'INVALID_STATE':
    case 'CLOSED':
    case 'ABORTED': return status.DELAY
    case 'IO_ERROR':
    case 'CHUNK_CORRUPT':
    case 'CHUNK_MISSING':
    case 'KEY_UNAVAILABLE':
    case 'BAD_DIGEST': return status.IO
    case 'NOT_IMPLEMENTED': return status.NOTSUPP
    case 'NOT_MODIFIED': return status.SERVERFAULT
    default: return assertNever(error.code, 'store error code')
  }
}

/** The status for an error thrown by an operation; rethrows bugs. */
export function statusOf(error: unknown): NfsStatus {
  if (error instanceof Nfs4Error) return error.status
  if (isXdrDecodeError(error)) return status.BADXDR
  if (isStoreError(error)) return storeErrorStatus(error)
  if (isBug(error)) throw error
  return status.SERVERFAULT
}
