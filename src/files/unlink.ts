// remove and rename: one transaction each, with the POSIX rules (sticky directories, empty
// directories only, directory over directory and non-directory over non-directory, never a
// directory into its own subtree; the same inode on both sides is a no-op). An unlinked regular
// file that is open or holds data becomes an orphan, reclaimed once nothing holds it open.
import { StoreError } from '../lib/index.ts'
import { FileError, type Caller, type DirectoryChange, type FileHandle, type FileSystemId } from './api.ts'
import { cloneInode, need, requireDirectory, requireInode, requireWritable, resolveHandle, rootInode, type FilesContext } from './context.ts'
import { addEntry, afterUnlink, checkName, getEntry, mayUnlink, removeEntry, touch, unlinkChild, type Unlinked } from './entries.ts'
import { Mutation } from './mutation.ts'
import type { InodeRecord } from './records.ts'

export type Reclaim = (fsId: FileSystemId, inode: number) => void

export async function remove(ctx: FilesContext, caller: Caller, directory: FileHandle, name: string, reclaim: Reclaim): Promise<DirectoryChange> {
  const { fs, inode: parentInode } = resolveHandle(ctx, directory)
  const { change, unlinked } = await ctx.meta.transact(async (tx) => {
    const m = new Mutation(tx, fs.id, ctx.chunkStore)
    const parentBefore = await requireInode(ctx, tx, fs.id, parentInode)
    requireDirectory(parentBefore)
    checkName(name)
    requireWritable(fs)
    const entry = await getEntry(m, parentInode, name)
    if (entry === undefined) throw new StoreError('NOT_FOUND', `no entry ${JSON.stringify(name)}`, { subject: 'entry' })
    const child = await m.inode(entry.inode)
    if (child === undefined) throw new StoreError('IO_ERROR', `entry ${JSON.stringify(name)} of ${fs.id}/${parentInode} names a missing inode`)
    mayUnlink(caller, parentBefore, child)
    const parent = cloneInode(parentBefore)
    const unlinked = unlinkChild(ctx, m, parentInode, parent, name, entry, child)
    touch(ctx, parent, true)
    m.putInode(parentInode, parentBefore, parent)
    await m.finish()
    return { change: { before: ctx.changes.report(parentBefore.change), after: parent.change, atomic: true }, unlinked }
  })
  afterUnlink(ctx, fs.id, unlinked, reclaim)
  return change
}

/** Whether `ancestor` is `directory` or one of its ancestors (walking parent links to the root). */
async function isWithin(ctx: FilesContext, m: Mutation, directory: number, ancestor: number): Promise<boolean> {
  for (let cursor = directory, steps = 0; ; steps += 1) {
    if (cursor === ancestor) return true
    if (cursor === rootInode) return false
    if (steps > 1_000_000) throw new StoreError('IO_ERROR', `directory ${m.fsId}/${directory}: parent links form a loop`)
    const record = await m.inode(cursor)
    if (record === undefined) throw new StoreError('IO_ERROR', `directory ${m.fsId}/${cursor} is missing from its child's parent chain`)
    cursor = record.parent
  }
}

interface Sides {
  readonly fromBefore: InodeRecord
  readonly from: InodeRecord
  readonly toBefore: InodeRecord
  /** The same object as `from` when both directories are one. */
  readonly to: InodeRecord
}

async function directories(ctx: FilesContext, m: Mutation, fromInode: number, toInode: number): Promise<Sides> {
  const fromBefore = await requireInode(ctx, m.tx, m.fsId, fromInode)
  requireDirectory(fromBefore)
  const from = cloneInode(fromBefore)
  if (toInode === fromInode) return { fromBefore, from, toBefore: fromBefore, to: from }
  const toBefore = await requireInode(ctx, m.tx, m.fsId, toInode)
  requireDirectory(toBefore)
  return { fromBefore, from, toBefore, to: cloneInode(toBefore) }
}

export async function rename(
  ctx: FilesContext, caller: Caller, fromDirectory: FileHandle, fromName: string, toDirectory: FileHandle, toName: string, reclaim: Reclaim,
): Promise<{ from: DirectoryChange; to: DirectoryChange }> {
  const source = resolveHandle(ctx, fromDirectory)
  const target = resolveHandle(ctx, toDirectory)
  if (source.fs.id !== target.fs.id) throw new FileError('cross-filesystem', 'rename stays within a file system')
  const fs = source.fs
  const result = await ctx.meta.transact(async (tx) => {
    const m = new Mutation(tx, fs.id, ctx.chunkStore)
    const sides = await directories(ctx, m, source.inode, target.inode)
    checkName(fromName)
    checkName(toName)
    requireWritable(fs)
    const report = (record: InodeRecord): bigint => ctx.changes.report(record.change)
    const entry = await getEntry(m, source.inode, fromName)
    if (entry === undefined) throw new StoreError('NOT_FOUND', `no entry ${JSON.stringify(fromName)}`, { subject: 'entry' })
    const movingBefore = await m.inode(entry.inode)
    if (movingBefore === undefined) throw new StoreError('IO_ERROR', `entry ${JSON.stringify(fromName)} names a missing inode`)
    mayUnlink(caller, sides.fromBefore, movingBefore)
    need(caller, sides.toBefore, { write: true, execute: true })
    const victimEntry = await getEntry(m, target.inode, toName)
    const noChange = { from: { before: report(sides.fromBefore), after: report(sides.fromBefore), atomic: true }, to: { before: report(sides.toBefore), after: report(sides.toBefore), atomic: true } }
    if (victimEntry?.inode === entry.inode) return { change: noChange, unlinked: undefined }
    const moving = cloneInode(movingBefore)
    const crossing = source.inode !== target.inode
    if (moving.type === 'directory') {
      if (crossing) need(caller, movingBefore, { write: true })
      if (await isWithin(ctx, m, target.inode, entry.inode)) throw new StoreError('INVALID_ARGUMENT', 'cannot move a directory into itself')
    }
    let unlinked: Unlinked | undefined
    if (victimEntry !== undefined) {
      const victim = await m.inode(victimEntry.inode)
      if (victim === undefined) throw new StoreError('IO_ERROR', `entry ${JSON.stringify(toName)} names a missing inode`)
      mayUnlink(caller, sides.toBefore, victim)
      if (moving.type === 'directory' && victim.type !== 'directory') throw new FileError('not-directory', 'cannot replace a non-directory with a directory')
      if (moving.type !== 'directory' && victim.type === 'directory') throw new FileError('is-directory', 'cannot replace a directory with a non-directory')
      if (victim.type === 'directory' && victim.entryCount > 0) throw new StoreError('NOT_EMPTY', 'target directory not empty', { subject: 'inode' })
      unlinked = unlinkChild(ctx, m, target.inode, sides.to, toName, victimEntry, victim)
    }
    removeEntry(m, source.inode, sides.from, fromName, entry)
    addEntry(m, target.inode, sides.to, toName, entry.inode, moving.type)
    if (moving.type === 'directory' && crossing) {
      moving.parent = target.inode
      sides.from.nlink -= 1
      sides.to.nlink += 1
    }
    touch(ctx, moving, false)
    m.putInode(entry.inode, movingBefore, moving)
    touch(ctx, sides.from, true)
    m.putInode(source.inode, sides.fromBefore, sides.from)
    if (crossing) {
      touch(ctx, sides.to, true)
      m.putInode(target.inode, sides.toBefore, sides.to)
    }
    await m.finish()
    const change = {
      from: { before: report(sides.fromBefore), after: sides.from.change, atomic: true },
      to: { before: report(sides.toBefore), after: sides.to.change, atomic: true },
    }
    return { change, unlinked }
  })
  if (result.unlinked !== undefined) afterUnlink(ctx, fs.id, result.unlinked, reclaim)
  return result.change
}
