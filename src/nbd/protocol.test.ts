import t from 'tap'
import {
  decodeInfoRequest, decodeMetaContextRequest, decodeOptionHeader, decodeRequestHeader, decodeString, encodeBlockStatus,
  encodeExportNameReply, encodeGreeting, encodeInfoBlockSize, encodeInfoExport, encodeInfoString, encodeMetaContextReplyData,
  encodeOffsetDataHeader, encodeOffsetHole, encodeOptionReply, encodeServerReplyData, encodeSimpleReply, encodeStructuredDone,
  encodeStructuredError, isViolation, truncateUtf8,
  NBD_CMD_WRITE, NBD_EINVAL, NBD_FLAG_FIXED_NEWSTYLE, NBD_FLAG_NO_ZEROES, NBD_INFO_DESCRIPTION, NBD_INFO_NAME, NBD_OPT_GO,
  NBD_OPT_LIST, NBD_REP_ACK, NBD_REP_ERR_UNSUP, NBD_REPLY_FLAG_DONE, NBD_REPLY_TYPE_BLOCK_STATUS, NBD_REPLY_TYPE_ERROR,
  NBD_REPLY_TYPE_NONE, NBD_REPLY_TYPE_OFFSET_DATA, NBD_REPLY_TYPE_OFFSET_HOLE,
} from './protocol.ts'
import { encodeInfoRequestData, encodeMetaContextRequestData, encodeRequest } from './testing/raw-client.ts'

const handle = Buffer.from('0102030405060708', 'hex')

t.test('constants match the protocol document', async (t) => {
  // Spot checks against doc/proto.md values that are easy to get wrong.
  t.equal(NBD_REP_ERR_UNSUP, 0x80000001)
  t.equal(NBD_REPLY_TYPE_ERROR, 0x8001)
  t.equal(NBD_OPT_GO, 7)
})

t.test('greeting: NBDMAGIC, IHAVEOPT, handshake flags', async (t) => {
  const greeting = encodeGreeting(NBD_FLAG_FIXED_NEWSTYLE | NBD_FLAG_NO_ZEROES)
  t.equal(greeting.toString('hex'), Buffer.from('NBDMAGICIHAVEOPT').toString('hex') + '0003')
})

t.test('option header: magic checked, option and length decoded', async (t) => {
  const header = Buffer.alloc(16)
  Buffer.from('IHAVEOPT').copy(header)
  header.writeUInt32BE(NBD_OPT_LIST, 8)
  header.writeUInt32BE(0xfffffff0, 12)
  t.same(decodeOptionHeader(header), { option: NBD_OPT_LIST, lengthBytes: 0xfffffff0 })
  header[0] = 0
  t.ok(isViolation(decodeOptionHeader(header)))
})

t.test('option replies', async (t) => {
  const ack = encodeOptionReply(NBD_OPT_GO, NBD_REP_ACK)
  t.equal(ack.toString('hex'), '0003e889045565a9' + '00000007' + '00000001' + '00000000')
  const withData = encodeOptionReply(NBD_OPT_LIST, NBD_REP_ERR_UNSUP, Buffer.from('no'))
  t.equal(withData.readUInt32BE(12), 0x80000001)
  t.equal(withData.readUInt32BE(16), 2)
  t.equal(withData.subarray(20).toString(), 'no')
})

t.test('export name reply: 124 zeroes unless NO_ZEROES', async (t) => {
  t.equal(encodeExportNameReply(4096, 3, false).length, 134)
  const short = encodeExportNameReply(2 ** 40, 0x4d, true)
  t.equal(short.length, 10)
  t.equal(short.readBigUInt64BE(0), 2n ** 40n)
  t.equal(short.readUInt16BE(8), 0x4d)
})

t.test('info replies', async (t) => {
  const exportInfo = encodeInfoExport(1 << 30, 0x1234)
  t.equal(exportInfo.length, 12, 'NBD_INFO_EXPORT length is 12')
  t.equal(exportInfo.readUInt16BE(10), 0x1234)
  t.equal(encodeInfoBlockSize(512, 4096, 1 << 25).toString('hex'), '0003' + '00000200' + '00001000' + '02000000')
  t.equal(encodeInfoString(NBD_INFO_NAME, 'vol').toString('hex'), '0001' + Buffer.from('vol').toString('hex'))
  t.equal(encodeInfoString(NBD_INFO_DESCRIPTION, '').length, 2)
  t.equal(encodeServerReplyData('ab', 'desc').toString('hex'), '00000002' + Buffer.from('abdesc').toString('hex'))
  t.equal(encodeMetaContextReplyData(1, 'base:allocation').readUInt32BE(0), 1)
})

t.test('INFO/GO request data', async (t) => {
  t.same(decodeInfoRequest(encodeInfoRequestData('vol-1', [3, 1]), 4096), { exportName: 'vol-1', infoTypes: [3, 1] })
  t.same(decodeInfoRequest(encodeInfoRequestData('', []), 4096), { exportName: '', infoTypes: [] })
  const good = encodeInfoRequestData('vol', [1])
  t.ok(isViolation(decodeInfoRequest(good.subarray(0, 5), 4096)), 'shorter than 6 bytes')
  t.ok(isViolation(decodeInfoRequest(Buffer.concat([good, Buffer.alloc(1)]), 4096)), 'trailing byte')
  t.ok(isViolation(decodeInfoRequest(good.subarray(0, good.length - 1), 4096)), 'truncated info list')
  const longName = Buffer.from(good)
  longName.writeUInt32BE(100, 0)
  t.ok(isViolation(decodeInfoRequest(longName, 4096)), 'name longer than the data')
  t.ok(isViolation(decodeInfoRequest(encodeInfoRequestData('x'.repeat(20), []), 10)), 'name over the string limit')
  t.ok(isViolation(decodeInfoRequest(encodeInfoRequestData('a\u0000b', []), 4096)), 'NUL in the name')
})

t.test('meta context request data', async (t) => {
  t.same(decodeMetaContextRequest(encodeMetaContextRequestData('vol', ['base:allocation', 'qemu:dirty']), 4096), { exportName: 'vol', queries: ['base:allocation', 'qemu:dirty'] })
  t.same(decodeMetaContextRequest(encodeMetaContextRequestData('', []), 4096), { exportName: '', queries: [] })
  const good = encodeMetaContextRequestData('vol', ['base:'])
  for (let cut = 0; cut < good.length; cut += 1) t.ok(isViolation(decodeMetaContextRequest(good.subarray(0, cut), 4096)), `truncated at ${cut}`)
  t.ok(isViolation(decodeMetaContextRequest(Buffer.concat([good, Buffer.alloc(2)]), 4096)), 'trailing bytes')
  const hugeCount = Buffer.from(encodeMetaContextRequestData('v', []))
  hugeCount.writeUInt32BE(0xffffffff, 5)
  t.ok(isViolation(decodeMetaContextRequest(hugeCount, 4096)), 'a count that cannot fit is rejected without looping')
})

t.test('strings: UTF-8, no NUL, bounded', async (t) => {
  t.equal(decodeString(Buffer.from('vol-ü'), 4096), 'vol-ü')
  t.ok(isViolation(decodeString(Buffer.from([0xc3, 0x28]), 4096)), 'invalid UTF-8')
  t.ok(isViolation(decodeString(Buffer.from([0x41, 0]), 4096)), 'NUL')
  t.ok(isViolation(decodeString(Buffer.alloc(5, 0x41), 4)), 'too long')
  t.equal(truncateUtf8('aé', 2).toString(), 'a', 'cut before a partial character')
  t.equal(truncateUtf8('abc', 10).toString(), 'abc')
})

t.test('request header', async (t) => {
  const bytes = encodeRequest({ type: NBD_CMD_WRITE, flags: 1, offsetBytes: 4096n, lengthBytes: 512 }, 0x0102030405060708n)
  t.same(decodeRequestHeader(bytes), { flags: 1, type: NBD_CMD_WRITE, handle, offsetBytes: 4096, lengthBytes: 512 })
  const huge = decodeRequestHeader(encodeRequest({ type: 0, offsetBytes: 2n ** 64n - 1n, lengthBytes: 1 }, 1n))
  t.ok(!isViolation(huge) && huge.offsetBytes > Number.MAX_SAFE_INTEGER, 'offsets past 2^53 stay larger than any export')
  const bad = Buffer.from(bytes)
  bad.writeUInt32BE(0x12560953, 0)
  t.ok(isViolation(decodeRequestHeader(bad)), 'historic request magic is rejected')
})

t.test('simple and structured replies', async (t) => {
  t.equal(encodeSimpleReply(handle, NBD_EINVAL).toString('hex'), '67446698' + '00000016' + handle.toString('hex'))
  const done = encodeStructuredDone(handle)
  t.equal(done.toString('hex'), '668e33ef' + '0001' + '0000' + handle.toString('hex') + '00000000')
  t.equal(done.readUInt16BE(6), NBD_REPLY_TYPE_NONE)
  const data = encodeOffsetDataHeader(handle, NBD_REPLY_FLAG_DONE, 8192, 4096)
  t.equal(data.readUInt16BE(6), NBD_REPLY_TYPE_OFFSET_DATA)
  t.equal(data.readUInt32BE(16), 4096 + 8, 'payload length counts the offset')
  t.equal(data.readBigUInt64BE(20), 8192n)
  const hole = encodeOffsetHole(handle, 0, 0, 65536)
  t.equal(hole.readUInt16BE(6), NBD_REPLY_TYPE_OFFSET_HOLE)
  t.equal(hole.readUInt32BE(16), 12)
  t.equal(hole.readUInt32BE(28), 65536)
  const status = encodeBlockStatus(handle, NBD_REPLY_FLAG_DONE, 1, [{ lengthBytes: 4096, status: 3 }, { lengthBytes: 512, status: 0 }])
  t.equal(status.readUInt16BE(6), NBD_REPLY_TYPE_BLOCK_STATUS)
  t.equal(status.readUInt32BE(16), 4 + 16)
  t.equal(status.subarray(20).toString('hex'), '00000001' + '00001000' + '00000003' + '00000200' + '00000000')
  const error = encodeStructuredError(handle, NBD_EINVAL, 'bad')
  t.equal(error.readUInt16BE(4), NBD_REPLY_FLAG_DONE)
  t.equal(error.readUInt16BE(6), NBD_REPLY_TYPE_ERROR)
  t.equal(error.readUInt32BE(16), 6 + 3)
  t.equal(error.readUInt32BE(20), NBD_EINVAL)
  t.equal(error.subarray(26).toString(), 'bad')
  t.equal(encodeStructuredError(handle, NBD_EINVAL, 'x'.repeat(5000)).readUInt16BE(24), 4096, 'messages are capped at 4096 bytes')
  t.throws(() => encodeStructuredError(handle, 0, 'no'), 'an error chunk needs a nonzero errno')
  t.throws(() => encodeBlockStatus(handle, 0, 1, []), 'block status needs a descriptor')
})
