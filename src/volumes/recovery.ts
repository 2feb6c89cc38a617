// What the volume service does when it opens: finish what a crash or stop interrupted.
// - volumes marked 'deleting': finish the delete;
// - snapshots left 'pending': mark them 'error' and drop the references of their pages (the
//   volume's frozen extents are still durably dirty, so the next snapshot takes them);
// - snapshots marked 'deleted' that no volume holds: purge them;
// - head files without a volume record (a create cut short, a delete cut short): remove them;
// - volumes with eager hydration: resume it.
// Every step is idempotent: a crash during recovery is recovered by the next open.
import { decodeKey, scanAll } from '../meta/index.ts'
import type { VolumeContext } from './context.ts'
import { startHydration } from './hydrator.ts'
import { isVolumeId, type SnapshotId, type VolumeId } from './ids.ts'
import { decodeSnapshotRecord, decodeVolumeRecord, encodeSnapshotRecord, snapshotKey, snapshotRange, volumeRange, type SnapshotRecord, type VolumeRecord } from './records.ts'
import { purgeIfUnheld, purgeSnapshotPages } from './snapshot-purge.ts'
import { finishDeletingVolume } from './volume-ops.ts'

export interface VolumeRecoveryReport {
  volumes: number
  snapshots: number
  deletesFinished: number
  interruptedSnapshots: number
  purgedSnapshots: number
  orphanHeadsRemoved: number
  hydrationsResumed: number
}

async function readAll(context: VolumeContext): Promise<{ volumes: VolumeRecord[]; snapshots: SnapshotRecord[] }> {
  return context.meta.read(async (tx) => {
    const volumes: VolumeRecord[] = []
    const snapshots: SnapshotRecord[] = []
    for await (const entry of scanAll(tx, volumeRange)) volumes.push(decodeVolumeRecord(entry.value, decodeKey(entry.key)[2] as VolumeId))
    for await (const entry of scanAll(tx, snapshotRange)) snapshots.push(decodeSnapshotRecord(entry.value, decodeKey(entry.key)[2] as SnapshotId))
    return { volumes, snapshots }
  })
}

export async function recoverVolumes(context: VolumeContext): Promise<VolumeRecoveryReport> {
  const { io, volumesDir } = context.options
  await io.mkdirp(volumesDir, 0o700)
  const { volumes, snapshots } = await readAll(context)
  const report: VolumeRecoveryReport = {
    volumes: volumes.length,
    snapshots: snapshots.length,
    deletesFinished: 0,
    interruptedSnapshots: 0,
    purgedSnapshots: 0,
    orphanHeadsRemoved: 0,
    hydrationsResumed: 0,
  }
  for (const volume of volumes.filter((record) => record.state === 'deleting')) {
    await finishDeletingVolume(context, volume)
    report.deletesFinished += 1
  }
  for (const snapshot of snapshots.filter((record) => record.state === 'pending')) {
    await context.meta.transact(async (tx) => {
      const current = await context.readSnapshot(snapshot.id, tx)
      if (current.state === 'pending') tx.put(snapshotKey(snapshot.id), encodeSnapshotRecord({ ...current, state: 'error', error: 'interrupted: the server stopped while the snapshot was being taken' }))
    })
    await purgeSnapshotPages(context, snapshot.id)
    report.interruptedSnapshots += 1
  }
  for (const snapshot of snapshots.filter((record) => record.state === 'deleted')) {
    if (await purgeIfUnheld(context, snapshot.id)) report.purgedSnapshots += 1
  }
  report.orphanHeadsRemoved = await removeOrphanHeads(context, new Set(volumes.filter((record) => record.state !== 'deleting').map((record) => record.id)))
  for (const volume of volumes.filter((record) => record.state === 'available' && record.eagerHydration)) {
    startHydration(context, volume)
    report.hydrationsResumed += 1
  }
  return report
}

async function removeOrphanHeads(context: VolumeContext, known: ReadonlySet<string>): Promise<number> {
  const { io, volumesDir } = context.options
  let removed = 0
  for (const entry of await io.readdir(volumesDir)) {
    const match = /^(vol-[0-9a-f]{17})\.head(\.tmp-\d+)?$/.exec(entry.name)
    const id = match?.[1]
    if (!entry.isFile || id === undefined || !isVolumeId(id) || (known.has(id) && match?.[2] === undefined)) continue
    await io.unlink(`${volumesDir}/${entry.name}`)
    context.log('volume.orphan-head-removed', { file: entry.name })
    removed += 1
  }
  if (removed > 0) await io.syncDir(volumesDir)
  return removed
}
