// Errors raised at the S3 protocol edge before any storage is touched: authentication (SigV4),
// aws-chunked framing and client-supplied digests. Each carries the AWS error code and HTTP
// status S3 answers with, so the XML layer renders it without a lookup table of its own.
// The union is closed: add a code here (with AWS's status) before throwing it anywhere.
// These are client errors, never bugs: a failed invariant is an AssertionError instead.

export const s3AuthErrorStatuses = {
  AccessDenied: 403,
  AuthorizationHeaderMalformed: 400,
  AuthorizationQueryParametersError: 400,
  BadDigest: 400,
  IncompleteBody: 400,
  InvalidAccessKeyId: 403,
  InvalidArgument: 400,
  InvalidDigest: 400,
  InvalidRequest: 400,
  InvalidToken: 400,
  InvalidURI: 400,
  MalformedTrailerError: 400,
  MissingContentLength: 411,
  MissingSecurityHeader: 400,
  RequestTimeTooSkewed: 403,
  SignatureDoesNotMatch: 403,
  XAmzContentSHA256Mismatch: 400,
} as const satisfies Record<string, 400 | 403 | 411>

export type S3AuthErrorCode = keyof typeof s3AuthErrorStatuses

/**
 * Extra elements AWS puts in the error document (e.g. StringToSign and CanonicalRequest for
 * SignatureDoesNotMatch, ServerTime for RequestTimeTooSkewed). Never contains a secret.
 */
export type S3AuthErrorDetails = Readonly<Record<string, string>>

export class S3AuthError extends Error {
  readonly code: S3AuthErrorCode
  readonly status: 400 | 403 | 411
  readonly details: S3AuthErrorDetails
  constructor(code: S3AuthErrorCode, message: string, options?: { details?: S3AuthErrorDetails; cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause })
    this.name = 'S3AuthError'
    this.code = code
    this.status = s3AuthErrorStatuses[code]
    this.details = options?.details ?? {}
  }
}

export function isS3AuthError(error: unknown, code?: S3AuthErrorCode): error is S3AuthError {
  return error instanceof S3AuthError && (code === undefined || error.code === code)
}
