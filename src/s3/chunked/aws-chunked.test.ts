import t from 'tap'
import { createHash } from 'node:crypto'
import { Readable, Writable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { ManualClock } from '../../lib/index.ts'
import { createSigV4Verifier, deriveSigningKey, type ChunkSigningContext } from '../auth/index.ts'
import { crc32c } from '@node-rs/crc32'
import { AwsChunkedDecoder, encodeAwsChunked, encodeAwsChunkedToBuffer, type AwsChunkedMode, type AwsChunkedOptions } from './index.ts'

/** Small seeded PRNG (mulberry32) so failures reproduce from the printed seed. */
function random(seed: number): () => number {
  let state = seed >>> 0
  return () => {
    state = (state + 0x6d2b79f5) >>> 0
    let value = state
    value = Math.imul(value ^ (value >>> 15), value | 1)
    value ^= value + Math.imul(value ^ (value >>> 7), value | 61)
    return ((value ^ (value >>> 14)) >>> 0) / 4294967296
  }
}

/** Split a buffer at random boundaries (1 byte to `maxPiece`). */
function randomPieces(body: Buffer, next: () => number, maxPiece: number): Buffer[] {
  const pieces: Buffer[] = []
  for (let offset = 0; offset < body.length; ) {
    const size = 1 + Math.floor(next() * maxPiece)
    pieces.push(body.subarray(offset, offset + size))
    offset += size
  }
  return pieces
}

function decodeAll(pieces: readonly Buffer[], options: AwsChunkedOptions): { data: Buffer; decoder: AwsChunkedDecoder } {
  const decoder = new AwsChunkedDecoder(options)
  const out: Buffer[] = []
  for (const piece of pieces) out.push(...decoder.push(piece))
  decoder.end()
  return { data: Buffer.concat(out), decoder }
}

// Amazon S3 API reference, "Signature Calculations for the Authorization Header: Transferring
// Payload in Multiple Chunks", Example: PUT Object (and the trailing-headers variant).
const docsSecret = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY'
const docsTimeMs = Date.UTC(2013, 4, 24)
const docsSigning = (seedSignature: string): ChunkSigningContext => ({
  signingKey: deriveSigningKey(docsSecret, '20130524', 'us-east-1', 's3'),
  amzDate: '20130524T000000Z',
  scope: '20130524/us-east-1/s3/aws4_request',
  seedSignature,
})
const docsSeed = '4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9'
const docsChunkSignatures = [
  'ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648',
  '0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497',
  'b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9',
]
const docsTrailerSeed = '106e2a8a18243abcf37539882f36619c00e2dfc72633413f02d3b74544bfeb8e'
const docsTrailerChunkSignatures = [
  'b474d8862b1487a5145d686f57f013e54db672cee1c953b3010fb58501ef5aa2',
  '1c1344b170168f8e65b41376b44b20fe354e373826ccbbe2c1d40a8cae51e5c7',
  '2ca2aba2005185cf7159c6277faf83795951dd77a3a99e6e65d5c9f85863f992',
]
const docsTrailerSignature = 'd81f82fc3505edab99d459891051a732e8730629a2e4a59689829ca17fe2e435'
const docsPayload = Buffer.alloc(66560, 'a')

function docsBody(signatures: readonly string[], tail: string): Buffer {
  return Buffer.concat([
    Buffer.from(`10000;chunk-signature=${signatures[0]}\r\n`),
    docsPayload.subarray(0, 65536),
    Buffer.from(`\r\n400;chunk-signature=${signatures[1]}\r\n`),
    docsPayload.subarray(65536),
    Buffer.from(`\r\n0;chunk-signature=${signatures[2]}\r\n${tail}\r\n`),
  ])
}

t.test('AWS docs example: seed signature of the PUT request verifies', async (t) => {
  const verifier = createSigV4Verifier({ lookupSecret: async () => docsSecret, clock: new ManualClock(docsTimeMs) })
  const common = {
    method: 'PUT',
    rawPath: '/examplebucket/chunkObject.txt',
    rawQuery: '',
  }
  const plain = await verifier.verify({
    ...common,
    headers: {
      authorization: `AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,SignedHeaders=content-encoding;content-length;host;x-amz-content-sha256;x-amz-date;x-amz-decoded-content-length;x-amz-storage-class,Signature=${docsSeed}`,
      host: 's3.amazonaws.com',
      'content-encoding': 'aws-chunked',
      'content-length': '66824',
      'x-amz-content-sha256': 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD',
      'x-amz-date': '20130524T000000Z',
      'x-amz-decoded-content-length': '66560',
      'x-amz-storage-class': 'REDUCED_REDUNDANCY',
    },
  })
  t.equal(plain.payloadMode, 'streaming-signed')
  t.equal(plain.decodedContentLength, 66560)
  t.same(plain.chunkSigning, docsSigning(docsSeed))
  const trailer = await verifier.verify({
    ...common,
    headers: {
      authorization: `AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,SignedHeaders=content-encoding;host;x-amz-content-sha256;x-amz-date;x-amz-decoded-content-length;x-amz-storage-class;x-amz-trailer,Signature=${docsTrailerSeed}`,
      host: 's3.amazonaws.com',
      'content-encoding': 'aws-chunked',
      'x-amz-content-sha256': 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER',
      'x-amz-date': '20130524T000000Z',
      'x-amz-decoded-content-length': '66560',
      'x-amz-storage-class': 'REDUCED_REDUNDANCY',
      'x-amz-trailer': 'x-amz-checksum-crc32c',
    },
  })
  t.equal(trailer.payloadMode, 'streaming-signed-trailer')
  t.same(trailer.chunkSigning, docsSigning(docsTrailerSeed))
})

t.test('AWS docs example: STREAMING-AWS4-HMAC-SHA256-PAYLOAD body, any read boundaries', async (t) => {
  const body = docsBody(docsChunkSignatures, '')
  t.equal(body.length, 66824, 'the documented Content-Length')
  const encoded = encodeAwsChunkedToBuffer(docsPayload, { mode: 'streaming-signed', signing: docsSigning(docsSeed), chunkSizeBytes: 65536 })
  t.same(encoded, body, 'our encoder produces the documented body byte for byte')
  const seed = Date.now()
  const next = random(seed)
  for (const maxPiece of [1, 2, 7, 100, 4096, 70_000]) {
    const { data, decoder } = decodeAll(randomPieces(body, next, maxPiece), {
      mode: 'streaming-signed',
      signing: docsSigning(docsSeed),
      decodedContentLength: 66560,
    })
    t.ok(data.equals(docsPayload), `decoded (max piece ${maxPiece}, seed ${seed})`)
    t.equal(decoder.trailers.size, 0)
  }
})

t.test('AWS docs example: STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER body', async (t) => {
  const tail = `x-amz-checksum-crc32c:sOO8/Q==\r\nx-amz-trailer-signature:${docsTrailerSignature}\r\n`
  const body = docsBody(docsTrailerChunkSignatures, tail)
  const encoded = encodeAwsChunkedToBuffer(docsPayload, {
    mode: 'streaming-signed-trailer',
    signing: docsSigning(docsTrailerSeed),
    chunkSizeBytes: 65536,
    trailers: [['x-amz-checksum-crc32c', 'sOO8/Q==']],
  })
  t.same(encoded, body, 'our encoder produces the documented body byte for byte')
  const seed = Date.now()
  const { data, decoder } = decodeAll(randomPieces(body, random(seed), 3000), {
    mode: 'streaming-signed-trailer',
    signing: docsSigning(docsTrailerSeed),
    decodedContentLength: 66560,
    announcedTrailers: ['x-amz-checksum-crc32c'],
  })
  t.ok(data.equals(docsPayload), `seed ${seed}`)
  t.same([...decoder.trailers], [['x-amz-checksum-crc32c', 'sOO8/Q==']])
  const crc = Buffer.alloc(4)
  crc.writeUInt32BE(crc32c(data))
  t.equal(crc.toString('base64'), decoder.trailers.get('x-amz-checksum-crc32c'), 'the trailer checksum is the data CRC32C')
  const forged = Buffer.from(body.toString('latin1').replace('sOO8/Q==', 'AAAAAA=='), 'latin1')
  t.throws(() => decodeAll([forged], { mode: 'streaming-signed-trailer', signing: docsSigning(docsTrailerSeed), decodedContentLength: 66560 }), {
    code: 'SignatureDoesNotMatch',
  })
})

t.test('AWS SDK example: STREAMING-UNSIGNED-PAYLOAD-TRAILER body', async (t) => {
  // The body aws-sdk-rust's checksum tests expect for "Hello world" with CRC32C.
  const body = Buffer.from('B\r\nHello world\r\n0\r\nx-amz-checksum-crc32c:crUfeA==\r\n\r\n')
  for (let split = 0; split <= body.length; split++) {
    const { data, decoder } = decodeAll([body.subarray(0, split), body.subarray(split)], {
      mode: 'streaming-unsigned-trailer',
      decodedContentLength: 11,
      announcedTrailers: ['x-amz-checksum-crc32c'],
    })
    t.equal(data.toString(), 'Hello world')
    t.equal(decoder.trailers.get('x-amz-checksum-crc32c'), 'crUfeA==')
  }
  // The Rust SDK writes the size in upper-case hex, the S3 docs (and our encoder) in lower case.
  const encoded = encodeAwsChunkedToBuffer(Buffer.from('Hello world'), { mode: 'streaming-unsigned-trailer', chunkSizeBytes: 65536, trailers: [['x-amz-checksum-crc32c', 'crUfeA==']] })
  t.equal(encoded.toString(), body.toString().replace(/^B/, 'b'))
})

t.test('round trips: every mode, random sizes, chunkings and read boundaries', async (t) => {
  const seed = Date.now()
  const next = random(seed)
  const signing = docsSigning('0'.repeat(64))
  const modes: AwsChunkedMode[] = ['streaming-signed', 'streaming-signed-trailer', 'streaming-unsigned-trailer']
  for (let round = 0; round < 60; round++) {
    const mode = modes[round % 3]!
    const size = Math.floor(next() ** 3 * 300_000)
    const payload = Buffer.alloc(size)
    for (let index = 0; index < size; index += 997) payload[index] = Math.floor(next() * 256)
    const chunkSizeBytes = 1 + Math.floor(next() * 70_000)
    const trailers: Array<[string, string]> = mode === 'streaming-signed' ? [] : [['x-amz-checksum-sha256', createHash('sha256').update(payload).digest('base64')]]
    const body = encodeAwsChunkedToBuffer(payload, { mode, signing, chunkSizeBytes, trailers })
    const { data, decoder } = decodeAll(randomPieces(body, next, 1 + Math.floor(next() * 9000)), {
      mode,
      signing,
      decodedContentLength: size,
    })
    if (!data.equals(payload)) t.fail(`round ${round} ${mode} size ${size} chunk ${chunkSizeBytes}: seed ${seed}`)
    t.same([...decoder.trailers], trailers)
    t.equal(decoder.decodedBytes, size)
  }
})

t.test('unsigned chunks may exceed the signed-chunk limit (the JS SDK sends one per stream chunk)', async (t) => {
  const payload = Buffer.alloc(300_000, 'u')
  const body = encodeAwsChunkedToBuffer(payload, { mode: 'streaming-unsigned-trailer', chunkSizeBytes: payload.length })
  const options = { mode: 'streaming-unsigned-trailer', decodedContentLength: payload.length, chunkMaxBytes: 65536 } as const
  const decoder = new AwsChunkedDecoder(options)
  let largestOutputBytes = 0
  for (let offset = 0; offset < body.length; offset += 16_384) {
    for (const data of decoder.push(body.subarray(offset, offset + 16_384))) largestOutputBytes = Math.max(largestOutputBytes, data.length)
  }
  decoder.end()
  t.equal(decoder.decodedBytes, payload.length)
  t.ok(largestOutputBytes <= 16_384, 'streamed through as it arrived, not buffered')
  const signing = docsSigning(docsSeed)
  const signed = encodeAwsChunkedToBuffer(payload, { mode: 'streaming-signed', signing, chunkSizeBytes: payload.length })
  t.throws(() => decodeAll([signed], { mode: 'streaming-signed', signing, decodedContentLength: payload.length, chunkMaxBytes: 65536 }), { code: 'InvalidArgument' })
})

t.test('decode() streams through stream.pipeline with backpressure', async (t) => {
  const payload = Buffer.alloc(1_000_000, 'z')
  const signing = docsSigning(docsSeed)
  const decoder = new AwsChunkedDecoder({ mode: 'streaming-signed', signing, decodedContentLength: payload.length })
  let received = 0
  let largestWriteBytes = 0
  await pipeline(
    Readable.from(encodeAwsChunked(payload, { mode: 'streaming-signed', signing, chunkSizeBytes: 65536 })),
    (source: AsyncIterable<Uint8Array>) => decoder.decode(source),
    new Writable({
      highWaterMark: 1,
      write(chunk: Buffer, _encoding, callback) {
        received += chunk.length
        largestWriteBytes = Math.max(largestWriteBytes, chunk.length)
        setImmediate(callback)
      },
    }),
  )
  t.equal(received, payload.length)
  t.ok(largestWriteBytes <= 65536, 'never more than one chunk at a time')
  t.ok(decoder.done)
})

const unsignedOptions: AwsChunkedOptions = { mode: 'streaming-unsigned-trailer', decodedContentLength: 3 }

t.test('malformed framing is refused', async (t) => {
  const cases: Array<[string, string, string, AwsChunkedOptions?]> = [
    ['3\r\nabc\r\n0\r\n\r\nX', 'InvalidArgument', 'data after the final chunk'],
    ['3\r\nabc\r\n0\r\n\r\n\r\n', 'InvalidArgument', 'extra CRLF after the final chunk'],
    ['x3\r\nabc\r\n0\r\n\r\n', 'InvalidArgument', 'bad hex size'],
    ['\r\nabc\r\n0\r\n\r\n', 'InvalidArgument', 'empty size'],
    ['-3\r\nabc\r\n0\r\n\r\n', 'InvalidArgument', 'negative size'],
    ['3\nabc\r\n0\r\n\r\n', 'InvalidArgument', 'bare LF after the size'],
    ['3\r\nabcX\r\n0\r\n\r\n', 'InvalidArgument', 'data longer than its size'],
    ['3\r\nabc\n0\r\n\r\n', 'InvalidArgument', 'missing CR after data'],
    [`3${';x'.repeat(600)}\r\nabc\r\n0\r\n\r\n`, 'InvalidArgument', 'oversize chunk-size line'],
    [`500000;chunk-signature=${'0'.repeat(64)}\r\n`, 'InvalidArgument', 'signed chunk over the limit', { mode: 'streaming-signed', signing: docsSigning(docsSeed), decodedContentLength: 0x500000 }],
    ['ffffffffffffffff\r\n', 'IncompleteBody', 'absurd chunk size', { mode: 'streaming-unsigned-trailer', decodedContentLength: 3 }],
    ['4\r\nabcd\r\n0\r\n\r\n', 'IncompleteBody', 'longer than x-amz-decoded-content-length'],
    ['2\r\nab\r\n0\r\n\r\n', 'IncompleteBody', 'shorter than x-amz-decoded-content-length'],
    ['3\r\nabc\r\n0\r\nx-amz-checksum-crc32\r\n\r\n', 'MalformedTrailerError', 'trailer without colon'],
    ['3\r\nabc\r\n0\r\nx-amz-trailer-signature:abc\r\n\r\n', 'MalformedTrailerError', 'signature on an unsigned payload'],
    ['3\r\nabc\r\n0\r\na:1\r\na:2\r\n\r\n', 'MalformedTrailerError', 'repeated trailer'],
    ['3\r\nabc\r\n0\r\nx-amz-meta-x:1\r\n\r\n', 'MalformedTrailerError', 'unannounced trailer', { ...unsignedOptions, announcedTrailers: ['x-amz-checksum-crc32'] }],
  ]
  for (const [body, code, what, options] of cases) {
    t.throws(() => decodeAll([Buffer.from(body)], options ?? unsignedOptions), { code }, what)
  }
  for (const truncated of ['', '3', '3\r', '3\r\nab', '3\r\nabc\r', '3\r\nabc\r\n0\r\n', '3\r\nabc\r\n0\r\nx-amz-checksum-crc32:AAAAAA==\r\n']) {
    t.throws(() => decodeAll([Buffer.from(truncated)], unsignedOptions), { code: 'IncompleteBody', status: 400 }, `truncated: ${JSON.stringify(truncated)}`)
  }
})

t.test('signed chunks: a bad signature stops the stream before the chunk is emitted', async (t) => {
  const signing = docsSigning(docsSeed)
  const payload = Buffer.alloc(3 * 10_000, 'q')
  const body = encodeAwsChunkedToBuffer(payload, { mode: 'streaming-signed', signing, chunkSizeBytes: 10_000 })
  const tampered = Buffer.from(body)
  const secondChunkData = body.indexOf('qqqq', body.indexOf('chunk-signature', 100))
  tampered[secondChunkData + 5] = 'Q'.charCodeAt(0)
  const decoder = new AwsChunkedDecoder({ mode: 'streaming-signed', signing, decodedContentLength: payload.length })
  const emitted: Buffer[] = []
  t.throws(() => {
    for (let offset = 0; offset < tampered.length; offset += 1000) emitted.push(...decoder.push(tampered.subarray(offset, offset + 1000)))
  }, { code: 'SignatureDoesNotMatch', status: 403 })
  t.equal(Buffer.concat(emitted).length, 10_000, 'only the verified first chunk came out')
  t.throws(() => decoder.push(Buffer.from('x')), { code: 'SignatureDoesNotMatch' }, 'the failure is sticky')
  t.throws(() => decoder.end(), { code: 'SignatureDoesNotMatch' })

  const wrongSeed = new AwsChunkedDecoder({ mode: 'streaming-signed', signing: docsSigning('1'.repeat(64)), decodedContentLength: payload.length })
  t.throws(() => wrongSeed.push(body), { code: 'SignatureDoesNotMatch' }, 'chunks chain from the seed')
  const unsignedHeader = Buffer.from('3\r\nabc\r\n0\r\n\r\n')
  t.throws(() => decodeAll([unsignedHeader], { mode: 'streaming-signed', signing, decodedContentLength: 3 }), { code: 'InvalidArgument' }, 'signed mode needs chunk signatures')
})

t.test('signed chunks: reordering or dropping a chunk breaks the chain', async (t) => {
  const signing = docsSigning(docsSeed)
  const body = encodeAwsChunkedToBuffer(Buffer.from('aaaaabbbbbccccc'), { mode: 'streaming-signed', signing, chunkSizeBytes: 5 })
  // Each framed data chunk: '5;chunk-signature=<64 hex>\r\n' (84) + 5 bytes + '\r\n' = 91 bytes.
  const framed = (index: number) => body.subarray(index * 91, (index + 1) * 91)
  const final = body.subarray(3 * 91)
  t.equal(framed(1).subarray(84).toString(), 'bbbbb\r\n')
  const swapped = Buffer.concat([framed(1), framed(0), framed(2), final])
  t.throws(() => decodeAll([swapped], { mode: 'streaming-signed', signing, decodedContentLength: 15 }), { code: 'SignatureDoesNotMatch' }, 'swapped')
  const dropped = Buffer.concat([framed(0), framed(2), final])
  t.throws(() => decodeAll([dropped], { mode: 'streaming-signed', signing, decodedContentLength: 10 }), { code: 'SignatureDoesNotMatch' }, 'dropped')
  t.equal(decodeAll([body], { mode: 'streaming-signed', signing, decodedContentLength: 15 }).data.toString(), 'aaaaabbbbbccccc')
})

t.test('signed trailers: required, last, verified; none in the plain signed mode', async (t) => {
  const signing = docsSigning(docsSeed)
  const options = { mode: 'streaming-signed-trailer', signing, decodedContentLength: 3 } as const
  const good = encodeAwsChunkedToBuffer(Buffer.from('abc'), { mode: 'streaming-signed-trailer', signing, chunkSizeBytes: 3, trailers: [['x-amz-checksum-crc32', 'NSRBwg==']] })
  t.equal(decodeAll([good], options).decoder.trailers.get('x-amz-checksum-crc32'), 'NSRBwg==')
  const text = good.toString('latin1')
  const withoutSignature = text.replace(/x-amz-trailer-signature:[0-9a-f]{64}\r\n/, '')
  t.throws(() => decodeAll([Buffer.from(withoutSignature, 'latin1')], options), { code: 'MalformedTrailerError' })
  const signatureFirst = text.replace(/(x-amz-checksum-crc32:NSRBwg==\r\n)(x-amz-trailer-signature:[0-9a-f]{64}\r\n)/, '$2$1')
  t.throws(() => decodeAll([Buffer.from(signatureFirst, 'latin1')], options), { code: 'MalformedTrailerError' })
  const plain = encodeAwsChunkedToBuffer(Buffer.from('abc'), { mode: 'streaming-signed', signing, chunkSizeBytes: 3 })
  const plainWithTrailer = Buffer.concat([plain.subarray(0, plain.length - 2), Buffer.from('x-amz-checksum-crc32:NSRBwg==\r\n\r\n')])
  t.throws(() => decodeAll([plainWithTrailer], { mode: 'streaming-signed', signing, decodedContentLength: 3 }), { code: 'MalformedTrailerError' })
})
