import t from 'tap'
import { createHash, randomBytes } from 'node:crypto'
import {
  checksumAlgorithmFromHeaderName,
  checksumAlgorithms,
  checksumFromTrailers,
  checksumHeaderName,
  compositeChecksum,
  createChecksum,
  decodeBase64Digest,
  defaultChecksumType,
  digestOf,
  fullObjectChecksum,
  isChecksumTypeSupported,
  multipartEtag,
  parseChecksumAlgorithm,
  parseChecksumValue,
  parseContentMd5,
  parseRequestChecksum,
  toBase64,
  verifyChecksum,
  verifyContentMd5,
  type DigestAlgorithm,
} from './index.ts'

t.test('published check values of "123456789" (CRC catalogue)', async (t) => {
  const input = Buffer.from('123456789')
  t.equal(digestOf('CRC32', input).toString('hex'), 'cbf43926')
  t.equal(digestOf('CRC32C', input).toString('hex'), 'e3069283')
  t.equal(digestOf('CRC64NVME', input).toString('hex'), 'ae8b14860a799888')
})

// aws-sdk-js-v3 packages/middleware-flexible-checksums (integration spec) and
// packages/crc64-nvme (Crc64Nvme.spec.ts): the base64 values the SDK sends.
const sdkVectors: Array<[string, DigestAlgorithm, string]> = [
  ['', 'CRC32', 'AAAAAA=='],
  ['abc', 'CRC32', 'NSRBwg=='],
  ['Hello world', 'CRC32', 'i9aeUg=='],
  ['', 'CRC32C', 'AAAAAA=='],
  ['abc', 'CRC32C', 'Nks/tw=='],
  ['Hello world', 'CRC32C', 'crUfeA=='],
  ['', 'CRC64NVME', 'AAAAAAAAAAA='],
  ['abc', 'CRC64NVME', 'BeXKuz/B+us='],
  ['Hello world', 'CRC64NVME', 'OOJZ0D8xKts='],
  ['123456789', 'CRC64NVME', 'rosUhgp5mIg='],
  ['a', 'CRC64NVME', 'jC+ERbTL/Dw='],
  ['The quick brown fox jumps over the lazy dog', 'CRC64NVME', '12xUBUlUwUM='],
  ['\x00', 'CRC64NVME', '1dpQR+/shyg='],
  ['\x00\x00\x00\x00', 'CRC64NVME', 'bbgR5aHaUCQ='],
  ['', 'SHA1', '2jmj7l5rSw0yVb/vlWAYkK/YBwk='],
  ['abc', 'SHA1', 'qZk+NkcGgWq6PiVxeFDCbJzQ2J0='],
  ['Hello world', 'SHA1', 'e1AsOh9IyGCa4hLN+2Od7jlnP14='],
  ['', 'SHA256', '47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU='],
  ['abc', 'SHA256', 'ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0='],
  ['Hello world', 'SHA256', 'ZOyIygCyaOW6GjVnihtTFtIS9PNmskdyMlNKiuyjfzw='],
]

t.test('AWS SDK checksum vectors', async (t) => {
  for (const [input, algorithm, expected] of sdkVectors) {
    t.equal(toBase64(digestOf(algorithm, Buffer.from(input, 'latin1'))), expected, `${algorithm}(${JSON.stringify(input)})`)
  }
  // The SDK spec feeds "\xFF\xFF\xFF\xFF" through TextEncoder, i.e. as UTF-8 (8 bytes).
  t.equal(toBase64(digestOf('CRC64NVME', Buffer.from('\xFF\xFF\xFF\xFF', 'utf8'))), 'dqAywHboEF0=')
  for (const [byte, expected] of [[0x01, 'qrSgj9/ZDlE='], [0xff, '/wAAAAAAAAA='], [0x41, 'fe56MqW3Iz4=']] as const) {
    t.equal(toBase64(digestOf('CRC64NVME', Buffer.from([byte]))), expected, `CRC64NVME byte ${byte}`)
  }
  // Amazon S3 API reference, "Signature calculations for trailing headers": 66560 bytes of 'a'.
  t.equal(toBase64(digestOf('CRC32C', Buffer.alloc(66560, 'a'))), 'sOO8/Q==')
  t.equal(digestOf('MD5', Buffer.from('')).toString('hex'), 'd41d8cd98f00b204e9800998ecf8427e')
})

t.test('incremental updates equal one-shot digests, for every algorithm and any split', async (t) => {
  const data = randomBytes(100_003)
  const algorithms: DigestAlgorithm[] = [...checksumAlgorithms, 'MD5']
  for (const algorithm of algorithms) {
    const whole = digestOf(algorithm, data)
    for (let round = 0; round < 5; round++) {
      const checksum = createChecksum(algorithm)
      let offset = 0
      while (offset < data.length) {
        const size = Math.floor(Math.random() * 20_000)
        checksum.update(data.subarray(offset, offset + size))
        offset += size
      }
      t.same(checksum.digest(), whole, `${algorithm} round ${round}`)
    }
  }
  const crc = createChecksum('CRC32')
  crc.digest()
  t.throws(() => crc.update(Buffer.from('x')), { name: 'AssertionError' }, 'single use')
})

t.test('header names and algorithm names', async (t) => {
  t.equal(checksumHeaderName('CRC64NVME'), 'x-amz-checksum-crc64nvme')
  t.equal(checksumAlgorithmFromHeaderName('X-Amz-Checksum-CRC32C'), 'CRC32C')
  t.equal(checksumAlgorithmFromHeaderName('x-amz-checksum-mode'), undefined)
  t.equal(parseChecksumAlgorithm('crc32'), 'CRC32')
  t.throws(() => parseChecksumAlgorithm('MD5'), { code: 'InvalidRequest' })
})

t.test('client digests: strict base64 of the exact length', async (t) => {
  t.same(parseChecksumValue('CRC32', 'i9aeUg=='), Buffer.from('8bd69e52', 'hex'))
  t.same(parseChecksumValue('CRC32', ' i9aeUg== '), Buffer.from('8bd69e52', 'hex'), 'header whitespace is trimmed')
  for (const bad of ['i9aeUg', 'i9aeUg=', 'i9aeUgAA', 'i9ae Ug==', 'i9aeUh==', '', '*9aeUg==', 'AAAAAAAAAAA=']) {
    t.throws(() => parseChecksumValue('CRC32', bad), { code: 'InvalidRequest', status: 400 }, JSON.stringify(bad))
  }
  t.equal(decodeBase64Digest('1B2M2Y8AsgTpgAmY7PhCfg==', 16)?.toString('hex'), 'd41d8cd98f00b204e9800998ecf8427e')
  t.same(parseContentMd5('1B2M2Y8AsgTpgAmY7PhCfg=='), Buffer.from('d41d8cd98f00b204e9800998ecf8427e', 'hex'))
  t.throws(() => parseContentMd5('d41d8cd98f00b204e9800998ecf8427e'), { code: 'InvalidDigest' }, 'hex is not base64 of 16 bytes')
  verifyChecksum('CRC32', Buffer.from('8bd69e52', 'hex'), digestOf('CRC32', Buffer.from('Hello world')))
  t.throws(() => verifyChecksum('CRC32', Buffer.from('8bd69e53', 'hex'), digestOf('CRC32', Buffer.from('Hello world'))), {
    code: 'BadDigest',
    message: 'The CRC32 you specified did not match the calculated checksum.',
  })
  t.throws(() => verifyContentMd5(parseContentMd5('1B2M2Y8AsgTpgAmY7PhCfg=='), digestOf('MD5', Buffer.from('x'))), { code: 'BadDigest' })
})

t.test('multipart: composite checksums, full-object CRC combine, ETag', async (t) => {
  const parts = [randomBytes(5 * 1024 * 1024 + 17), randomBytes(1), randomBytes(0), randomBytes(777_777)]
  const whole = Buffer.concat(parts)
  for (const algorithm of ['CRC32', 'CRC32C', 'CRC64NVME'] as const) {
    const combined = fullObjectChecksum(
      algorithm,
      parts.map((part) => ({ digest: digestOf(algorithm, part), sizeBytes: part.length })),
    )
    t.same(combined, digestOf(algorithm, whole), `${algorithm} full object = CRC of the whole`)
  }
  const sameSize = [randomBytes(1000), randomBytes(1000), randomBytes(1000)]
  const sameSizeParts = sameSize.map((part) => ({ digest: digestOf('CRC64NVME', part), sizeBytes: part.length }))
  t.same(fullObjectChecksum('CRC64NVME', sameSizeParts), digestOf('CRC64NVME', Buffer.concat(sameSize)), 'equal-size parts')
  for (const algorithm of ['CRC32', 'CRC32C', 'SHA1', 'SHA256'] as const) {
    const digests = parts.map((part) => digestOf(algorithm, part))
    const expected = `${toBase64(digestOf(algorithm, Buffer.concat(digests)))}-4`
    t.equal(compositeChecksum(algorithm, digests), expected, `${algorithm} composite`)
  }
  const md5s = parts.map((part) => createHash('md5').update(part).digest())
  t.equal(multipartEtag(md5s), `${createHash('md5').update(Buffer.concat(md5s)).digest('hex')}-4`)
  t.ok(isChecksumTypeSupported('CRC64NVME', 'FULL_OBJECT'))
  t.notOk(isChecksumTypeSupported('CRC64NVME', 'COMPOSITE'))
  t.notOk(isChecksumTypeSupported('SHA256', 'FULL_OBJECT'))
  t.equal(defaultChecksumType('CRC64NVME'), 'FULL_OBJECT')
  t.equal(defaultChecksumType('CRC32'), 'COMPOSITE')
  t.throws(() => compositeChecksum('CRC64NVME', [Buffer.alloc(8)]), { name: 'AssertionError' })
})

t.test('which checksum a request carries', async (t) => {
  t.equal(parseRequestChecksum({}), undefined)
  t.same(parseRequestChecksum({ 'x-amz-checksum-crc32': 'i9aeUg==', 'x-amz-sdk-checksum-algorithm': 'CRC32' }), {
    algorithm: 'CRC32',
    location: 'header',
    expected: Buffer.from('8bd69e52', 'hex'),
  })
  const trailer = parseRequestChecksum({ 'x-amz-trailer': 'x-amz-checksum-crc64nvme', 'x-amz-sdk-checksum-algorithm': 'crc64nvme' })
  t.same(trailer, { algorithm: 'CRC64NVME', location: 'trailer', trailerName: 'x-amz-checksum-crc64nvme' })
  if (trailer?.location !== 'trailer') throw new Error('expected a trailer checksum')
  t.same(checksumFromTrailers(trailer, new Map([['x-amz-checksum-crc64nvme', 'OOJZ0D8xKts=']])), Buffer.from('OOJZ0D8xKts=', 'base64'))
  t.throws(() => checksumFromTrailers(trailer, new Map()), { code: 'MalformedTrailerError' })
  t.throws(() => checksumFromTrailers(trailer, new Map([['x-amz-checksum-crc64nvme', 'i9aeUg==']])), { code: 'InvalidRequest' })
  const refusals: Array<[Record<string, string>, string]> = [
    [{ 'x-amz-checksum-crc32': 'i9aeUg==', 'x-amz-checksum-sha1': 'e1AsOh9IyGCa4hLN+2Od7jlnP14=' }, 'two checksum headers'],
    [{ 'x-amz-checksum-crc32': 'i9aeUg==', 'x-amz-trailer': 'x-amz-checksum-crc32c' }, 'header and trailer'],
    [{ 'x-amz-sdk-checksum-algorithm': 'CRC32' }, 'algorithm without a value'],
    [{ 'x-amz-sdk-checksum-algorithm': 'SHA1', 'x-amz-checksum-crc32': 'i9aeUg==' }, 'algorithm disagrees'],
    [{ 'x-amz-trailer': 'x-amz-meta-foo' }, 'unsupported trailer'],
    [{ 'x-amz-checksum-crc32': 'not base64' }, 'malformed value'],
  ]
  for (const [headers, what] of refusals) t.throws(() => parseRequestChecksum(headers), { code: 'InvalidRequest' }, what)
})
