// The ExportProvider contract (src/volumes/api.ts): attachment rules, read-only snapshot
// exports, sizes per connection, block status, released exports, error subjects.
import t from 'tap'
import { stat } from 'node:fs/promises'
import { join } from 'node:path'
import { GiB, KiB, MiB } from '../lib/index.ts'
import { volumeTestSetup } from './testing.ts'

const signal = new AbortController().signal
const io = { fua: false, signal }

t.test('one client at a time unless multi-attach; several connections of one client', async (t) => {
  const setup = await volumeTestSetup()
  t.teardown(() => setup.cleanup())
  const volume = await setup.service.createVolume({ sizeBytes: 1 * GiB })
  const first = await setup.service.open(volume.volumeId, '10.0.0.1:export')
  const second = await setup.service.open(volume.volumeId, '10.0.0.1:export')
  t.match(await setup.service.describeVolume(volume.volumeId), { state: 'in-use', attachments: [{ client: '10.0.0.1:export', connections: 2 }] })
  await t.rejects(setup.service.open(volume.volumeId, '10.0.0.2:export'), { code: 'INVALID_STATE', subject: 'volume', message: /attached to another client \(10\.0\.0\.1:export\)/ })
  await first.release()
  await first.release() // idempotent
  await t.rejects(setup.service.open(volume.volumeId, '10.0.0.2:export'), { code: 'INVALID_STATE' }, 'still attached by the second connection')
  await t.rejects(first.read(0, 512, signal), { code: 'CLOSED' }, 'a released export refuses I/O')
  await second.release()
  const other = await setup.service.open(volume.volumeId, '10.0.0.2:export')
  await other.release()
  t.match(await setup.service.describeVolume(volume.volumeId), { state: 'available', attachments: [] })

  const shared = await setup.service.createVolume({ sizeBytes: 4 * GiB, type: 'io2', iops: 1000, multiAttach: true })
  const a = await setup.service.open(shared.volumeId, 'a')
  const b = await setup.service.open(shared.volumeId, 'b')
  await a.write(0, Buffer.alloc(4 * KiB, 1), io)
  await a.flush(signal)
  t.ok((await b.read(0, 4 * KiB, signal)).equals(Buffer.alloc(4 * KiB, 1)), 'multi-attach clients share the data')
  await t.rejects(setup.service.modifyVolume(shared.volumeId, { multiAttach: false }), { code: 'INVALID_STATE' })
  await Promise.all([a.release(), b.release()])
})

t.test('describe, list, unknown names, new size for new connections', async (t) => {
  const setup = await volumeTestSetup()
  t.teardown(() => setup.cleanup())
  const volume = await setup.service.createVolume({ sizeBytes: 1 * GiB, encrypted: true })
  t.match(await setup.service.describe(volume.volumeId), {
    name: volume.volumeId,
    sizeBytes: GiB,
    readOnly: false,
    blockSizes: { minimumBytes: 4096, preferredBytes: 4096, maximumBytes: 32 * MiB },
    canTrim: true,
    canWriteZeroes: true,
    canFastZero: true,
    multiConn: true,
  })
  await t.rejects(setup.service.open('vol-00000000000000000', 'x'), { code: 'NOT_FOUND', subject: 'export' })
  await t.rejects(setup.service.describe('nonsense'), { code: 'NOT_FOUND', subject: 'export' })
  const before = await setup.service.open(volume.volumeId, 'x')
  await setup.service.modifyVolume(volume.volumeId, { sizeBytes: 2 * GiB })
  t.equal(before.sizeBytes, GiB, 'an open export keeps its size (NBD has no live resize)')
  const after = await setup.service.open(volume.volumeId, 'x')
  t.equal(after.sizeBytes, 2 * GiB, 'a new connection sees the new size')
  await after.write(2 * GiB - 4 * KiB, Buffer.alloc(4 * KiB, 9), io)
  t.ok((await after.read(2 * GiB - 4 * KiB, 4 * KiB, signal)).equals(Buffer.alloc(4 * KiB, 9)))
  const snapshot = await setup.service.waitForSnapshot((await setup.service.createSnapshot(volume.volumeId)).snapshotId)
  t.same((await setup.service.list()).map((entry) => entry.name).sort(), [volume.volumeId, snapshot.snapshotId].sort())
  await Promise.all([before.release(), after.release()])
})

t.test('snapshot exports are read-only; an exported snapshot cannot be deleted', async (t) => {
  const setup = await volumeTestSetup()
  t.teardown(() => setup.cleanup())
  const volume = await setup.service.createVolume({ sizeBytes: 1 * GiB })
  const exported = await setup.service.open(volume.volumeId, 'a')
  await exported.write(MiB, Buffer.alloc(64 * KiB, 3), io)
  const snapshot = await setup.service.waitForSnapshot((await setup.service.createSnapshot(volume.volumeId)).snapshotId)
  const view = await setup.service.open(snapshot.snapshotId, 'reader-1')
  const again = await setup.service.open(snapshot.snapshotId, 'reader-2')
  t.match(view, { readOnly: true, canTrim: false, canWriteZeroes: false, sizeBytes: GiB })
  await t.rejects(view.write(0, Buffer.alloc(512), io), { code: 'ACCESS_DENIED' })
  await t.rejects(view.trim(0, 512, io), { code: 'ACCESS_DENIED' })
  t.same(await view.blockStatus(0, 2 * MiB, signal), [
    { lengthBytes: MiB, hole: true, zero: true },
    { lengthBytes: 128 * KiB, hole: false, zero: false },
    { lengthBytes: MiB - 128 * KiB, hole: true, zero: true },
  ])
  await t.rejects(setup.service.deleteSnapshot(snapshot.snapshotId), { code: 'INVALID_STATE', subject: 'snapshot' })
  await Promise.all([view.release(), again.release()])
  await setup.service.deleteSnapshot(snapshot.snapshotId)
  await exported.release()
})

t.test('block status, zeroes and trim: holes are reported and freed', async (t) => {
  const setup = await volumeTestSetup()
  t.teardown(() => setup.cleanup())
  const volume = await setup.service.createVolume({ sizeBytes: 1 * GiB })
  const exported = await setup.service.open(volume.volumeId, 'a')
  t.same(await exported.blockStatus(0, 32 * MiB, signal), [{ lengthBytes: 32 * MiB, hole: true, zero: true }])
  await exported.write(0, Buffer.alloc(16 * MiB, 7), io)
  await exported.flush(signal)
  const head = join(setup.volumesDir, `${volume.volumeId}.head`)
  const allocated = (await stat(head)).blocks * 512
  t.ok(allocated >= 16 * MiB, `16 MiB allocated (${allocated})`)
  t.same(await exported.blockStatus(0, 32 * MiB, signal), [{ lengthBytes: 16 * MiB, hole: false, zero: false }, { lengthBytes: 16 * MiB, hole: true, zero: true }])
  await t.rejects(exported.writeZeroes(0, MiB, { fua: false, noHole: true, fastZero: true, signal }), { code: 'NOT_IMPLEMENTED' })
  await exported.trim(0, 12 * MiB + 100, { fua: true, signal })
  t.ok((await exported.read(0, 13 * MiB, signal)).subarray(0, 12 * MiB + 100).equals(Buffer.alloc(12 * MiB + 100)), 'trimmed bytes read as zeroes')
  t.ok((await exported.read(12 * MiB + 100, 10, signal)).equals(Buffer.alloc(10, 7)), 'the byte after the trim is intact')
  t.same((await exported.blockStatus(0, 16 * MiB, signal)).map((run) => [run.lengthBytes, run.zero]), [[12 * MiB, true], [4 * MiB, false]])
  // Hole punching runs after the flush made the ZERO states durable.
  let freed = 0
  for (let tries = 0; tries < 50 && freed < 10 * MiB; tries += 1) {
    await new Promise((resolve) => setTimeout(resolve, 20))
    freed = allocated - (await stat(head)).blocks * 512
  }
  t.ok(freed >= 12 * MiB - 128 * 1024, `trim gave back ${freed} bytes of the head`)
  await exported.write(5 * MiB + 7, Buffer.from('after the punch'), io)
  const readBack = await exported.read(5 * MiB, 64, signal)
  t.ok(readBack.subarray(7, 22).equals(Buffer.from('after the punch')) && readBack.subarray(0, 7).equals(Buffer.alloc(7)), 'a write into a punched extent')
  await exported.release()
})
