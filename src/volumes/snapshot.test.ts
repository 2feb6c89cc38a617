// Snapshots: crash consistency while writers keep writing (copy-on-write of frozen extents,
// dependent writes never reordered), incremental storage, dedup, unique bytes, deletion
// dropping references, and re-hashing a plain snapshot restored as an encrypted volume.
import t from 'tap'
import { randomBytes } from 'node:crypto'
import { GiB, KiB, MiB, volumeLimits } from '../lib/index.ts'
import { prefixRange } from '../meta/index.ts'
import type { BlockExport } from './api.ts'
import { volumeTestSetup } from './testing.ts'

const extentBytes = volumeLimits.extentBytes
const signal = new AbortController().signal
const io = { fua: false, signal }

/** A 4 KiB block naming its writer, slot and sequence number. */
function block(writer: number, slot: number, sequence: number): Buffer {
  const out = Buffer.alloc(4 * KiB)
  for (let at = 0; at + 12 <= out.length; at += 12) {
    out.writeUInt32LE(writer, at)
    out.writeUInt32LE(slot, at + 4)
    out.writeUInt32LE(sequence, at + 8)
  }
  return out
}

function sequenceOf(bytes: Buffer): number {
  return bytes.readUInt32LE(8)
}

t.test('a snapshot is crash-consistent while writers keep writing', async (t) => {
  const setup = await volumeTestSetup({ snapshotPagesPerTransaction: 1 })
  t.teardown(() => setup.cleanup())
  const volume = await setup.service.createVolume({ sizeBytes: 1 * GiB })
  const exported = await setup.service.open(volume.volumeId, 'writers')
  // 160 MiB of dirty extents (two manifest pages), so the snapshot is still hashing while the
  // writers overwrite them, and extents of the second page are preserved (and pinned) while the
  // first is written.
  const fill = Buffer.alloc(8 * MiB, 0x5a)
  for (let at = 0; at < 160 * MiB; at += fill.length) await exported.write(at, fill, io)
  const writers = 8
  const slotOffset = (writer: number, slot: number): number => (writer * 150 + slot * 75 + 3) * extentBytes + 8 * KiB

  for (let round = 0; round < 3; round += 1) {
    const completed = Array.from({ length: writers }, () => [0, 0])
    const started = Array.from({ length: writers }, () => [0, 0])
    let stop = false
    const run = async (writer: number): Promise<void> => {
      for (let sequence = 1; !stop; sequence += 1) {
        for (const slot of [0, 1]) {
          started[writer]![slot] = sequence
          await exported.write(slotOffset(writer, slot), block(writer, slot, sequence + round * 1_000_000), io)
          completed[writer]![slot] = sequence
        }
      }
    }
    const running = Array.from({ length: writers }, (_, writer) => run(writer))
    await new Promise((resolve) => setTimeout(resolve, 30))
    const before = completed.map((slots) => [...slots])
    const snapshot = await setup.service.createSnapshot(volume.volumeId)
    const after = started.map((slots) => [...slots])
    const done = await setup.service.waitForSnapshot(snapshot.snapshotId)
    stop = true
    await Promise.all(running)
    t.equal(done.state, 'completed')

    const view: BlockExport = await setup.service.open(snapshot.snapshotId, 'check')
    let consistent = true
    for (let writer = 0; writer < writers; writer += 1) {
      const [first, second] = await Promise.all([0, 1].map(async (slot) => sequenceOf(await view.read(slotOffset(writer, slot), 4 * KiB, signal)) - round * 1_000_000))
      const ok = first! >= before[writer]![0]! && first! <= after[writer]![0]! && second! >= before[writer]![1]! && second! <= after[writer]![1]! && (first === second || first === second! + 1)
      if (!ok) {
        consistent = false
        t.fail(`round ${round} writer ${writer}: snapshot has slots ${first}/${second}, before ${before[writer]}, after ${after[writer]}`)
      }
    }
    t.ok(consistent, `round ${round}: every writer's pair is within the freeze window and in order`)
    const untouched = await view.read(10 * MiB + 7 * extentBytes, extentBytes, signal)
    t.ok(untouched.equals(Buffer.alloc(extentBytes, 0x5a)), 'extents nobody wrote keep the fill')
    await view.release()
  }
  t.same(await setup.meta.read((tx) => tx.scan({ ...prefixRange('vol', 'pin'), limit: 10 })), [], 'no pins left behind')
  await exported.release()
})

t.test('incremental: 1% changed stores ~1%; identical data dedups; unique bytes; delete drops references', async (t) => {
  const setup = await volumeTestSetup()
  t.teardown(() => setup.cleanup())
  const data = randomBytes(64 * MiB)
  const volume = await setup.service.createVolume({ sizeBytes: 1 * GiB })
  const exported = await setup.service.open(volume.volumeId, 'a')
  for (let at = 0; at < data.length; at += 8 * MiB) await exported.write(at, data.subarray(at, at + 8 * MiB), io)
  const first = await setup.service.waitForSnapshot((await setup.service.createSnapshot(volume.volumeId)).snapshotId)
  t.ok(first.storedBytes >= 64 * MiB, `the first snapshot stores everything (${first.storedBytes} bytes)`)

  const changed = [3, 100, 250, 301, 500]
  for (const extent of changed) await exported.write(extent * extentBytes + 4 * KiB, randomBytes(4 * KiB), io)
  const storedBefore = setup.chunkStore.stats().bytesStored
  const second = await setup.service.waitForSnapshot((await setup.service.createSnapshot(volume.volumeId)).snapshotId)
  const storedDelta = setup.chunkStore.stats().bytesStored - storedBefore
  t.equal(second.changedBytes, changed.length * extentBytes)
  t.equal(second.dataBytes, 64 * MiB)
  t.ok(second.storedBytes <= changed.length * extentBytes * 1.05 && storedDelta <= changed.length * extentBytes * 1.05, `1% changed stored ${second.storedBytes} bytes (chunk store: ${storedDelta})`)
  t.match(await setup.service.diffSnapshots(first.snapshotId, second.snapshotId), { changedBlocks: 5, ranges: changed.map((extent) => ({ offsetBytes: extent * extentBytes, lengthBytes: extentBytes })) })

  t.match(await setup.service.describeSnapshot(second.snapshotId), { uniqueBytes: changed.length * extentBytes })
  t.match(await setup.service.describeSnapshot(first.snapshotId), { uniqueBytes: changed.length * extentBytes }, 'the overwritten versions are only in the first')

  const twin = await setup.service.createVolume({ sizeBytes: 1 * GiB })
  const twinExport = await setup.service.open(twin.volumeId, 'b')
  for (let at = 0; at < data.length; at += 8 * MiB) await twinExport.write(at, data.subarray(at, at + 8 * MiB), io)
  const twinSnapshot = await setup.service.waitForSnapshot((await setup.service.createSnapshot(twin.volumeId)).snapshotId)
  t.equal(twinSnapshot.storedBytes, 0, 'a snapshot of data already in the store stores nothing new')
  t.match(await setup.service.describeSnapshot(first.snapshotId), { uniqueBytes: 0 }, 'now shared with the twin')

  const oldChunk = await setup.chunkStore.idOf(data.subarray(3 * extentBytes, 4 * extentBytes))
  t.equal(await setup.meta.read((tx) => setup.chunkStore.refCount(tx, oldChunk)), 2, 'first + twin')
  await setup.service.deleteSnapshot(first.snapshotId)
  t.equal(await setup.meta.read((tx) => setup.chunkStore.refCount(tx, oldChunk)), 1, 'deleting the first dropped its reference')
  await twinExport.release()
  await exported.release()
})

t.test('a plain snapshot restored encrypted: the next snapshot re-hashes into the new key domain', async (t) => {
  const setup = await volumeTestSetup()
  t.teardown(() => setup.cleanup())
  const volume = await setup.service.createVolume({ sizeBytes: 1 * GiB })
  const exported = await setup.service.open(volume.volumeId, 'a')
  const data = randomBytes(2 * MiB)
  await exported.write(0, data, io)
  const plain = await setup.service.waitForSnapshot((await setup.service.createSnapshot(volume.volumeId)).snapshotId)
  await t.rejects(setup.service.createVolume({ snapshotId: plain.snapshotId, sizeBytes: GiB / 2 }), { code: 'INVALID_ARGUMENT' })
  const encrypted = await setup.service.createVolume({ snapshotId: plain.snapshotId, encrypted: true })
  t.match(encrypted, { encrypted: true, sourceSnapshotId: plain.snapshotId })
  const view = await setup.service.open(encrypted.volumeId, 'b')
  t.ok((await view.read(0, 2 * MiB, signal)).equals(data))
  const rehashed = await setup.service.waitForSnapshot((await setup.service.createSnapshot(encrypted.volumeId)).snapshotId)
  t.match(rehashed, { state: 'completed', encrypted: true, dataBytes: 2 * MiB, changedBytes: 1 * GiB })
  await t.rejects(setup.service.diffSnapshots(plain.snapshotId, rehashed.snapshotId), { code: 'INVALID_ARGUMENT', message: /different encryption keys/ })
  const again = await setup.service.createVolume({ snapshotId: rehashed.snapshotId })
  t.match(again, { encrypted: true })
  const againView = await setup.service.open(again.volumeId, 'c')
  t.ok((await againView.read(0, 2 * MiB, signal)).equals(data), 'restored from the re-hashed snapshot')
  await Promise.all([exported.release(), view.release(), againView.release()])
})
