// Storage classes and the lifecycle policy: Standard files live in the hot tier, Infrequent
// Access files in the cold tier. A pass moves regular files not read or written for N "days"
// (the length of a day is an engine option, so tests run in seconds) to Infrequent Access, and
// the policy may move a file back on its first access.
//
// A transition moves the file's chunks (chunkStore.moveToTier: ids stay, shared chunks move for
// everyone using them), then flips the class in one transaction, unless the file changed
// meanwhile (the next pass tries again). Never: block a read or write on a tier move.
import { fileLimits, type ChunkId, chunkIdHex } from '../lib/index.ts'
import type { FileSystemId } from './api.ts'
import { msOf } from './change.ts'
import { cloneInode, type FilesContext } from './context.ts'
import { chunkIdsOf } from './extents.ts'
import { inodeRange } from './keys.ts'
import { Mutation } from './mutation.ts'
import { decodeInode, type FileSystemRecord } from './records.ts'
import type { LifecycleReport, StorageClass } from './types.ts'
import { decodeKey } from '../meta/index.ts'

/** Move one file to a class; returns the chunks moved (0 when it was already there or changed meanwhile). */
export async function transition(ctx: FilesContext, fsId: FileSystemId, inode: number, to: StorageClass, expectedChange?: bigint): Promise<number> {
  const ids = new Map<string, ChunkId>()
  for await (const page of chunkIdsOf((fn) => ctx.meta.read(fn), fsId, inode)) {
    for (const extent of page) ids.set(chunkIdHex(extent.chunkId), extent.chunkId)
  }
  const moved = ids.size === 0 ? 0 : (await ctx.chunkStore.moveToTier([...ids.values()], to === 'standard' ? 'hot' : 'cold')).movedChunks
  await ctx.meta.transact(async (tx) => {
    const m = new Mutation(tx, fsId, ctx.chunkStore)
    const before = await m.inode(inode)
    if (before === undefined || before.type !== 'regular' || before.storageClass === to) return
    if (expectedChange !== undefined && before.change !== expectedChange) return
    const after = cloneInode(before)
    after.storageClass = to
    m.putInode(inode, before, after)
    await m.finish()
  })
  ctx.log('files.transition', { fsId, inode, to, movedChunks: moved })
  return moved
}

/** One lifecycle pass over a file system. */
export async function runLifecycle(ctx: FilesContext, fs: FileSystemRecord, signal?: AbortSignal): Promise<LifecycleReport> {
  const report = { scannedFiles: 0, toInfrequentAccess: 0, toStandard: 0, movedChunks: 0 }
  const days = fs.lifecycle.transitionToIaAfterDays
  if (days === null) return report
  const thresholdMs = ctx.clock.nowMs() - days * ctx.tuning.dayMs
  const range = inodeRange(fs.id)
  let from = range.gt
  for (;;) {
    signal?.throwIfAborted()
    const page = await ctx.meta.read((tx) => tx.scan({ gt: from, lt: range.lt, limit: fileLimits.lifecyclePageInodes }))
    for (const entry of page) {
      const inode = decodeKey(entry.key).at(-1) as number
      const record = decodeInode(entry.value, `inode ${fs.id}/${inode}`)
      if (record.type !== 'regular') continue
      report.scannedFiles += 1
      const lastUsedMs = Math.max(msOf(record.accessTime), msOf(record.modifyTime))
      if (record.storageClass !== 'standard' || record.nlink === 0 || lastUsedMs >= thresholdMs) continue
      if (ctx.active.get(fs.id, inode) !== undefined) continue // in use right now
      const moved = await transition(ctx, fs.id, inode, 'infrequent-access', record.change)
      report.toInfrequentAccess += 1
      report.movedChunks += moved
    }
    const last = page.at(-1)
    if (page.length < fileLimits.lifecyclePageInodes || last === undefined) return report
    from = last.key
  }
}
