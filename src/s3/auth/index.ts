// Public surface of S3 request authentication: SigV4 verification, its errors and the signing
// primitives the aws-chunked decoder chains from.
export * from './errors.ts'
export * from './signing.ts'
export {
  buildCanonicalRequest,
  canonicalHeadersBlock,
  canonicalHeaderValue,
  canonicalQueryString,
  canonicalUri,
  headerValue,
  parseRawQuery,
  percentDecode,
  uriEncodeBytes,
  type CanonicalRequestParts,
  type QueryParameter,
  type RequestHeaders,
} from './canonical.ts'
export { formatAmzDate, parseAmzDate, type AuthKind, type SigV4Credential } from './sigv4-parse.ts'
export {
  createSigV4Verifier,
  detectAuthKind,
  parsePayloadClaim,
  payloadModeClaims,
  verifyPayloadSha256,
  type PayloadMode,
  type SigV4Request,
  type SigV4Verified,
  type SigV4Verifier,
  type SigV4VerifierOptions,
} from './sigv4.ts'
