// Request bodies, streamed and verified. openBody() turns the raw request into the decoded
// object bytes (aws-chunked framing removed and its chunk/trailer signatures checked), digests
// them as they pass (MD5 for the ETag and Content-MD5, the request's flexible checksum, SHA-256
// for a signed payload) and hands the objects layer a digests() callback that, once the body
// has been consumed, verifies every claim the client made and returns the digests. Any mismatch
// throws StoreError BAD_DIGEST whose cause is the S3AuthError to send (XAmzContentSHA256Mismatch,
// BadDigest), so nothing is committed. Nothing here holds more than one aws-chunked chunk.
// readSmallBody() is the bounded variant for XML bodies (same checks, whole body in memory).
import { StoreError, s3ApiLimits, throwIfAborted } from '../lib/index.ts'
import type { BodyDigests, ChecksumAlgorithm } from '../objects/index.ts'
import { S3AuthError, headerValue, verifyPayloadSha256, type PayloadMode } from './auth/index.ts'
import {
  checksumFromTrailers,
  createChecksum,
  parseContentMd5,
  parseRequestChecksum,
  toBase64,
  verifyChecksum,
  verifyContentMd5,
  type Checksum,
  type RequestChecksum,
} from './checksum/index.ts'
import { AwsChunkedDecoder } from './chunked/index.ts'
import { header, type S3Context } from './context.ts'
import { S3Error } from './errors.ts'

export interface OpenedBody {
  /** The decoded bytes; iterate once. */
  readonly stream: AsyncIterable<Uint8Array>
  /** Exact decoded length when the request states it. */
  readonly sizeBytes: number | undefined
  /** The flexible checksum the client sent (header or trailer), if any. */
  readonly checksumAlgorithm: ChecksumAlgorithm | undefined
  /** After the stream ended: verify the client's claims and return the digests. */
  digests(): Promise<BodyDigests>
}

export interface OpenBodyOptions {
  /** Larger bodies are EntityTooLarge (before reading when the length is stated). */
  readonly maxBytes: number
  /** PutObject / UploadPart: a body without Content-Length (or aws-chunked length) is MissingContentLength. */
  readonly requireLength: boolean
}

function streamingMode(mode: PayloadMode): mode is 'streaming-signed' | 'streaming-signed-trailer' | 'streaming-unsigned-trailer' {
  return mode === 'streaming-signed' || mode === 'streaming-signed-trailer' || mode === 'streaming-unsigned-trailer'
}

/** The decoded length: x-amz-decoded-content-length for aws-chunked, else Content-Length. */
function statedLength(context: S3Context): number | undefined {
  const { verified } = context
  if (streamingMode(verified.payloadMode)) return verified.decodedContentLength
  const text = header(context, 'content-length')
  if (text === undefined) return undefined
  const length = /^\d{1,16}$/.test(text.trim()) ? Number(text.trim()) : Number.NaN
  if (!Number.isSafeInteger(length)) throw new S3Error('InvalidArgument', 'Content-Length must be a non-negative integer.', { details: { ArgumentName: 'Content-Length', ArgumentValue: text } })
  return length
}

function checkChecksumPlacement(checksum: RequestChecksum | undefined, mode: PayloadMode): void {
  if (checksum?.location !== 'trailer') return
  if (mode !== 'streaming-signed-trailer' && mode !== 'streaming-unsigned-trailer') {
    throw new S3AuthError('InvalidRequest', 'The x-amz-trailer header is only allowed with a STREAMING-*-TRAILER x-amz-content-sha256.')
  }
}

export function openBody(context: S3Context, options: OpenBodyOptions): OpenedBody {
  const { verified } = context
  const mode = verified.payloadMode
  const sizeBytes = statedLength(context)
  if (sizeBytes === undefined && options.requireLength && headerValue(context.headers, 'transfer-encoding') === undefined) {
    throw new S3AuthError('MissingContentLength', 'You must provide the Content-Length HTTP header.')
  }
  if (sizeBytes !== undefined && sizeBytes > options.maxBytes) throw entityTooLarge(options.maxBytes)
  const requestChecksum = parseRequestChecksum(context.headers)
  checkChecksumPlacement(requestChecksum, mode)
  const contentMd5Text = header(context, 'content-md5')
  const expectedMd5 = contentMd5Text === undefined ? undefined : parseContentMd5(contentMd5Text)

  const decoder = streamingMode(mode)
    ? new AwsChunkedDecoder({
        mode,
        ...(mode === 'streaming-unsigned-trailer' ? {} : { signing: verified.chunkSigning }),
        decodedContentLength: verified.decodedContentLength ?? 0,
        announcedTrailers: (header(context, 'x-amz-trailer') ?? '').split(',').map((name) => name.trim()).filter((name) => name !== ''),
      })
    : undefined
  const md5 = createChecksum('MD5')
  const sha256 = mode === 'signed' ? createChecksum('SHA256') : undefined
  const checksum: Checksum | undefined = requestChecksum === undefined ? undefined : createChecksum(requestChecksum.algorithm)
  let receivedBytes = 0
  let ended = false
  let digested: Promise<BodyDigests> | undefined

  async function* decoded(): AsyncGenerator<Uint8Array, void, undefined> {
    context.sendContinue()
    const source = decoder === undefined ? context.source : decoder.decode(context.source, context.signal)
    for await (const piece of source) {
      throwIfAborted(context.signal)
      receivedBytes += piece.length
      if (receivedBytes > options.maxBytes) throw entityTooLarge(options.maxBytes)
      md5.update(piece)
      sha256?.update(piece)
      checksum?.update(piece)
      yield piece
    }
    if (sizeBytes !== undefined && receivedBytes !== sizeBytes) {
      throw new S3AuthError('IncompleteBody', 'You did not provide the number of bytes specified by the Content-Length HTTP header.')
    }
    ended = true
  }

  async function verify(): Promise<BodyDigests> {
    if (!ended) throw new TypeError('digests() called before the body was consumed')
    try {
      const md5Digest = md5.digest()
      if (sha256 !== undefined && verified.payloadSha256 !== undefined) verifyPayloadSha256(verified.payloadSha256, sha256.digest())
      let checksumValue: string | undefined
      if (requestChecksum !== undefined && checksum !== undefined) {
        const expected = requestChecksum.location === 'header' ? requestChecksum.expected : checksumFromTrailers(requestChecksum, decoder?.trailers ?? new Map())
        const computed = checksum.digest()
        verifyChecksum(requestChecksum.algorithm, expected, computed)
        checksumValue = toBase64(computed)
      }
      if (expectedMd5 !== undefined) verifyContentMd5(expectedMd5, md5Digest)
      return {
        md5Hex: md5Digest.toString('hex'),
        ...(requestChecksum === undefined || checksumValue === undefined ? {} : { checksum: { algorithm: requestChecksum.algorithm, type: 'FULL_OBJECT' as const, value: checksumValue } }),
      }
    } catch (error) {
      // The objects layer commits nothing when digests() throws; the S3 code rides in the cause.
      throw new StoreError('BAD_DIGEST', (error as Error).message, { cause: error })
    }
  }

  return {
    stream: decoded(),
    sizeBytes,
    checksumAlgorithm: requestChecksum?.algorithm,
    digests: () => (digested ??= verify()),
  }
}

function entityTooLarge(maxBytes: number): S3Error {
  return new S3Error('EntityTooLarge', 'Your proposed upload exceeds the maximum allowed size', { details: { MaxSizeAllowed: String(maxBytes) } })
}

/** A whole small body (XML configuration), verified like any other; empty when none was sent. */
export async function readSmallBody(context: S3Context, maxBytes: number = s3ApiLimits.xmlBodyMaxBytes): Promise<Buffer> {
  try {
    const body = openBody(context, { maxBytes, requireLength: false })
    const pieces: Buffer[] = []
    for await (const piece of body.stream) pieces.push(Buffer.from(piece))
    await body.digests()
    return Buffer.concat(pieces)
  } catch (error) {
    // For configuration documents AWS names the size error differently from object bodies.
    if (error instanceof S3Error && error.code === 'EntityTooLarge') throw new S3Error('MaxMessageLengthExceeded', 'Your request was too big.', { cause: error })
    throw error
  }
}
