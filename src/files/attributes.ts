// getAttributes and setAttributes. Permission rules follow the contract: only the owner (or
// root) changes mode and explicit times, only root gives a file away, the owner may change the
// group to one of its own; size changes need write permission unless the caller holds the file
// open for writing.
//
// A size change or an mtime change of a regular file first flushes its buffered writes (under
// the file's lock, which it keeps), so a truncate never resurrects or loses later bytes and a
// flush never overwrites an explicit mtime. A truncate that cannot drop every extent past the new
// size in one transaction leaves a trim record and finishes page by page (docs/format/files.md 7).
import { fileLimits, StoreError } from '../lib/index.ts'
import { FileError, type AttributeChanges, type Caller, type FileAttributes, type FileHandle, type FileSystemId, type SetAttributeOptions } from './api.ts'
import { timestampOf } from './change.ts'
import { attributesOf, cloneInode, need, requireInode, requireWritable, resolveHandle, type FilesContext } from './context.ts'
import { touch } from './entries.ts'
import { trimPage } from './extents.ts'
import { flushLocked } from './flush.ts'
import { trimKey } from './keys.ts'
import { Mutation } from './mutation.ts'
import { encodeCounter, type InodeRecord } from './records.ts'

export async function getAttributes(ctx: FilesContext, handle: FileHandle): Promise<FileAttributes> {
  const { fs, inode } = resolveHandle(ctx, handle)
  const record = await ctx.meta.read((tx) => requireInode(ctx, tx, fs.id, inode))
  return attributesOf(ctx, fs.id, inode, record)
}

function checkChanges(caller: Caller, record: InodeRecord, changes: AttributeChanges, options: SetAttributeOptions | undefined): void {
  const isOwner = caller.uid === 0 || caller.uid === record.uid
  if (changes.mode !== undefined && !isOwner) throw new FileError('not-owner', 'only the owner may change the mode')
  if (changes.uid !== undefined && changes.uid !== record.uid && caller.uid !== 0) throw new FileError('not-owner', 'only root may change the owner')
  if (changes.gid !== undefined && changes.gid !== record.gid && caller.uid !== 0) {
    if (caller.uid !== record.uid || (caller.gid !== changes.gid && !caller.gids.includes(changes.gid))) {
      throw new FileError('not-owner', 'the owner may only change the group to one of its own')
    }
  }
  if (changes.sizeBytes !== undefined) {
    if (record.type === 'directory') throw new FileError('is-directory', 'cannot truncate a directory')
    if (record.type !== 'regular') throw new StoreError('INVALID_ARGUMENT', 'size applies to regular files')
    if (options?.openForWrite !== true) need(caller, record, { write: true })
  }
  for (const time of [changes.accessTime, changes.modifyTime]) {
    if (time === undefined || isOwner) continue
    if (time !== 'now') throw new FileError('not-owner', 'only the owner may set explicit times')
    need(caller, record, { write: true })
  }
}

function checkValues(changes: AttributeChanges): void {
  const id = (value: number | undefined): boolean => value === undefined || (Number.isInteger(value) && value >= 0 && value <= 0xffff_ffff)
  if (!id(changes.uid) || !id(changes.gid)) throw new StoreError('INVALID_ARGUMENT', 'uid and gid are 0..2^32-1')
  if (changes.mode !== undefined && (!Number.isInteger(changes.mode) || changes.mode < 0)) throw new StoreError('INVALID_ARGUMENT', 'bad mode')
  const size = changes.sizeBytes
  if (size !== undefined) {
    if (!Number.isSafeInteger(size) || size < 0) throw new StoreError('INVALID_ARGUMENT', 'bad size')
    if (size > fileLimits.fileSizeBytesMax) throw new FileError('file-too-large', 'size above the maximum file size')
  }
}

function applyChanges(ctx: FilesContext, record: InodeRecord, changes: AttributeChanges): void {
  const now = timestampOf(ctx.clock.nowMs())
  if (changes.mode !== undefined) record.mode = changes.mode & 0o7777
  if (changes.uid !== undefined) record.uid = changes.uid
  if (changes.gid !== undefined) record.gid = changes.gid
  if (changes.sizeBytes !== undefined && changes.sizeBytes !== record.sizeBytes) record.modifyTime = now
  if (changes.accessTime !== undefined) record.accessTime = changes.accessTime === 'now' ? now : changes.accessTime
  if (changes.modifyTime !== undefined) record.modifyTime = changes.modifyTime === 'now' ? now : changes.modifyTime
  record.exclusiveVerifier = undefined
  const modifyTime = record.modifyTime
  touch(ctx, record, false)
  record.modifyTime = modifyTime
  if (changes.sizeBytes !== undefined) record.sizeBytes = changes.sizeBytes
}

export async function setAttributes(ctx: FilesContext, caller: Caller, handle: FileHandle, changes: AttributeChanges, options?: SetAttributeOptions): Promise<FileAttributes> {
  const { fs, inode } = resolveHandle(ctx, handle)
  requireWritable(fs)
  checkValues(changes)
  const existing = ctx.active.get(fs.id, inode)
  const flushFirst = existing !== undefined && (changes.sizeBytes !== undefined || changes.modifyTime !== undefined)
  if (!flushFirst && changes.sizeBytes === undefined) return applySimple(ctx, caller, fs.id, inode, changes, options)
  const file = ctx.active.obtain(fs.id, inode)
  const release = await file.lock.lock()
  try {
    // Check first: a caller without permission must not cause a flush either.
    const record = await ctx.meta.read((tx) => requireInode(ctx, tx, fs.id, inode))
    checkChanges(caller, record, changes, options)
    await flushLocked(ctx, file, 'all', options?.signal)
    if (changes.sizeBytes === undefined) return await applySimple(ctx, caller, fs.id, inode, changes, options)
    return await truncate(ctx, caller, fs.id, inode, changes, options)
  } finally {
    release()
    ctx.active.account(file)
  }
}

async function applySimple(ctx: FilesContext, caller: Caller, fsId: FileSystemId, inode: number, changes: AttributeChanges, options: SetAttributeOptions | undefined): Promise<FileAttributes> {
  return ctx.meta.transact(async (tx) => {
    const m = new Mutation(tx, fsId, ctx.chunkStore)
    const before = await requireInode(ctx, tx, fsId, inode)
    checkChanges(caller, before, changes, options)
    const after = cloneInode(before)
    applyChanges(ctx, after, changes)
    m.putInode(inode, before, after)
    await m.finish()
    return attributesOf(ctx, fsId, inode, after)
  })
}

/** Set the size (and the other changes) with the file's lock held and nothing buffered before it. */
async function truncate(ctx: FilesContext, caller: Caller, fsId: FileSystemId, inode: number, changes: AttributeChanges, options: SetAttributeOptions | undefined): Promise<FileAttributes> {
  const sizeBytes = changes.sizeBytes as number
  let first = true
  for (;;) {
    const { attributes, done } = await ctx.meta.transact(async (tx) => {
      const m = new Mutation(tx, fsId, ctx.chunkStore)
      const before = await requireInode(ctx, tx, fsId, inode)
      const after = cloneInode(before)
      if (first) {
        checkChanges(caller, before, changes, options)
        applyChanges(ctx, after, changes)
      }
      const trimmed = await trimPage(m, inode, sizeBytes, ctx.tuning.reclaimPageKeys)
      after.allocatedBytes -= trimmed.removedBytes
      if (trimmed.done) tx.delete(trimKey(fsId, inode))
      else tx.put(trimKey(fsId, inode), encodeCounter(sizeBytes))
      m.putInode(inode, before, after)
      await m.finish()
      return { attributes: attributesOf(ctx, fsId, inode, after), done: trimmed.done }
    })
    first = false
    if (done) return attributes
  }
}
