import t from 'tap'
import { nbdLimits, storeErrorCodes } from '../lib/index.ts'
import { blockStatusDescriptors } from './commands.ts'
import { nbdErrnoFor, optionErrorFor } from './errors.ts'
import {
  NBD_CMD_BLOCK_STATUS, NBD_CMD_CACHE, NBD_CMD_FLAG_DF, NBD_CMD_FLAG_FAST_ZERO, NBD_CMD_FLAG_FUA, NBD_CMD_FLAG_NO_HOLE,
  NBD_CMD_FLAG_REQ_ONE, NBD_CMD_FLUSH, NBD_CMD_READ, NBD_CMD_TRIM, NBD_CMD_WRITE, NBD_CMD_WRITE_ZEROES, NBD_EINVAL, NBD_EIO,
  NBD_ENOSPC, NBD_ENOTSUP, NBD_EPERM, NBD_ESHUTDOWN, NBD_FLAG_CAN_MULTI_CONN, NBD_FLAG_READ_ONLY, NBD_FLAG_SEND_DF,
  NBD_FLAG_SEND_FAST_ZERO, NBD_FLAG_SEND_TRIM, NBD_FLAG_SEND_WRITE_ZEROES, NBD_REP_ERR_POLICY, NBD_REP_ERR_UNKNOWN,
  type RequestHeader,
} from './protocol.ts'
import { checkRequest } from './request-rules.ts'
import { advertisedBlockSizes, transmissionFlagsFor, type ExportInfo, type Session } from './session.ts'
import { MemoryExportProvider, type MemoryExportOptions } from './testing/memory-provider.ts'

const MiB = 1024 * 1024

async function sessionFor(options: Partial<MemoryExportOptions>, extra: { structured?: boolean; allocation?: boolean } = {}): Promise<Session> {
  const provider = new MemoryExportProvider([{ name: 'vol', sizeBytes: 8 * MiB, blockSizes: { minimumBytes: 512, maximumBytes: 1 * MiB }, ...options }])
  const blockExport = await provider.open('vol', 'test')
  return {
    exportName: 'vol',
    blockExport,
    structuredReplies: extra.structured ?? true,
    allocationContextId: extra.allocation === false ? undefined : 1,
    transmissionFlags: transmissionFlagsFor(blockExport, extra.structured ?? true),
    blockSizes: advertisedBlockSizes(blockExport, { ...nbdLimits }),
  }
}

function request(type: number, offsetBytes: number, lengthBytes: number, flags = 0): RequestHeader {
  return { type, flags, offsetBytes, lengthBytes, handle: Buffer.alloc(8) }
}

t.test('valid requests pass', async (t) => {
  const session = await sessionFor({})
  for (const type of [NBD_CMD_READ, NBD_CMD_WRITE, NBD_CMD_TRIM, NBD_CMD_WRITE_ZEROES, NBD_CMD_CACHE, NBD_CMD_BLOCK_STATUS]) {
    t.equal(checkRequest(request(type, 4096, 4096), session), undefined, `type ${type}`)
    t.equal(checkRequest(request(type, 8 * MiB - 512, 512, NBD_CMD_FLAG_FUA), session), undefined, `type ${type} at the end, with FUA`)
  }
  t.equal(checkRequest(request(NBD_CMD_FLUSH, 0, 0), session), undefined)
  t.equal(checkRequest(request(NBD_CMD_READ, 0, 0), session), undefined, 'zero-length read is not an error')
  t.equal(checkRequest(request(NBD_CMD_READ, 0, 1 * MiB, NBD_CMD_FLAG_DF), session), undefined)
  t.equal(checkRequest(request(NBD_CMD_WRITE_ZEROES, 0, 8 * MiB, NBD_CMD_FLAG_NO_HOLE | NBD_CMD_FLAG_FAST_ZERO), session), undefined, 'FAST_ZERO may exceed the maximum block size')
  t.equal(checkRequest(request(NBD_CMD_TRIM, 0, 8 * MiB), session), undefined, 'TRIM may exceed the maximum block size')
  t.equal(checkRequest(request(NBD_CMD_BLOCK_STATUS, 0, 8 * MiB, NBD_CMD_FLAG_REQ_ONE), session), undefined)
})

t.test('each rule gives the errno the spec asks for', async (t) => {
  const session = await sessionFor({})
  const cases: Array<[string, RequestHeader, number]> = [
    ['unknown command', request(9, 0, 512), NBD_EINVAL],
    ['unknown flag', request(NBD_CMD_READ, 0, 512, 1 << 9), NBD_EINVAL],
    ['NO_HOLE on a write', request(NBD_CMD_WRITE, 0, 512, NBD_CMD_FLAG_NO_HOLE), NBD_EINVAL],
    ['REQ_ONE on a read', request(NBD_CMD_READ, 0, 512, NBD_CMD_FLAG_REQ_ONE), NBD_EINVAL],
    ['write past the end', request(NBD_CMD_WRITE, 8 * MiB - 512, 1024), NBD_ENOSPC],
    ['write zeroes past the end', request(NBD_CMD_WRITE_ZEROES, 8 * MiB, 512), NBD_ENOSPC],
    ['read past the end', request(NBD_CMD_READ, 8 * MiB, 512), NBD_EINVAL],
    ['trim past the end', request(NBD_CMD_TRIM, 2 ** 60, 512), NBD_EINVAL],
    ['block status past the end', request(NBD_CMD_BLOCK_STATUS, 8 * MiB - 512, 1024), NBD_EINVAL],
    ['offset near 2^64', request(NBD_CMD_READ, Number(2n ** 64n - 512n), 512), NBD_EINVAL],
    ['misaligned offset', request(NBD_CMD_READ, 100, 512), NBD_EINVAL],
    ['misaligned length', request(NBD_CMD_WRITE, 0, 100), NBD_EINVAL],
    ['read over the maximum block size', request(NBD_CMD_READ, 0, 2 * MiB), NBD_EINVAL],
    ['cache over the maximum block size', request(NBD_CMD_CACHE, 0, 2 * MiB), NBD_EINVAL],
    ['write zeroes over the maximum without FAST_ZERO', request(NBD_CMD_WRITE_ZEROES, 0, 2 * MiB), NBD_EINVAL],
    ['flush with a length', request(NBD_CMD_FLUSH, 0, 512), NBD_EINVAL],
    ['block status of zero bytes', request(NBD_CMD_BLOCK_STATUS, 0, 0), NBD_EINVAL],
  ]
  for (const [name, header, errno] of cases) t.equal(checkRequest(header, session)?.errno, errno, name)
})

t.test('what was not negotiated or advertised is refused', async (t) => {
  const readOnly = await sessionFor({ readOnly: true })
  for (const type of [NBD_CMD_WRITE, NBD_CMD_TRIM, NBD_CMD_WRITE_ZEROES]) t.equal(checkRequest(request(type, 0, 512), readOnly)?.errno, NBD_EPERM, `type ${type} on read-only`)
  t.equal(checkRequest(request(NBD_CMD_READ, 0, 512), readOnly), undefined, 'reads are fine')
  const simple = await sessionFor({}, { structured: false, allocation: false })
  t.equal(checkRequest(request(NBD_CMD_READ, 0, 512, NBD_CMD_FLAG_DF), simple)?.errno, NBD_EINVAL, 'DF needs structured replies')
  t.equal(checkRequest(request(NBD_CMD_BLOCK_STATUS, 0, 512), simple)?.errno, NBD_EINVAL, 'block status needs a meta context')
  const plain = await sessionFor({ canTrim: false, canWriteZeroes: false })
  t.equal(checkRequest(request(NBD_CMD_TRIM, 0, 512), plain)?.errno, NBD_EINVAL, 'trim not advertised')
  t.equal(checkRequest(request(NBD_CMD_WRITE_ZEROES, 0, 512), plain)?.errno, NBD_EINVAL, 'zeroes not advertised')
})

t.test('transmission flags follow the export', async (t) => {
  const info = (overrides: Partial<ExportInfo>): ExportInfo => ({
    name: 'v', description: '', sizeBytes: MiB, readOnly: false, blockSizes: { minimumBytes: 1, preferredBytes: 4096, maximumBytes: MiB },
    canTrim: true, canWriteZeroes: true, canFastZero: false, multiConn: false, ...overrides,
  })
  const writable = transmissionFlagsFor(info({}), false)
  t.ok(writable & NBD_FLAG_SEND_TRIM && writable & NBD_FLAG_SEND_WRITE_ZEROES && writable & NBD_FLAG_SEND_FAST_ZERO)
  t.notOk(writable & NBD_FLAG_SEND_DF, 'no DF without structured replies')
  t.notOk(writable & NBD_FLAG_CAN_MULTI_CONN, 'multi-conn only when the export says so')
  t.ok(transmissionFlagsFor(info({ multiConn: true }), true) & (NBD_FLAG_CAN_MULTI_CONN | NBD_FLAG_SEND_DF))
  const readOnly = transmissionFlagsFor(info({ readOnly: true }), true)
  t.ok(readOnly & NBD_FLAG_READ_ONLY)
  t.notOk(readOnly & (NBD_FLAG_SEND_TRIM | NBD_FLAG_SEND_WRITE_ZEROES | NBD_FLAG_SEND_FAST_ZERO), 'read-only exports advertise no trim or zeroes')
  t.notOk(transmissionFlagsFor(info({ canWriteZeroes: false }), true) & NBD_FLAG_SEND_FAST_ZERO, 'FAST_ZERO only with WRITE_ZEROES')
})

t.test('block sizes: the maximum is capped by the limit and stays a multiple of the minimum', async (t) => {
  const info: ExportInfo = {
    name: 'v', description: '', sizeBytes: 1 << 30, readOnly: false, blockSizes: { minimumBytes: 4096, preferredBytes: 65536, maximumBytes: 1 << 30 },
    canTrim: true, canWriteZeroes: true, canFastZero: true, multiConn: true,
  }
  t.same(advertisedBlockSizes(info, { ...nbdLimits }), { minimumBytes: 4096, preferredBytes: 65536, maximumBytes: 32 * MiB })
  t.same(advertisedBlockSizes(info, { ...nbdLimits, requestMaxBytes: 3 * MiB }).maximumBytes, 2 * MiB)
  t.throws(() => advertisedBlockSizes({ ...info, blockSizes: { minimumBytes: 3000, preferredBytes: 4096, maximumBytes: MiB } }, { ...nbdLimits }), 'a bad export is a bug')
})

t.test('block status descriptors: merged, clipped, bounded, never empty', async (t) => {
  const hole = { hole: true, zero: true }
  const data = { hole: false, zero: false }
  t.same(blockStatusDescriptors([{ lengthBytes: 4096, ...hole }, { lengthBytes: 4096, ...hole }, { lengthBytes: 8192, ...data }], 12288, 100), [
    { lengthBytes: 8192, status: 3 }, { lengthBytes: 4096, status: 0 },
  ])
  t.same(blockStatusDescriptors([{ lengthBytes: 4096, ...data }, { lengthBytes: 4096, ...hole }], 16384, 1), [{ lengthBytes: 4096, status: 0 }], 'REQ_ONE: one descriptor')
  t.same(blockStatusDescriptors([{ lengthBytes: 1 << 20, ...hole }], 512, 1), [{ lengthBytes: 512, status: 3 }], 'never longer than asked')
  t.same(blockStatusDescriptors([], 512, 10), [{ lengthBytes: 512, status: 0 }], 'status 0 when the export says nothing')
  t.same(blockStatusDescriptors([{ lengthBytes: 512, hole: false, zero: true }], 512, 10), [{ lengthBytes: 512, status: 2 }])
})

t.test('every StoreError code maps to an NBD errno and an option error', async (t) => {
  const allowed = new Set([NBD_EPERM, NBD_EIO, NBD_EINVAL, NBD_ENOSPC, NBD_ENOTSUP, NBD_ESHUTDOWN])
  for (const code of storeErrorCodes) {
    t.ok(allowed.has(nbdErrnoFor(code)), `${code} -> an errno the spec defines`)
    t.ok(optionErrorFor(code) >= 2 ** 31, `${code} -> an NBD_REP_ERR_*`)
  }
  t.equal(nbdErrnoFor('NO_SPACE'), NBD_ENOSPC)
  t.equal(nbdErrnoFor('ACCESS_DENIED'), NBD_EPERM)
  t.equal(nbdErrnoFor('NOT_IMPLEMENTED'), NBD_ENOTSUP)
  t.equal(optionErrorFor('NOT_FOUND'), NBD_REP_ERR_UNKNOWN)
  t.equal(optionErrorFor('INVALID_STATE'), NBD_REP_ERR_POLICY)
})
