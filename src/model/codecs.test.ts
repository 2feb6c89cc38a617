import t from 'tap'
import { chunkIdFrom } from '../lib/index.ts'
import { decodeKey, key } from '../meta/index.ts'
import {
  currentSpace,
  decodeBucket,
  decodeNullPointer,
  decodePart,
  decodeSegment,
  decodeUpload,
  decodeVersion,
  encodeBucket,
  encodeNullPointer,
  encodePart,
  encodeSegment,
  encodeUpload,
  encodeVersion,
  newUploadId,
  newVersionId,
  nextOrder,
  orderOfVersionId,
  pastStringPrefix,
  stringPrefixBytes,
  versionKey,
  type VersionRecord,
} from './index.ts'

const random = { bytes: (length: number) => Buffer.alloc(length, 0xab) }
const id = (fill: number) => chunkIdFrom(Buffer.alloc(32, fill))

const base: Omit<VersionRecord, 'data' | 'sizeBytes'> = {
  order: 5,
  versionId: 'null',
  deleteMarker: false,
  etag: 'abc',
  contentHeaders: { contentType: 'text/plain' },
  userMetadata: { a: 'b' },
  tags: [{ key: 'k', value: 'v' }],
  storageClass: 'STANDARD',
  owner: 'root',
  lastModifiedMs: 1000,
}

t.test('version records round-trip every data kind', async (t) => {
  const records: VersionRecord[] = [
    { ...base, sizeBytes: 3, data: { kind: 'inline', bytes: Buffer.from('abc') } },
    { ...base, sizeBytes: 30, checksum: { algorithm: 'CRC32', type: 'FULL_OBJECT', value: 'AAAAAA==' }, data: { kind: 'chunks', chunks: [{ id: id(1), sizeBytes: 10 }, { id: id(2), sizeBytes: 20 }] } },
    { ...base, sizeBytes: 7, data: { kind: 'segments', manifestId: 'm', multipart: true, segments: [{ index: 1, sizeBytes: 3, chunkCount: 1, checksum: 'x' }, { index: 4, sizeBytes: 4, chunkCount: 2 }] } },
    { ...base, etag: '', deleteMarker: true, sizeBytes: 0, data: { kind: 'none' } },
  ]
  for (const record of records) t.same(decodeVersion(encodeVersion(record), 'v'), record)
})

t.test('corrupt version records are IO_ERROR', async (t) => {
  const good = encodeVersion({ ...base, sizeBytes: 3, data: { kind: 'inline', bytes: Buffer.from('abc') } })
  t.throws(() => decodeVersion(good.subarray(0, 3), 'v'), { code: 'IO_ERROR' })
  const wrongSize = encodeVersion({ ...base, sizeBytes: 3, data: { kind: 'inline', bytes: Buffer.from('abc') } })
  t.throws(() => decodeVersion(wrongSize.subarray(0, wrongSize.length - 1), 'v'), { code: 'IO_ERROR' })
  t.throws(() => decodeVersion(Buffer.from([9, 0, 0, 0, 0]), 'v'), { code: 'IO_ERROR' })
})

t.test('other records round-trip', async (t) => {
  const bucket = { id: 3, name: 'b', owner: 'root', createdMs: 1, region: 'us-east-1', versioning: 'Suspended' as const, tags: [] }
  t.same(decodeBucket(encodeBucket(bucket), 'b'), bucket)
  const upload = { uploadId: 'u', key: 'k', initiatedMs: 2, owner: 'o', storageClass: 'GLACIER' as const, contentHeaders: {}, userMetadata: {}, tags: [], checksumAlgorithm: 'SHA256' as const, checksumType: 'COMPOSITE' as const }
  t.same(decodeUpload(encodeUpload(upload), 'u'), upload)
  const part = { partNumber: 2, etag: 'e', sizeBytes: 9, chunkCount: 1, lastModifiedMs: 3 }
  t.same(decodePart(encodePart(part), 'p'), part)
  const chunks = [{ id: id(7), sizeBytes: 100 }]
  t.same(decodeSegment(encodeSegment(chunks), 's'), chunks)
  t.equal(decodeNullPointer(encodeNullPointer(12345), 'n'), 12345)
})

t.test('version ids name their order; newer versions sort first', async (t) => {
  const first = nextOrder(1_700_000_000_000, undefined)
  const second = nextOrder(1_600_000_000_000, first) // clock stepped back: still newer
  t.ok(second > first)
  const versionId = newVersionId(second, random)
  t.equal(versionId.length, 30)
  t.equal(orderOfVersionId(versionId), second)
  t.equal(orderOfVersionId('null'), undefined)
  t.equal(orderOfVersionId('zz'), undefined)
  t.ok(Buffer.compare(versionKey(1, 'k', second), versionKey(1, 'k', first)) < 0)
  t.ok(Buffer.compare(versionKey(1, 'k', first), versionKey(1, 'k/', second)) < 0, "every version of 'k' sorts before 'k/'")
  const uploadId = newUploadId(1_700_000_000_000, random)
  t.match(uploadId, /^[0-9a-f]{32}$/)
})

t.test('string prefix bounds cover exactly the keys that start with the prefix', async (t) => {
  const space = currentSpace(1)
  const keys = ['a', 'a/', 'a/b', 'a/b/c', 'a\0', 'a.', 'a0', 'b', 'é', 'a/\u{10ffff}']
  for (const prefix of ['a/', 'a', '', 'é', 'a/b']) {
    const start = stringPrefixBytes(space, prefix)
    const end = pastStringPrefix(space, prefix)
    for (const objectKey of keys) {
      const encoded = key('s3', 'cur', 1, objectKey)
      const inside = Buffer.compare(encoded, start) >= 0 && Buffer.compare(encoded, end) < 0
      t.equal(inside, objectKey.startsWith(prefix), `${JSON.stringify(objectKey)} vs prefix ${JSON.stringify(prefix)}`)
      t.equal(decodeKey(encoded)[3], objectKey)
    }
  }
})
