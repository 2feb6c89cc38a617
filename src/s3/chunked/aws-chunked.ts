// Streaming decoder for `aws-chunked` request bodies (S3 "chunked upload"):
//   STREAMING-AWS4-HMAC-SHA256-PAYLOAD          hex-size;chunk-signature=SIG CRLF data CRLF ... 0;chunk-signature=SIG CRLF CRLF
//   STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER  ... 0;chunk-signature=SIG CRLF name:value CRLF x-amz-trailer-signature:SIG CRLF CRLF
//   STREAMING-UNSIGNED-PAYLOAD-TRAILER          hex-size CRLF data CRLF ... 0 CRLF name:value CRLF CRLF
// It emits only decoded object data, never framing. Chunk signatures chain from the request's
// seed signature (each covers the previous signature and the SHA-256 of the chunk's data); the
// trailer signature chains from the final chunk's. Trailing headers (x-amz-checksum-*) are handed
// to the caller in `trailers`; verifying the checksum they carry is the caller's job.
// Bounds: a signed chunk's data is held (as views, not copied) until its signature verifies, so
// at most one chunk (<= s3RequestLimits.awsChunkMaxBytes) is buffered; unsigned chunks stream
// through at any size (bounded by the decoded length); lines are bounded too.
// The decoded total must equal x-amz-decoded-content-length. Any error is final: the decoder
// rethrows it on further use. Never emit bytes of a signed chunk before its signature checks.
import { createHash, type Hash } from 'node:crypto'
import { assert, s3RequestLimits, throwIfAborted } from '../../lib/index.ts'
import { S3AuthError, emptySha256Hex, signChunk, signTrailer, signaturesEqual, type ChunkSigningContext } from '../auth/index.ts'

export type AwsChunkedMode = 'streaming-signed' | 'streaming-signed-trailer' | 'streaming-unsigned-trailer'

export interface AwsChunkedOptions {
  readonly mode: AwsChunkedMode
  /** Required for the signed modes: SigV4Verified.chunkSigning of the request. */
  readonly signing?: ChunkSigningContext
  /** x-amz-decoded-content-length: the decoded body must be exactly this long. */
  readonly decodedContentLength: number
  /** Lowercase names announced in x-amz-trailer; any other trailer is refused. Default: any. */
  readonly announcedTrailers?: readonly string[]
  /** Largest signed chunk (held until verified). Default s3RequestLimits.awsChunkMaxBytes. */
  readonly chunkMaxBytes?: number
}

type State = 'chunk-header' | 'chunk-data' | 'chunk-data-crlf' | 'trailer' | 'done' | 'failed'

const CR = 0x0d
const LF = 0x0a
const trailerSignatureName = 'x-amz-trailer-signature'
const signedHeaderPattern = /^([0-9a-fA-F]{1,16});chunk-signature=([0-9a-f]{64})$/
const unsignedHeaderPattern = /^([0-9a-fA-F]{1,16})(?:;[^\r\n]*)?$/

function framingError(message: string): S3AuthError {
  return new S3AuthError('InvalidArgument', `Malformed aws-chunked body: ${message}`, { details: { ArgumentName: 'x-amz-content-sha256' } })
}

function trailerError(message: string): S3AuthError {
  return new S3AuthError('MalformedTrailerError', `The request contained trailing data that was not well-formed or did not conform to our published schema: ${message}`)
}

export class AwsChunkedDecoder {
  readonly #mode: AwsChunkedMode
  readonly #signing: ChunkSigningContext | undefined
  readonly #decodedContentLength: number
  readonly #announced: ReadonlySet<string> | undefined
  readonly #chunkMaxBytes: number

  #state: State = 'chunk-header'
  #failure: unknown
  /** The current line (chunk header or trailer), without its CRLF. */
  readonly #line: Buffer
  #lineLength = 0
  #chunkRemaining = 0
  #chunkSignature = ''
  #chunkHash: Hash | undefined
  #held: Buffer[] = []
  #crlfSeen = 0
  #previousSignature: string
  #decodedBytes = 0
  readonly #trailers = new Map<string, string>()
  #trailerSignature: string | undefined

  constructor(options: AwsChunkedOptions) {
    const signed = options.mode !== 'streaming-unsigned-trailer'
    assert(!signed || options.signing !== undefined, 'signed aws-chunked modes need the chunk-signing context')
    assert(Number.isSafeInteger(options.decodedContentLength) && options.decodedContentLength >= 0, 'decoded length is validated by the caller')
    this.#mode = options.mode
    this.#signing = signed ? options.signing : undefined
    this.#decodedContentLength = options.decodedContentLength
    this.#announced = options.announcedTrailers && new Set(options.announcedTrailers.map((name) => name.toLowerCase()))
    this.#chunkMaxBytes = options.chunkMaxBytes ?? s3RequestLimits.awsChunkMaxBytes
    this.#line = Buffer.alloc(s3RequestLimits.awsChunkLineMaxBytes)
    this.#previousSignature = options.signing?.seedSignature ?? ''
  }

  /** Trailing headers (lowercase names, without x-amz-trailer-signature); complete once done. */
  get trailers(): ReadonlyMap<string, string> {
    return this.#trailers
  }

  get decodedBytes(): number {
    return this.#decodedBytes
  }

  get done(): boolean {
    return this.#state === 'done'
  }

  /**
   * Feed the next piece of the encoded body; returns the decoded data it completes (views of the
   * input, valid as long as the input is not reused). Throws S3AuthError on bad input.
   */
  push(bytes: Uint8Array): Buffer[] {
    if (this.#state === 'failed') throw this.#failure
    const input = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
    const output: Buffer[] = []
    try {
      let offset = 0
      while (offset < input.length) offset = this.#step(input, offset, output)
    } catch (error) {
      this.#state = 'failed'
      this.#failure = error
      this.#held = []
      throw error
    }
    return output
  }

  /** The encoded body ended: throws IncompleteBody unless the final chunk and trailers arrived. */
  end(): void {
    if (this.#state === 'failed') throw this.#failure
    if (this.#state !== 'done') {
      this.#state = 'failed'
      this.#failure = new S3AuthError('IncompleteBody', 'The request body terminated unexpectedly.')
      throw this.#failure
    }
  }

  /** Decode a whole encoded stream; pair with stream.pipeline(req, (s) => decoder.decode(s, signal), sink). */
  async *decode(source: AsyncIterable<Uint8Array>, signal?: AbortSignal): AsyncGenerator<Buffer, void, undefined> {
    for await (const piece of source) {
      throwIfAborted(signal)
      for (const data of this.push(piece)) yield data
    }
    this.end()
  }

  /** Consume from input at offset according to the state; returns the new offset. */
  #step(input: Buffer, offset: number, output: Buffer[]): number {
    switch (this.#state) {
      case 'chunk-header':
      case 'trailer':
        return this.#readLine(input, offset)
      case 'chunk-data':
        return this.#readData(input, offset, output)
      case 'chunk-data-crlf':
        return this.#readDataCrlf(input, offset, output)
      case 'done':
        throw framingError('data after the final chunk')
      case 'failed':
        throw this.#failure
    }
  }

  #readLine(input: Buffer, offset: number): number {
    const newline = input.indexOf(LF, offset)
    const end = newline < 0 ? input.length : newline
    const length = end - offset
    if (this.#lineLength + length > this.#line.length) throw framingError('line too long')
    input.copy(this.#line, this.#lineLength, offset, end)
    this.#lineLength += length
    if (newline < 0) return input.length
    if (this.#lineLength === 0 || this.#line[this.#lineLength - 1] !== CR) throw framingError('line not terminated by CRLF')
    const line = this.#line.toString('latin1', 0, this.#lineLength - 1)
    this.#lineLength = 0
    if (this.#state === 'chunk-header') this.#onChunkHeader(line)
    else this.#onTrailerLine(line)
    return newline + 1
  }

  #onChunkHeader(line: string): void {
    const match = (this.#signing ? signedHeaderPattern : unsignedHeaderPattern).exec(line)
    if (!match) throw framingError(`bad chunk header "${line.slice(0, 100)}"`)
    const sizeBytes = Number.parseInt(match[1] ?? '', 16)
    // Only a signed chunk is held in memory, so only it is capped. Unsigned chunks stream
    // through, and the JS SDK sends each chunk of the caller's stream as one aws-chunk, however
    // large: capping those would refuse real uploads.
    if (this.#signing && !(sizeBytes <= this.#chunkMaxBytes)) throw framingError(`chunk of ${match[1]} (hex) bytes exceeds the limit of ${this.#chunkMaxBytes}`)
    if (!(this.#decodedBytes + sizeBytes <= this.#decodedContentLength)) {
      throw new S3AuthError('IncompleteBody', 'The body is longer than x-amz-decoded-content-length.')
    }
    this.#chunkSignature = this.#signing ? (match[2] ?? '') : ''
    if (sizeBytes === 0) {
      this.#verifyChunk(emptySha256Hex)
      if (this.#decodedBytes !== this.#decodedContentLength) {
        throw new S3AuthError('IncompleteBody', 'You did not provide the number of bytes specified by x-amz-decoded-content-length.')
      }
      this.#state = 'trailer'
      return
    }
    this.#chunkRemaining = sizeBytes
    this.#chunkHash = this.#signing ? createHash('sha256') : undefined
    this.#state = 'chunk-data'
  }

  #readData(input: Buffer, offset: number, output: Buffer[]): number {
    const take = Math.min(this.#chunkRemaining, input.length - offset)
    const data = input.subarray(offset, offset + take)
    this.#chunkRemaining -= take
    this.#decodedBytes += take
    if (this.#chunkHash) {
      this.#chunkHash.update(data)
      this.#held.push(data)
    } else {
      output.push(data)
    }
    if (this.#chunkRemaining === 0) {
      this.#crlfSeen = 0
      this.#state = 'chunk-data-crlf'
    }
    return offset + take
  }

  #readDataCrlf(input: Buffer, offset: number, output: Buffer[]): number {
    const expected = this.#crlfSeen === 0 ? CR : LF
    if (input[offset] !== expected) throw framingError('chunk data not followed by CRLF')
    this.#crlfSeen++
    if (this.#crlfSeen === 2) {
      if (this.#chunkHash) {
        this.#verifyChunk(this.#chunkHash.digest('hex'))
        this.#chunkHash = undefined
        output.push(...this.#held)
        this.#held = []
      }
      this.#state = 'chunk-header'
    }
    return offset + 1
  }

  /** Signed modes: the chunk's signature must chain from the previous one. */
  #verifyChunk(chunkSha256Hex: string): void {
    if (!this.#signing) return
    const expected = signChunk(this.#signing, this.#previousSignature, chunkSha256Hex)
    if (!signaturesEqual(expected, this.#chunkSignature)) {
      throw new S3AuthError('SignatureDoesNotMatch', 'The chunk signature we calculated does not match the signature you provided.', {
        details: { ChunkSignatureProvided: this.#chunkSignature },
      })
    }
    this.#previousSignature = this.#chunkSignature
  }

  #onTrailerLine(line: string): void {
    if (line === '') {
      this.#finishTrailers()
      return
    }
    if (this.#mode === 'streaming-signed') throw trailerError('this payload mode has no trailers')
    if (this.#trailerSignature !== undefined) throw trailerError(`${trailerSignatureName} must be the last trailer`)
    const colon = line.indexOf(':')
    if (colon <= 0) throw trailerError(`bad trailer line "${line.slice(0, 100)}"`)
    const name = line.slice(0, colon).trim().toLowerCase()
    const value = line.slice(colon + 1).trim()
    if (name === trailerSignatureName) {
      if (this.#mode !== 'streaming-signed-trailer') throw trailerError('an unsigned payload has no trailer signature')
      this.#trailerSignature = value
      return
    }
    if (this.#trailers.has(name)) throw trailerError(`trailer ${name} is repeated`)
    if (this.#announced && !this.#announced.has(name)) throw trailerError(`trailer ${name} was not announced in x-amz-trailer`)
    if (this.#trailers.size >= s3RequestLimits.awsChunkTrailersMax) throw trailerError('too many trailers')
    this.#trailers.set(name, value)
  }

  #finishTrailers(): void {
    if (this.#mode === 'streaming-signed-trailer') {
      assert(this.#signing !== undefined, 'signed mode has a signing context')
      if (this.#trailerSignature === undefined) throw trailerError(`missing ${trailerSignatureName}`)
      let canonical = ''
      for (const [name, value] of this.#trailers) canonical += `${name}:${value}\n`
      const expected = signTrailer(this.#signing, this.#previousSignature, createHash('sha256').update(canonical).digest('hex'))
      if (!signaturesEqual(expected, this.#trailerSignature)) {
        throw new S3AuthError('SignatureDoesNotMatch', 'The trailer signature we calculated does not match the signature you provided.')
      }
    }
    this.#state = 'done'
  }
}
