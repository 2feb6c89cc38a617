// Operational errors carry a code from one closed union. Front-ends map codes to wire errors in
// one exhaustive switch each (S3 XML, NBD errno, NFS4ERR_*). Bugs are AssertionError/TypeError
// and are never wrapped in StoreError.

export const storeErrorCodes = [
  'NOT_FOUND', // a named thing (chunk, pack, key domain, record) does not exist
  'ALREADY_EXISTS',
  'INVALID_ARGUMENT', // caller input that failed validation
  'CHUNK_CORRUPT', // stored bytes do not match their id or checksum
  'CHUNK_MISSING', // a reference names a chunk that has no location
  'NO_SPACE', // ENOSPC / EDQUOT: the disk is full
  'IO_ERROR', // EIO and other disk failures
  'CONFLICT', // a transaction lost a race; safe to re-run
  'LOCKED', // the data dir is in use by another process
  'KEY_UNAVAILABLE', // an encryption key is missing or cannot be unwrapped
  'CLOSED', // the component was closed or failed before and refuses further use
  'ABORTED', // the caller's AbortSignal fired
  'LIMIT_EXCEEDED', // a configured limit was hit
  // Semantic outcomes the front-ends map to distinct wire errors (S3 codes, NFS4ERR_*, NBD errno).
  'PRECONDITION_FAILED', // a condition the caller set does not hold (If-Match, If-None-Match: *)
  'NOT_MODIFIED', // a read condition says the caller's copy is current (If-None-Match on GET)
  'NOT_EMPTY', // a container (bucket, directory) still holds entries
  'INVALID_RANGE', // a byte range outside the thing read
  'INVALID_STATE', // the thing exists but cannot do this now (archived object, attached volume)
  'BAD_DIGEST', // bytes received do not match the digest the caller sent
  'ACCESS_DENIED', // the caller may not do this
  'NOT_IMPLEMENTED', // a recognised request this server does not support
] as const

/**
 * What kind of thing a NOT_FOUND / ALREADY_EXISTS / INVALID_STATE is about, so front-ends can
 * answer NoSuchBucket vs NoSuchKey vs NoSuchUpload, or NFS4ERR_NOENT vs NFS4ERR_STALE.
 */
export type StoreErrorSubject =
  | 'bucket' | 'key' | 'version' | 'upload' | 'part' | 'user' | 'policy' | 'configuration'
  | 'volume' | 'snapshot' | 'export'
  | 'filesystem' | 'inode' | 'entry' | 'state' | 'lock'
  | 'chunk' | 'pack' | 'key-domain'

export type StoreErrorCode = (typeof storeErrorCodes)[number]

export interface StoreErrorOptions {
  cause?: unknown
  subject?: StoreErrorSubject
}

export class StoreError extends Error {
  readonly code: StoreErrorCode
  readonly subject: StoreErrorSubject | undefined
  constructor(code: StoreErrorCode, message: string, options?: StoreErrorOptions) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause })
    this.name = 'StoreError'
    this.code = code
    this.subject = options?.subject
  }
}

export function isStoreError(error: unknown, code?: StoreErrorCode): error is StoreError {
  return error instanceof StoreError && (code === undefined || error.code === code)
}

/** Map a Node.js system error from the disk to a StoreError, keeping it as the cause. */
export function fromSystemError(error: unknown, what: string): StoreError {
  if (error instanceof StoreError) return error
  const errno = (error as NodeJS.ErrnoException | undefined)?.code
  switch (errno) {
    case 'ENOSPC':
    case 'EDQUOT':
      return new StoreError('NO_SPACE', `${what}: no space left on device`, { cause: error })
    case 'ENOENT':
      return new StoreError('NOT_FOUND', `${what}: not found`, { cause: error })
    case 'EEXIST':
      return new StoreError('ALREADY_EXISTS', `${what}: already exists`, { cause: error })
    default:
      return new StoreError('IO_ERROR', `${what}: ${errno ?? 'I/O error'}`, { cause: error })
  }
}

/** Throw StoreError('ABORTED') when the signal has fired. */
export function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new StoreError('ABORTED', 'operation aborted', { cause: signal.reason })
}
