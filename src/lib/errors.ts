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
] as const

export type StoreErrorCode = (typeof storeErrorCodes)[number]

export class StoreError extends Error {
  readonly code: StoreErrorCode
  constructor(code: StoreErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.name = 'StoreError'
    this.code = code
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
