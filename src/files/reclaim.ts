// Reclaiming orphans (unlinked files nothing holds open) and finishing trims
// (docs/format/files.md 7): extents go page by page, each page one transaction that also drops
// chunk counts and updates usage; the inode and its markers go with the last page.
//
// At open, before anything is served, every trim is finished and every orphan reclaimed (no
// file is open in a new process), so a crash never leaks an inode or a chunk reference.
import { scanAll } from '../meta/index.ts'
import { decodeKey } from '../meta/index.ts'
import type { FileSystemId } from './api.ts'
import { cloneInode, type FilesContext } from './context.ts'
import { trimPage } from './extents.ts'
import { orphanKey, orphanRange, trimKey, trimRange } from './keys.ts'
import { Mutation } from './mutation.ts'
import { decodeCounter } from './records.ts'

/** Delete an orphan's data and inode. The caller makes sure nothing holds the file open. */
export async function reclaimOrphan(ctx: FilesContext, fsId: FileSystemId, inode: number): Promise<void> {
  for (;;) {
    const done = await ctx.meta.transact(async (tx) => {
      const m = new Mutation(tx, fsId, ctx.chunkStore)
      const before = await m.inode(inode)
      if (before === undefined || before.nlink > 0) {
        tx.delete(orphanKey(fsId, inode))
        return true
      }
      const trimmed = await trimPage(m, inode, 0, ctx.tuning.reclaimPageKeys)
      const after = cloneInode(before)
      after.allocatedBytes -= trimmed.removedBytes
      if (trimmed.done) {
        m.putInode(inode, before, undefined)
        tx.delete(orphanKey(fsId, inode))
        tx.delete(trimKey(fsId, inode))
      } else {
        m.putInode(inode, before, after)
      }
      await m.finish()
      return trimmed.done
    })
    if (done) {
      ctx.log('files.orphan-reclaimed', { fsId, inode })
      return
    }
  }
}

/** Finish a truncate's trim of extents at or after its recorded offset. */
export async function finishTrim(ctx: FilesContext, fsId: FileSystemId, inode: number): Promise<void> {
  for (;;) {
    const done = await ctx.meta.transact(async (tx) => {
      const stored = await tx.get(trimKey(fsId, inode))
      if (stored === undefined) return true
      const from = decodeCounter(stored, `trim ${fsId}/${inode}`)
      const m = new Mutation(tx, fsId, ctx.chunkStore)
      const before = await m.inode(inode)
      if (before === undefined) {
        tx.delete(trimKey(fsId, inode))
        return true
      }
      const trimmed = await trimPage(m, inode, from, ctx.tuning.reclaimPageKeys)
      const after = cloneInode(before)
      after.allocatedBytes -= trimmed.removedBytes
      if (trimmed.done) tx.delete(trimKey(fsId, inode))
      m.putInode(inode, before, after)
      await m.finish()
      return trimmed.done
    })
    if (done) return
  }
}

function inodeOfKey(key: Buffer): number {
  const inode = decodeKey(key).at(-1)
  if (typeof inode !== 'number') throw new TypeError('orphan and trim keys end with an inode number')
  return inode
}

/** At open: finish every trim, reclaim every orphan. Returns how many of each. */
export async function recoverFileSystem(ctx: FilesContext, fsId: FileSystemId): Promise<{ trims: number; orphans: number }> {
  const trims = await ctx.meta.read(async (tx) => {
    const found: number[] = []
    for await (const entry of scanAll(tx, trimRange(fsId))) found.push(inodeOfKey(entry.key))
    return found
  })
  for (const inode of trims) await finishTrim(ctx, fsId, inode)
  const orphans = await ctx.meta.read(async (tx) => {
    const found: number[] = []
    for await (const entry of scanAll(tx, orphanRange(fsId))) found.push(inodeOfKey(entry.key))
    return found
  })
  for (const inode of orphans) await reclaimOrphan(ctx, fsId, inode)
  return { trims: trims.length, orphans: orphans.length }
}
