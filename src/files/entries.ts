// Directory entries inside a Mutation (docs/format/files.md 4): every entry is written by name
// and by cookie in the same transaction, and the directory's entry count, next cookie, times and
// change move with it. Unlinking applies the POSIX link-count rules and decides what happens to
// an inode whose last link goes: deleted at once, or kept as an orphan while it is open or has
// data to reclaim.
import { nfsLimits, StoreError } from '../lib/index.ts'
import { FileError, type Caller, type FileSystemId } from './api.ts'
import { timestampOf } from './change.ts'
import { need, type FilesContext } from './context.ts'
import { cookieKey, entryKey, orphanKey } from './keys.ts'
import type { Mutation } from './mutation.ts'
import { decodeEntry, encodeCookie, encodeEntry, type EntryValue, type InodeRecord } from './records.ts'

/** A name a caller may use for an entry: one component, not '.' or '..', at most 255 bytes. */
export function checkName(name: string): void {
  if (typeof name !== 'string' || name === '' || name === '.' || name === '..' || name.includes('/') || name.includes('\0')) {
    throw new FileError('invalid-name', `invalid file name ${JSON.stringify(name)}`)
  }
  if (Buffer.byteLength(name) > nfsLimits.nameMaxBytes) throw new FileError('name-too-long', 'file name too long')
}

export async function getEntry(m: Mutation, directory: number, name: string): Promise<EntryValue | undefined> {
  const bytes = await m.tx.get(entryKey(m.fsId, directory, name))
  return bytes === undefined ? undefined : decodeEntry(bytes, `entry ${m.fsId}/${directory}/${JSON.stringify(name)}`)
}

/** Stamp a change on an inode record (ctime, change; mtime too when its content changed). */
export function touch(ctx: FilesContext, record: InodeRecord, content: boolean): void {
  const now = timestampOf(ctx.clock.nowMs())
  record.changeTime = now
  if (content) record.modifyTime = now
  record.change = ctx.changes.next()
}

/** Add `name` -> inode to a directory (its record is updated in memory; the caller writes it). */
export function addEntry(m: Mutation, directoryInode: number, directory: InodeRecord, name: string, inode: number, type: InodeRecord['type']): void {
  const cookie = directory.nextCookie
  directory.nextCookie += 1
  directory.entryCount += 1
  m.tx.put(entryKey(m.fsId, directoryInode, name), encodeEntry({ inode, cookie, type }))
  m.tx.put(cookieKey(m.fsId, directoryInode, cookie), encodeCookie({ inode, type, name }))
}

export function removeEntry(m: Mutation, directoryInode: number, directory: InodeRecord, name: string, entry: EntryValue): void {
  directory.entryCount -= 1
  m.tx.delete(entryKey(m.fsId, directoryInode, name))
  m.tx.delete(cookieKey(m.fsId, directoryInode, entry.cookie))
}

/** Sticky directories: only root, the directory's owner or the entry's owner may unlink or rename. */
export function mayUnlink(caller: Caller, directory: InodeRecord, child: InodeRecord): void {
  need(caller, directory, { write: true, execute: true })
  const sticky = (directory.mode & 0o1000) !== 0
  if (sticky && caller.uid !== 0 && caller.uid !== directory.uid && caller.uid !== child.uid) {
    throw new FileError('not-owner', 'sticky directory: only the owner may remove or rename')
  }
}

/** What the caller must do after the transaction commits. */
export interface Unlinked {
  /** A regular file lost its last link and has data or is open: reclaim it once nothing holds it. */
  readonly orphan: number | undefined
  /** A regular file was deleted outright: drop its buffered bytes. */
  readonly deleted: number | undefined
}

/**
 * Unlink `child` (named `name` in `directory`): entries, link counts, and the inode's fate. The
 * directory record is updated in memory (entry count, nlink); the caller stamps and writes it.
 */
export function unlinkChild(ctx: FilesContext, m: Mutation, directoryInode: number, directory: InodeRecord, name: string, entry: EntryValue, child: InodeRecord): Unlinked {
  removeEntry(m, directoryInode, directory, name, entry)
  const before = { ...child }
  if (child.type === 'directory') {
    if (child.entryCount > 0) throw new StoreError('NOT_EMPTY', 'directory not empty', { subject: 'inode' })
    directory.nlink -= 1
    m.putInode(entry.inode, before, undefined)
    return { orphan: undefined, deleted: undefined }
  }
  child.nlink -= 1
  touch(ctx, child, false)
  if (child.nlink > 0) {
    m.putInode(entry.inode, before, child)
    return { orphan: undefined, deleted: undefined }
  }
  const open = ctx.active.isOpen(m.fsId, entry.inode)
  if (child.type === 'regular' && (open || child.allocatedBytes > 0)) {
    m.putInode(entry.inode, before, child)
    m.tx.put(orphanKey(m.fsId, entry.inode), Buffer.alloc(0))
    return { orphan: entry.inode, deleted: undefined }
  }
  m.putInode(entry.inode, before, undefined)
  return { orphan: undefined, deleted: child.type === 'regular' ? entry.inode : undefined }
}

/** After commit: drop buffered bytes of deleted files, reclaim orphans nothing holds open. */
export function afterUnlink(ctx: FilesContext, fsId: FileSystemId, unlinked: Unlinked, reclaim: (fsId: FileSystemId, inode: number) => void): void {
  const gone = unlinked.deleted ?? (unlinked.orphan !== undefined && !ctx.active.isOpen(fsId, unlinked.orphan) ? unlinked.orphan : undefined)
  if (gone === undefined) return
  const file = ctx.active.get(fsId, gone)
  if (file !== undefined) ctx.active.drop(file)
  if (gone === unlinked.orphan) reclaim(fsId, gone)
}
