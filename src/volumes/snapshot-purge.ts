// Removing a snapshot's data: drop the chunk references of its manifest pages and delete them,
// a few pages per transaction (each page's references move in the transaction that deletes it,
// so a crash in between leaves a consistent, smaller manifest that a later purge finishes).
//
// A snapshot that a volume holds as its base is never purged: deleting it only marks it
// 'deleted' (hidden); purgeIfUnheld() removes it once the last hold goes.
import { chunkIdBytes, chunkIdFrom, StoreError, volumeLimits, type ChunkId } from '../lib/index.ts'
import { decodeKey, recordBody } from '../meta/index.ts'
import type { VolumeContext } from './context.ts'
import type { SnapshotId } from './ids.ts'
import { decodeManifestPage } from './manifest.ts'
import { holdRange, manifestPageRange, pinRange, pinRecordVersion, snapshotKey } from './records.ts'

/** Drop every manifest page (and pin) of the snapshot with its references; the record stays. */
export async function purgeSnapshotPages(context: VolumeContext, id: SnapshotId): Promise<void> {
  await dropPins(context, id)
  for (;;) {
    const more = await context.meta.transact(async (tx) => {
      const pages = await tx.scan({ ...manifestPageRange(id), limit: volumeLimits.snapshotPagesPerTransaction })
      const ids: ChunkId[] = []
      for (const page of pages) {
        const what = `('vol', 'manifest', ${id}, ${String(decodeKey(page.key)[3])})`
        for (const entry of decodeManifestPage(page.value, what)) if (entry !== null) ids.push(entry)
        tx.delete(page.key)
      }
      await context.chunkStore.dropRefs(tx, ids)
      return pages.length === volumeLimits.snapshotPagesPerTransaction
    })
    if (!more) return
  }
}

/** Pins are left only by a snapshot that failed or was cut by a crash. */
async function dropPins(context: VolumeContext, id: SnapshotId): Promise<void> {
  for (;;) {
    const more = await context.meta.transact(async (tx) => {
      const pins = await tx.scan({ ...pinRange(id), limit: 1024 })
      const ids: ChunkId[] = []
      for (const pin of pins) {
        const { body } = recordBody(pin.value, [pinRecordVersion], `('vol', 'pin', ${id}, ...)`)
        if (body.length !== chunkIdBytes) throw new StoreError('IO_ERROR', `metadata record ('vol', 'pin', ${id}, ...) is corrupt: ${body.length} bytes`)
        ids.push(chunkIdFrom(Buffer.from(body)))
        tx.delete(pin.key)
      }
      await context.chunkStore.dropRefs(tx, ids)
      return pins.length === 1024
    })
    if (!more) return
  }
}

/** Purge a 'deleted' snapshot no volume holds any more; true when it is gone. */
export async function purgeIfUnheld(context: VolumeContext, id: SnapshotId): Promise<boolean> {
  const unheld = async (): Promise<boolean> =>
    context.meta.read(async (tx) => {
      const record = await context.readSnapshot(id, tx).catch(() => undefined)
      if (record === undefined || record.state !== 'deleted') return false
      return (await tx.scan({ ...holdRange(id), limit: 1 })).length === 0
    })
  if (!(await unheld())) return false
  await purgeSnapshotPages(context, id)
  const removed = await context.meta.transact(async (tx) => {
    const record = await context.readSnapshot(id, tx).catch(() => undefined)
    if (record === undefined || record.state !== 'deleted' || (await tx.scan({ ...holdRange(id), limit: 1 })).length > 0) return false
    tx.delete(snapshotKey(id))
    return true
  })
  if (removed) context.log('snapshot.purged', { snapshotId: id })
  return removed
}
