// Which flexible checksum a PUT/UploadPart request asks us to verify, and where its expected
// value is: in an x-amz-checksum-* header (known before the body) or announced by x-amz-trailer
// (arriving in the aws-chunked trailer, after the body). At most one checksum per request, as
// in S3; x-amz-sdk-checksum-algorithm must agree with it. Errors are AWS's InvalidRequest /
// MalformedTrailerError; verification itself is verifyChecksum in checksum.ts.
import { headerValue, S3AuthError, type RequestHeaders } from '../auth/index.ts'
import { checksumAlgorithms, type ChecksumAlgorithm } from '../../lib/checksum/index.ts'
import { checksumAlgorithmFromHeaderName, checksumHeaderName, parseChecksumAlgorithm, parseChecksumValue } from './checksum.ts'

export type RequestChecksum =
  | { readonly algorithm: ChecksumAlgorithm; readonly location: 'header'; readonly expected: Buffer }
  | { readonly algorithm: ChecksumAlgorithm; readonly location: 'trailer'; readonly trailerName: string }

function invalid(message: string): S3AuthError {
  return new S3AuthError('InvalidRequest', message)
}

/** The checksum names announced in x-amz-trailer (comma-separated), as algorithms. */
function trailerAlgorithms(headers: RequestHeaders): ChecksumAlgorithm[] {
  const trailer = headerValue(headers, 'x-amz-trailer')
  if (trailer === undefined) return []
  const algorithms: ChecksumAlgorithm[] = []
  for (const name of trailer.split(',')) {
    if (name.trim() === '') continue
    const algorithm = checksumAlgorithmFromHeaderName(name)
    if (!algorithm) throw invalid(`The value specified in the x-amz-trailer header is not supported: ${name.trim()}`)
    algorithms.push(algorithm)
  }
  return algorithms
}

/** The request's checksum, or undefined when it asks for none. */
export function parseRequestChecksum(headers: RequestHeaders): RequestChecksum | undefined {
  const inHeaders = checksumAlgorithms.filter((algorithm) => headers[checksumHeaderName(algorithm)] !== undefined)
  const inTrailer = trailerAlgorithms(headers)
  if (inHeaders.length + inTrailer.length > 1) {
    throw invalid('Expecting a single x-amz-checksum- header. Multiple checksum Types are not allowed.')
  }
  const sdkAlgorithmText = headerValue(headers, 'x-amz-sdk-checksum-algorithm')
  const sdkAlgorithm = sdkAlgorithmText === undefined ? undefined : parseChecksumAlgorithm(sdkAlgorithmText, 'x-amz-sdk-checksum-algorithm')
  const found = inHeaders[0] ?? inTrailer[0]
  if (found === undefined) {
    if (sdkAlgorithm !== undefined) {
      throw invalid('x-amz-sdk-checksum-algorithm specified, but no corresponding x-amz-checksum-* or x-amz-trailer headers were found.')
    }
    return undefined
  }
  if (sdkAlgorithm !== undefined && sdkAlgorithm !== found) throw invalid('Value for x-amz-sdk-checksum-algorithm header is invalid.')
  if (inHeaders[0] !== undefined) {
    const value = headerValue(headers, checksumHeaderName(found)) ?? ''
    return { algorithm: found, location: 'header', expected: parseChecksumValue(found, value) }
  }
  return { algorithm: found, location: 'trailer', trailerName: checksumHeaderName(found) }
}

/** The expected digest carried by the aws-chunked trailer announced in x-amz-trailer. */
export function checksumFromTrailers(checksum: Extract<RequestChecksum, { location: 'trailer' }>, trailers: ReadonlyMap<string, string>): Buffer {
  const value = trailers.get(checksum.trailerName)
  if (value === undefined) {
    throw new S3AuthError('MalformedTrailerError', 'The request contained trailing data that was not well-formed or did not conform to our published schema.', {
      details: { MissingTrailer: checksum.trailerName },
    })
  }
  return parseChecksumValue(checksum.algorithm, value)
}
