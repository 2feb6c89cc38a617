import t from 'tap'
import { decodeJsonRecord, encodeJsonRecord, encodeRecord, recordBody, recordVersion } from './record.ts'

t.test('JSON records round-trip with their version byte', async (t) => {
  const value = { hash: 'blake3', createdMs: 1700000000000, tiers: ['hot', 'cold'], nested: { ok: true } }
  const bytes = encodeJsonRecord(3, value)
  t.equal(bytes[0], 3)
  t.equal(recordVersion(bytes), 3)
  t.same(decodeJsonRecord(bytes), { version: 3, value })
  t.same(decodeJsonRecord(encodeJsonRecord(1, null)), { version: 1, value: null })
})

t.test('binary records expose their body', async (t) => {
  const bytes = encodeRecord(2, Buffer.from([9, 8, 7]))
  t.same(bytes, Buffer.from([2, 9, 8, 7]))
  t.same(recordBody(bytes, [1, 2]), { version: 2, body: Buffer.from([9, 8, 7]) })
  t.throws(() => recordBody(bytes, [1], 'pack 7'), { code: 'IO_ERROR', message: /pack 7 is corrupt/ })
})

t.test('corrupt records are IO_ERROR', async (t) => {
  t.throws(() => recordVersion(Buffer.alloc(0)), { code: 'IO_ERROR' })
  t.throws(() => recordVersion(Buffer.of(0, 1)), { code: 'IO_ERROR' })
  t.throws(() => decodeJsonRecord(Buffer.from('\u0001{"a":'), 'sys/format'), { code: 'IO_ERROR', message: /sys\/format is corrupt/ })
  t.throws(() => decodeJsonRecord(Buffer.of(1, 0x22, 0xff, 0x22)), { code: 'IO_ERROR' }, 'invalid UTF-8')
  t.throws(() => decodeJsonRecord(Buffer.of(1)), { code: 'IO_ERROR' }, 'empty body')
})

t.test('encoding mistakes are TypeError', async (t) => {
  for (const version of [0, 256, 1.5, -1]) t.throws(() => encodeJsonRecord(version, {}), TypeError)
  t.throws(() => encodeJsonRecord(1, undefined), TypeError)
  t.throws(() => encodeJsonRecord(1, 1n), TypeError)
})
