// Snapshot phase of the nbd benchmark (helper of bench/nbd.ts, not a benchmark on its own): 1%-changed incremental snapshot, lazy and hydrated restores
//
// On the running Cairn server, through its admin API and NBD (fio), one volume of the given
// size (io2 at the most IOPS its size allows, so the token buckets stay out of the way):
// 1. fill it with random data (every 128 KiB extent unique, so dedup cannot help);
// 2. full snapshot (time, bytes the store added);
// 3. change 1% of it: whole 128 KiB extents at random offsets, 1% of the volume's bytes;
//    incremental snapshot (time, bytes added): the headline number;
// 4. with --small-writes: the same 1% of bytes again, as 4 KiB writes at random offsets
//    (touches far more extents: snapshots are incremental per extent); incremental snapshot;
// 5. read the source volume (live head) once, sequentially, for reference;
// 6. restore the last snapshot into a new volume and read it once, sequentially: every first
//    read of an extent fetches it from the chunk store (lazy hydration);
// 7. restore it again with eager hydration, wait until hydrated (time), then read it once.
// "Bytes added" is measured twice: the snapshot's own storedBytes, and the growth of the data
// dir outside the volume heads (packs + metadata, file sizes).
// Never: leave a restored volume behind (each is deleted after its read, which also frees disk).
import { readdir, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { GiB, KiB, MiB } from '../src/lib/index.ts'
import { runFio, type FioResult } from './nbd-fio.ts'
import type { AdminClient, CairnServer } from './nbd-servers.ts'

const extentBytes = 128 * KiB

export interface SnapshotMeasurement {
  name: string
  snapshotId: string
  seconds: number
  changedBytes: number
  storedBytes: number
  /** Growth of the data dir outside volumes/ while the snapshot ran (packs + metadata). */
  dataDirGrowthBytes: number
}

export interface SnapshotPhaseResult {
  volumeSizeBytes: number
  /** The volume's own throughput limit (io2 at its size's maximum IOPS). */
  throttleBytesPerSecond: number
  fill: FioResult
  snapshots: SnapshotMeasurement[]
  changes: FioResult[]
  reads: Array<{ name: string; result: FioResult }>
  hydration: { seconds: number; bytesPerSecond: number }
}

interface VolumeReply {
  volumeId: string
  performance: { baselineThroughputMiBps: number }
  hydration: { state: 'lazy' | 'hydrating' | 'hydrated'; remainingExtents: number } | null
}

interface SnapshotReply {
  snapshotId: string
  state: 'pending' | 'completed' | 'error'
  changedBytes: number
  storedBytes: number
  error: string | null
}

const sleep = (ms: number): Promise<void> => new Promise((resolveSleep) => setTimeout(resolveSleep, ms))

export async function runSnapshotPhase(
  cairn: CairnServer,
  volumeSizeBytes: number,
  smallWrites: boolean,
  workDirectory: string,
  log: (line: string) => void,
): Promise<SnapshotPhaseResult> {
  const admin = cairn.admin
  const sizeGiB = volumeSizeBytes / GiB
  const volume = await admin.request<VolumeReply>('POST', '/admin/v1/volumes', {
    size: volumeSizeBytes,
    type: 'io2',
    iops: Math.min(256_000, 1000 * sizeGiB),
    description: 'bench nbd snapshot',
  })
  const uri = (id: string): string => `nbd://${cairn.nbdAddress}/${id}`
  const fio = (name: string, id: string, rw: 'read' | 'write' | 'randwrite', blockBytes: number, ioBytes: number): Promise<FioResult> =>
    runFio({ name, uri: uri(id), rw, blockBytes, iodepth: 16, jobs: 1, regionBytes: volumeSizeBytes, ioBytes, refillBuffers: rw !== 'read', randomMap: true }, cairn.pid, workDirectory)

  log(`  filling ${formatGiB(volumeSizeBytes)} with random data ...`)
  const fill = await fio('fill', volume.volumeId, 'write', MiB, volumeSizeBytes)
  const snapshots: SnapshotMeasurement[] = [await measureSnapshot(cairn, volume.volumeId, 'full (first) snapshot')]
  log(`  full snapshot: ${snapshots[0]!.seconds.toFixed(1)} s`)

  const changedBytes = Math.max(extentBytes, Math.round(volumeSizeBytes / 100 / extentBytes) * extentBytes)
  const changes: FioResult[] = []
  changes.push(await fio('change 1% (128 KiB extents)', volume.volumeId, 'randwrite', extentBytes, changedBytes))
  snapshots.push(await measureSnapshot(cairn, volume.volumeId, 'incremental, 1% changed in whole 128 KiB extents'))
  if (smallWrites) {
    changes.push(await fio('change 1% (4 KiB writes)', volume.volumeId, 'randwrite', 4 * KiB, changedBytes))
    snapshots.push(await measureSnapshot(cairn, volume.volumeId, 'incremental, 1% of bytes in 4 KiB writes'))
  }
  log(`  incremental snapshots: ${snapshots.slice(1).map((snapshot) => `${snapshot.seconds.toFixed(2)} s`).join(', ')}`)
  const last = snapshots.at(-1)!

  const reads: Array<{ name: string; result: FioResult }> = []
  reads.push({ name: 'source volume (live data)', result: await fio('read source', volume.volumeId, 'read', MiB, volumeSizeBytes) })

  log('  restoring (lazy) and reading ...')
  const lazy = await admin.request<VolumeReply>('POST', '/admin/v1/volumes', { snapshotId: last.snapshotId, type: 'io2', iops: Math.min(256_000, 1000 * sizeGiB) })
  reads.push({ name: 'restored, lazy (first read fetches from the chunk store)', result: await fio('read lazy', lazy.volumeId, 'read', MiB, volumeSizeBytes) })
  await admin.request('DELETE', `/admin/v1/volumes/${lazy.volumeId}`)

  log('  restoring (eager hydration), waiting, reading ...')
  const startMs = performance.now()
  const eager = await admin.request<VolumeReply>('POST', '/admin/v1/volumes', {
    snapshotId: last.snapshotId,
    type: 'io2',
    iops: Math.min(256_000, 1000 * sizeGiB),
    eagerHydration: true,
  })
  await waitForHydration(admin, eager.volumeId)
  const hydrationSeconds = (performance.now() - startMs) / 1000
  reads.push({ name: 'restored, after eager hydration', result: await fio('read hydrated', eager.volumeId, 'read', MiB, volumeSizeBytes) })
  await admin.request('DELETE', `/admin/v1/volumes/${eager.volumeId}`)
  await admin.request('DELETE', `/admin/v1/volumes/${volume.volumeId}`)

  return {
    volumeSizeBytes,
    throttleBytesPerSecond: volume.performance.baselineThroughputMiBps * MiB,
    fill,
    snapshots,
    changes,
    reads,
    hydration: { seconds: hydrationSeconds, bytesPerSecond: volumeSizeBytes / hydrationSeconds },
  }
}

async function measureSnapshot(cairn: CairnServer, volumeId: string, name: string): Promise<SnapshotMeasurement> {
  const before = await storeBytes(cairn.dataDir)
  const startMs = performance.now()
  const created = await cairn.admin.request<SnapshotReply>('POST', `/admin/v1/volumes/${volumeId}/snapshots`, { description: name })
  let snapshot = created
  while (snapshot.state === 'pending') {
    await sleep(20)
    snapshot = await cairn.admin.request<SnapshotReply>('GET', `/admin/v1/snapshots/${created.snapshotId}`)
  }
  const seconds = (performance.now() - startMs) / 1000
  if (snapshot.state !== 'completed') throw new Error(`snapshot ${created.snapshotId} failed: ${snapshot.error ?? snapshot.state}`)
  return {
    name,
    snapshotId: created.snapshotId,
    seconds,
    changedBytes: snapshot.changedBytes,
    storedBytes: snapshot.storedBytes,
    dataDirGrowthBytes: (await storeBytes(cairn.dataDir)) - before,
  }
}

async function waitForHydration(admin: AdminClient, volumeId: string): Promise<void> {
  for (;;) {
    const volume = await admin.request<VolumeReply>('GET', `/admin/v1/volumes/${volumeId}`)
    if (volume.hydration === null || volume.hydration.state === 'hydrated') return
    await sleep(50)
  }
}

/** Sum of file sizes under the data dir except the volume heads: what the store keeps. */
async function storeBytes(dataDir: string): Promise<number> {
  let total = 0
  const walk = async (directory: string): Promise<void> => {
    // A directory may vanish meanwhile (LevelDB, pack rotation): count what is there.
    for (const entry of await readdir(directory, { withFileTypes: true }).catch(() => [])) {
      const path = join(directory, entry.name)
      if (entry.isDirectory()) {
        if (path !== join(dataDir, 'volumes')) await walk(path)
      } else if (entry.isFile()) {
        total += (await stat(path).catch(() => ({ size: 0 }))).size // LevelDB may delete a file meanwhile
      }
    }
  }
  await walk(dataDir)
  return total
}

const formatGiB = (bytes: number): string => `${(bytes / GiB).toFixed(bytes % GiB === 0 ? 0 : 2)} GiB`
