import t from 'tap'
import { GiB, MiB } from '../lib/index.ts'
import { volumeTestSetup } from './testing.ts'

const signal = new AbortController().signal
const io = { fua: false, signal }

function pattern(seed: number, length: number): Buffer {
  const out = Buffer.alloc(length)
  for (let i = 0; i < length; i += 1) out[i] = (seed * 31 + i * 7 + (i >> 9)) & 0xff
  return out
}

t.test('create, write, read back, reopen, describe, delete', async (t) => {
  const setup = await volumeTestSetup()
  t.teardown(() => setup.cleanup())
  const volume = await setup.service.createVolume({ sizeBytes: 1 * GiB })
  t.match(volume, { volumeId: /^vol-[0-9a-f]{17}$/, sizeBytes: GiB, sizeGiB: 1, type: 'gp3', iops: 3000, throughputMiBps: 125, encrypted: false, state: 'available', hydration: null })
  const exported = await setup.service.open(volume.volumeId, 'client-a')
  t.equal(exported.sizeBytes, GiB)
  const data = pattern(1, 300 * 1024)
  await exported.write(5 * MiB + 512, data, io)
  t.ok((await exported.read(5 * MiB + 512, data.length, signal)).equals(data))
  t.ok((await exported.read(0, 4096, signal)).equals(Buffer.alloc(4096)), 'unwritten reads zero')
  await exported.flush(signal)
  t.match(await setup.service.describeVolume(volume.volumeId), { state: 'in-use', attachments: [{ client: 'client-a', connections: 1 }] })
  await exported.release()
  await setup.reopen()
  const again = await setup.service.open(volume.volumeId, 'client-b')
  t.ok((await again.read(5 * MiB + 512, data.length, signal)).equals(data), 'flushed data survives a reopen')
  await t.rejects(setup.service.deleteVolume(volume.volumeId), { code: 'INVALID_STATE' })
  await again.release()
  await setup.service.deleteVolume(volume.volumeId)
  await t.rejects(setup.service.describeVolume(volume.volumeId), { code: 'NOT_FOUND', subject: 'volume' })
  t.same(await setup.service.listVolumes(), [])
})

t.test('snapshot, restore, diff, delete', async (t) => {
  const setup = await volumeTestSetup()
  t.teardown(() => setup.cleanup())
  const volume = await setup.service.createVolume({ sizeBytes: 1 * GiB })
  const exported = await setup.service.open(volume.volumeId, 'a')
  await exported.write(0, pattern(1, 1 * MiB), io)
  const first = await setup.service.createSnapshot(volume.volumeId, { description: 'one' })
  t.equal(first.state, 'pending')
  const firstDone = await setup.service.waitForSnapshot(first.snapshotId)
  t.match(firstDone, { state: 'completed', progressPercent: 100, changedBytes: 1 * MiB, dataBytes: 1 * MiB, volumeSizeBytes: GiB })
  await exported.write(512 * 1024, pattern(2, 128 * 1024), io)
  const second = await setup.service.waitForSnapshot((await setup.service.createSnapshot(volume.volumeId)).snapshotId)
  t.match(second, { state: 'completed', changedBytes: 128 * 1024, dataBytes: 1 * MiB, parentSnapshotId: first.snapshotId })
  t.match(await setup.service.diffSnapshots(first.snapshotId, second.snapshotId), { changedBlocks: 1, ranges: [{ offsetBytes: 512 * 1024, lengthBytes: 128 * 1024 }], nextBlockIndex: null })

  const restored = await setup.service.createVolume({ snapshotId: first.snapshotId })
  t.match(restored, { sizeBytes: GiB, sourceSnapshotId: first.snapshotId, hydration: { state: 'lazy', remainingExtents: 8 } })
  const view = await setup.service.open(restored.volumeId, 'b')
  t.ok((await view.read(0, 1 * MiB, signal)).equals(pattern(1, 1 * MiB)), 'restored volume holds the first snapshot')
  t.match(await setup.service.describeVolume(restored.volumeId), { hydration: { state: 'hydrated', remainingExtents: 0, percent: 100 } })
  await view.release()

  const snapshotView = await setup.service.open(second.snapshotId, 'c')
  t.equal(snapshotView.readOnly, true)
  const expected = pattern(1, 1 * MiB)
  pattern(2, 128 * 1024).copy(expected, 512 * 1024)
  t.ok((await snapshotView.read(0, 1 * MiB, signal)).equals(expected))
  await t.rejects(snapshotView.write(0, Buffer.alloc(512), io), { code: 'ACCESS_DENIED' })
  await snapshotView.release()

  await setup.service.deleteSnapshot(first.snapshotId)
  await t.rejects(setup.service.describeSnapshot(first.snapshotId), { code: 'NOT_FOUND' })
  t.same((await setup.service.listSnapshots()).map((s) => s.snapshotId), [second.snapshotId])
  const reread = await setup.service.open(restored.volumeId, 'b')
  t.ok((await reread.read(0, 1 * MiB, signal)).equals(pattern(1, 1 * MiB)), 'a deleted snapshot held by a volume keeps its data')
  await reread.release()
  await exported.release()
})
