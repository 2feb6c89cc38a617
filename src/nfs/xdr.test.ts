import t from 'tap'
import { XdrDecodeError, XdrReader, XdrWriter } from './xdr.ts'
import { RecordReader, RecordTooLargeError, recordMark } from './rpc-record.ts'
import { SeededRandom } from './testing/seeded-random.ts'

t.test('round trip of every type', async (t) => {
  const big = Buffer.alloc(5000, 7)
  const writer = new XdrWriter()
    .u32(0xffff_ffff).i32(-5).u64(0xffff_ffff_ffff_ffffn).i64(-2n).bool(true)
    .opaque(Buffer.from([1, 2, 3])).string('héllo').opaqueFixed(Buffer.from([9]))
    .array([1, 2, 3], (w, v) => w.u32(v)).opaque(big).u32(42)
  const reader = new XdrReader(writer.toBuffer())
  t.equal(reader.u32(), 0xffff_ffff)
  t.equal(reader.i32(), -5)
  t.equal(reader.u64(), 0xffff_ffff_ffff_ffffn)
  t.equal(reader.i64(), -2n)
  t.equal(reader.bool(), true)
  t.same([...reader.opaque(10)], [1, 2, 3])
  t.equal(reader.string(10), 'héllo')
  t.same([...reader.opaqueFixed(1)], [9])
  t.same(reader.array(3, (r) => r.u32()), [1, 2, 3])
  t.ok(reader.opaque(5000).equals(big))
  t.equal(reader.u32(), 42)
  reader.expectEnd()
  t.equal(writer.length % 4, 0, 'everything is padded to 4 bytes')
})

t.test('patching a reserved word after large references', async (t) => {
  const writer = new XdrWriter()
  const mark = writer.reserveU32()
  writer.opaque(Buffer.alloc(3000, 1))
  writer.patchU32(mark, 77)
  const reader = new XdrReader(writer.toBuffer())
  t.equal(reader.u32(), 77)
  t.equal(reader.opaque(4000).length, 3000)
})

t.test('bounded reads refuse forged lengths with a typed error', async (t) => {
  const forged = new XdrWriter().u32(0x7fff_fff0).toBuffer()
  t.throws(() => new XdrReader(forged).opaque(1 << 20), XdrDecodeError, 'length above the limit')
  const longButAllowed = new XdrWriter().u32(100).toBuffer()
  t.throws(() => new XdrReader(longButAllowed).opaque(1000), XdrDecodeError, 'length above what remains')
  t.throws(() => new XdrReader(new XdrWriter().u32(1_000_000).toBuffer()).array(2_000_000, (r) => r.u32()), XdrDecodeError, 'count above what remains')
  t.throws(() => new XdrReader(new XdrWriter().u32(5).toBuffer()).array(4, (r) => r.u32()), XdrDecodeError, 'count above the limit')
  t.throws(() => new XdrReader(Buffer.alloc(3)).u32(), XdrDecodeError)
  t.throws(() => new XdrReader(new XdrWriter().u32(2).toBuffer()).bool(), XdrDecodeError, 'a bool is 0 or 1')
  t.throws(() => new XdrReader(new XdrWriter().u64(2n ** 60n).toBuffer()).u64Number(), XdrDecodeError)
  t.throws(() => new XdrReader(Buffer.alloc(8)).expectEnd(), XdrDecodeError)
  const error = t.throws(() => new XdrReader(Buffer.alloc(0)).u32()) as unknown as XdrDecodeError
  t.equal(error.code, 'INVALID_ARGUMENT')
})

t.test('random bytes only ever raise XdrDecodeError', async (t) => {
  const random = new SeededRandom(Number(process.env.NFS_FUZZ_SEED ?? 1234))
  t.comment(`seed ${random.seed}`)
  for (let round = 0; round < 2000; round += 1) {
    const reader = new XdrReader(random.bytes(random.below(64)))
    try {
      for (let step = 0; step < 20; step += 1) {
        switch (random.below(6)) {
          case 0: reader.u32(); break
          case 1: reader.u64(); break
          case 2: reader.opaque(random.below(100)); break
          case 3: reader.string(16); break
          case 4: reader.array(8, (r) => r.u32()); break
          case 5: reader.optional((r) => r.bool()); break
        }
      }
    } catch (error) {
      if (!(error instanceof XdrDecodeError)) t.fail(`round ${round} (seed ${random.seed}) threw ${String(error)}`)
    }
  }
  t.pass('2000 rounds of random bytes')
})

t.test('record marking: fragments, split headers, limits', async (t) => {
  const reader = new RecordReader(64)
  const body = Buffer.from('abcdefgh')
  const first = Buffer.concat([Buffer.from([0, 0, 0, 3]), body.subarray(0, 3)])
  const last = Buffer.concat([recordMark(5), body.subarray(3)])
  const stream = Buffer.concat([first, last, recordMark(0)])
  const records: Buffer[] = []
  for (const byte of stream) records.push(...reader.push(Buffer.from([byte])))
  t.equal(records.length, 2, 'one byte at a time still gives whole records')
  t.equal(records[0]?.toString(), 'abcdefgh')
  t.equal(records[1]?.length, 0, 'an empty last fragment ends an empty record')
  t.throws(() => new RecordReader(10).push(recordMark(11)), RecordTooLargeError, 'oversized fragment is refused from its header')
  const multi = new RecordReader(10)
  t.throws(() => {
    multi.push(Buffer.concat([Buffer.from([0, 0, 0, 6]), Buffer.alloc(6)]))
    multi.push(recordMark(6))
  }, RecordTooLargeError, 'the limit is on the whole record')
})

t.test('u64 and i64 encode numbers as they encode bigints', async (t) => {
  for (const value of [0, 1, 0xffff_ffff, 2 ** 32, 2 ** 40 + 5, Number.MAX_SAFE_INTEGER]) {
    t.same(new XdrWriter().u64(value).toBuffer(), new XdrWriter().u64(BigInt(value)).toBuffer(), `u64 ${value}`)
  }
  for (const value of [0, 1, -1, -(2 ** 32), -(2 ** 32) - 1, 2 ** 31, -(2 ** 31) - 7, Number.MAX_SAFE_INTEGER, Number.MIN_SAFE_INTEGER]) {
    const number = new XdrWriter().i64(value).toBuffer()
    t.same(number, new XdrWriter().i64(BigInt(value)).toBuffer(), `i64 ${value}`)
    t.equal(number.readBigInt64BE(0), BigInt(value))
  }
})

t.test('appendCopy copies, so the source can be reset and reused', async (t) => {
  const body = new XdrWriter().u32(7)
  const entry = new XdrWriter()
  entry.reset().u32(1).string('one')
  body.appendCopy(entry)
  entry.reset().u32(2).opaque(Buffer.alloc(2000, 9))
  body.appendCopy(entry)
  entry.reset().u32(3)
  const expected = new XdrWriter().u32(7).u32(1).string('one').u32(2).opaque(Buffer.alloc(2000, 9)).toBuffer()
  t.same(body.toBuffer(), expected)
  t.equal(body.length, expected.length)
})
