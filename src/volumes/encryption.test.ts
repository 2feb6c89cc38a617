// No plaintext of an encrypted volume appears in any file under the data dir: its head (XTS),
// its snapshots' chunks (AES-GCM in its key domain), volumes restored from them, and the
// metadata (LevelDB on disk). A plain volume's head holds the same marker in the clear, which
// shows the search would find it.
import t from 'tap'
import { readdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { GiB, KiB, MiB, volumeLimits } from '../lib/index.ts'
import { volumeTestSetup } from './testing.ts'

const signal = new AbortController().signal
const io = { fua: false, signal }
const marker = Buffer.from('CAIRN-PLAINTEXT-MARKER-7f3a9c1e-do-not-leak')

function markerBlock(lengthBytes: number, salt: number): Buffer {
  const out = Buffer.alloc(lengthBytes)
  for (let at = 0; at + marker.length + 8 <= lengthBytes; at += marker.length + 8) {
    marker.copy(out, at)
    out.writeUInt32LE(salt, at + marker.length)
    out.writeUInt32LE(at, at + marker.length + 4)
  }
  return out
}

async function filesUnder(directory: string): Promise<string[]> {
  const files: string[] = []
  for (const entry of await readdir(directory, { withFileTypes: true })) {
    const path = join(directory, entry.name)
    if (entry.isDirectory()) files.push(...(await filesUnder(path)))
    else if (entry.isFile()) files.push(path)
  }
  return files
}

async function filesContaining(directory: string, needle: Buffer): Promise<string[]> {
  const found: string[] = []
  for (const file of await filesUnder(directory)) if ((await readFile(file)).includes(needle)) found.push(file)
  return found
}

t.test('no plaintext of an encrypted volume in any file under the data dir', async (t) => {
  const setup = await volumeTestSetup({ metaBackend: 'level' })
  t.teardown(() => setup.cleanup())
  const volume = await setup.service.createVolume({ sizeBytes: 1 * GiB, encrypted: true, description: 'secret volume' })
  const exported = await setup.service.open(volume.volumeId, 'a')
  t.equal(exported.blockSizes.minimumBytes, 4 * KiB, 'encrypted volumes advertise 4 KiB sectors')
  await exported.write(0, markerBlock(4 * MiB, 1), io)
  await exported.write(7 * MiB + 100, markerBlock(10_000, 2), { fua: true, signal }) // unaligned: read-modify-write of sectors
  await exported.write(64 * MiB, markerBlock(volumeLimits.extentBytes * 3, 3), io)
  await exported.writeZeroes(65 * MiB + 512, 4096, { fua: false, noHole: true, fastZero: false, signal })
  await exported.flush(signal)
  const snapshot = await setup.service.waitForSnapshot((await setup.service.createSnapshot(volume.volumeId)).snapshotId)
  t.match(snapshot, { state: 'completed', encrypted: true })
  const restored = await setup.service.createVolume({ snapshotId: snapshot.snapshotId, eagerHydration: true })
  t.match(restored, { encrypted: true })
  const view = await setup.service.open(restored.volumeId, 'b')
  t.ok((await view.read(7 * MiB + 100, 10_000, signal)).equals(markerBlock(10_000, 2)), 'the restored volume reads back the plaintext')
  await exported.write(4 * MiB, markerBlock(1 * MiB, 4), io) // after the snapshot: head only
  await Promise.all([exported.flush(signal), view.flush(signal)])
  await Promise.all([exported.release(), view.release()])
  await setup.reopen() // hydration finishes or stops; everything flushed and closed

  const reopened = await setup.service.open(volume.volumeId, 'c')
  t.ok((await reopened.read(4 * MiB, 1 * MiB, signal)).equals(markerBlock(1 * MiB, 4)))
  await reopened.release()
  await setup.service.close()
  await setup.chunkStore.close()
  await setup.meta.close()
  const files = await filesUnder(setup.directory)
  t.ok(files.some((file) => file.endsWith('.head')) && files.some((file) => file.includes('packs')) && files.some((file) => file.includes('meta')), `searched ${files.length} files: heads, packs, metadata`)
  t.same(await filesContaining(setup.directory, marker), [], 'the marker appears in no file')
})

t.test('the same marker on a plain volume is found (the search works)', async (t) => {
  const setup = await volumeTestSetup({ metaBackend: 'level' })
  t.teardown(() => setup.cleanup())
  const volume = await setup.service.createVolume({ sizeBytes: 1 * GiB })
  const exported = await setup.service.open(volume.volumeId, 'a')
  await exported.write(0, markerBlock(64 * KiB, 1), { fua: true, signal })
  await exported.release()
  const found = await filesContaining(setup.directory, marker)
  t.same(found.map((file) => file.slice(setup.directory.length)), [`/volumes/${volume.volumeId}.head`])
})
