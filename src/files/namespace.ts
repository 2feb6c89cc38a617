// Namespace reads and creations: lookup, lookupParent, readDirectory, readLink, create, link.
// Each call is one metadata read or one transaction; permission checks run inside it, on the
// records it changes. Directory listings page through the cookie index (never loaded whole).
import { nfsLimits, StoreError, fileLimits } from '../lib/index.ts'
import {
  FileError,
  type Caller, type Created, type DirectoryChange, type DirectoryEntry, type DirectoryPage, type FileAttributes, type FileHandle,
  type FileSystemId, type Found, type NewObject, type ReadDirectoryOptions,
} from './api.ts'
import { timestampOf } from './change.ts'
import {
  attributesOf, cloneInode, need, requireDirectory, requireInode, requireWritable, resolveHandle, rootInode, type FilesContext,
} from './context.ts'
import { addEntry, checkName, getEntry, touch } from './entries.ts'
import { encodeHandle } from './handles.ts'
import { allocatorKey, cookieKey, cookieRange, entryKey, inodeKey } from './keys.ts'
import { Mutation } from './mutation.ts'
import { decodeCookie, decodeCounter, decodeEntry, decodeInode, encodeCounter, type FileSystemRecord, type InodeRecord } from './records.ts'

const firstCookie = 3

function found(ctx: FilesContext, fsId: FileSystemId, inode: number, record: InodeRecord): Found {
  return { handle: encodeHandle(fsId, inode), attributes: attributesOf(ctx, fsId, inode, record) }
}

export async function lookup(ctx: FilesContext, caller: Caller, directory: FileHandle, name: string): Promise<Found> {
  const { fs, inode } = resolveHandle(ctx, directory)
  return ctx.meta.read(async (tx) => {
    const parent = await requireInode(ctx, tx, fs.id, inode)
    requireDirectory(parent)
    checkName(name)
    need(caller, parent, { execute: true })
    const bytes = await tx.get(entryKey(fs.id, inode, name))
    if (bytes === undefined) throw new StoreError('NOT_FOUND', `no entry ${JSON.stringify(name)}`, { subject: 'entry' })
    const entry = decodeEntry(bytes, `entry ${fs.id}/${inode}/${JSON.stringify(name)}`)
    const child = await tx.get(inodeKey(fs.id, entry.inode))
    if (child === undefined) throw new StoreError('IO_ERROR', `entry ${JSON.stringify(name)} of ${fs.id}/${inode} names a missing inode ${entry.inode}`)
    return found(ctx, fs.id, entry.inode, decodeInode(child, `inode ${fs.id}/${entry.inode}`))
  })
}

export async function lookupParent(ctx: FilesContext, caller: Caller, directory: FileHandle): Promise<Found> {
  const { fs, inode } = resolveHandle(ctx, directory)
  return ctx.meta.read(async (tx) => {
    const record = await requireInode(ctx, tx, fs.id, inode)
    requireDirectory(record)
    need(caller, record, { execute: true })
    if (inode === rootInode) throw new StoreError('NOT_FOUND', 'the root has no parent here', { subject: 'entry' })
    return found(ctx, fs.id, record.parent, await requireInode(ctx, tx, fs.id, record.parent))
  })
}

/** The readdir verifier: cookies never go stale, so it is fixed per directory. */
function verifierOf(inode: number): Buffer {
  const verifier = Buffer.alloc(8)
  verifier.writeBigUInt64BE(BigInt(inode))
  return verifier
}

export async function readDirectory(ctx: FilesContext, caller: Caller, directory: FileHandle, options: ReadDirectoryOptions): Promise<DirectoryPage> {
  const { fs, inode } = resolveHandle(ctx, directory)
  const cookie = options.cookie
  const maxEntries = Math.max(1, Math.min(options.maxEntries, nfsLimits.readdirEntriesMax))
  return ctx.meta.read(async (tx) => {
    const record = await requireInode(ctx, tx, fs.id, inode)
    requireDirectory(record)
    need(caller, record, { read: true })
    const verifier = verifierOf(inode)
    if (cookie !== 0n) {
      if (cookie < BigInt(firstCookie) || cookie >= BigInt(record.nextCookie)) throw new StoreError('INVALID_RANGE', 'unknown directory cookie')
      if (options.verifier !== undefined && !options.verifier.equals(verifier)) {
        throw new StoreError('PRECONDITION_FAILED', 'directory verifier no longer valid', { subject: 'entry' })
      }
    }
    const page = await tx.scan({ gt: cookieKey(fs.id, inode, Number(cookie)), lt: cookieRange(fs.id, inode).lt, limit: maxEntries + 1 })
    const listed = page.slice(0, maxEntries).map((item) => ({ cookie: item.key, value: decodeCookie(item.value, `cookie entry of ${fs.id}/${inode}`) }))
    const children = await tx.getMany(listed.map((item) => inodeKey(fs.id, item.value.inode)))
    const entries: DirectoryEntry[] = []
    listed.forEach((item, at) => {
      const bytes = children[at]
      if (bytes === undefined) throw new StoreError('IO_ERROR', `directory ${fs.id}/${inode} lists a missing inode ${item.value.inode}`)
      const child = decodeInode(bytes, `inode ${fs.id}/${item.value.inode}`)
      entries.push({ name: item.value.name, cookie: cookieOfKey(item.cookie), ...found(ctx, fs.id, item.value.inode, child) })
    })
    return { entries, verifier, eof: page.length <= maxEntries }
  })
}

/** The cookie is the key's last part (a u64 big-endian uint). */
function cookieOfKey(key: Buffer): bigint {
  return key.readBigUInt64BE(key.length - 8)
}

export async function readLink(ctx: FilesContext, handle: FileHandle): Promise<string> {
  const { fs, inode } = resolveHandle(ctx, handle)
  const record = await ctx.meta.read((tx) => requireInode(ctx, tx, fs.id, inode))
  if (record.type !== 'symlink') throw new FileError('not-symlink', 'not a symbolic link')
  return record.target
}

function newInode(ctx: FilesContext, object: NewObject, owner: { uid: number; gid: number }, parentInode: number): InodeRecord {
  const now = timestampOf(ctx.clock.nowMs())
  const target = object.type === 'symlink' ? object.target : ''
  return {
    type: object.type, storageClass: 'standard', mode: object.type === 'symlink' ? 0o777 : object.mode & 0o7777,
    nlink: object.type === 'directory' ? 2 : 1, uid: owner.uid, gid: owner.gid,
    sizeBytes: Buffer.byteLength(target), allocatedBytes: 0, change: ctx.changes.next(),
    accessTime: now, modifyTime: now, changeTime: now, createTime: now,
    parent: object.type === 'directory' ? parentInode : 0, nextCookie: object.type === 'directory' ? firstCookie : 0, entryCount: 0,
    exclusiveVerifier: object.type === 'regular' && object.how.mode === 'exclusive' ? Buffer.from(object.how.verifier) : undefined,
    target,
  }
}

function checkNewObject(object: NewObject): void {
  if (object.type === 'symlink' && Buffer.byteLength(object.target) > nfsLimits.symlinkTargetMaxBytes) {
    throw new FileError('name-too-long', 'symlink target too long')
  }
  if (object.type === 'regular' && object.how.mode === 'exclusive' && object.how.verifier.length !== 8) {
    throw new StoreError('INVALID_ARGUMENT', 'exclusive-create verifiers are 8 bytes')
  }
  if (object.type !== 'symlink' && (!Number.isInteger(object.mode) || object.mode < 0)) throw new StoreError('INVALID_ARGUMENT', 'bad mode')
}

export async function create(ctx: FilesContext, caller: Caller, directory: FileHandle, name: string, object: NewObject): Promise<Created> {
  const { fs, inode: parentInode } = resolveHandle(ctx, directory)
  checkNewObject(object)
  return ctx.meta.transact(async (tx) => {
    const m = new Mutation(tx, fs.id, ctx.chunkStore)
    const created = await createWithin(ctx, m, caller, fs, parentInode, name, object)
    await m.finish()
    return created
  })
}

/** Create many entries in one directory in one transaction (bulk loads). */
export async function createMany(ctx: FilesContext, caller: Caller, directory: FileHandle, names: readonly string[], object: NewObject): Promise<Created[]> {
  const { fs, inode: parentInode } = resolveHandle(ctx, directory)
  checkNewObject(object)
  return ctx.meta.transact(async (tx) => {
    const m = new Mutation(tx, fs.id, ctx.chunkStore)
    const created: Created[] = []
    for (const name of names) created.push(await createWithin(ctx, m, caller, fs, parentInode, name, object))
    await m.finish()
    return created
  })
}

async function createWithin(ctx: FilesContext, m: Mutation, caller: Caller, fs: FileSystemRecord, parentInode: number, name: string, object: NewObject): Promise<Created> {
  const tx = m.tx
  const parentBefore = await requireInode(ctx, tx, fs.id, parentInode)
  requireDirectory(parentBefore)
  checkName(name)
  const unchanged = (): DirectoryChange => {
    const change = ctx.changes.report(parentBefore.change)
    return { before: change, after: change, atomic: true }
  }
  const existing = await getEntry(m, parentInode, name)
  if (existing !== undefined) {
    need(caller, parentBefore, { execute: true })
    const child = await m.inode(existing.inode)
    if (child !== undefined && object.type === 'regular' && child.type === 'regular') {
      const how = object.how
      const retransmitted = how.mode === 'exclusive' && child.exclusiveVerifier?.equals(how.verifier) === true
      if (how.mode === 'unchecked' || retransmitted) return { ...found(ctx, fs.id, existing.inode, child), created: false, directory: unchanged() }
    }
    throw new StoreError('ALREADY_EXISTS', `${JSON.stringify(name)} exists`, { subject: 'entry' })
  }
  requireWritable(fs)
  need(caller, parentBefore, { write: true, execute: true })
  const allocated = await tx.get(allocatorKey(fs.id))
  const inode = (allocated === undefined ? rootInode : decodeCounter(allocated, `inode allocator of ${fs.id}`)) + 1
  tx.put(allocatorKey(fs.id), encodeCounter(inode))
  const setgid = (parentBefore.mode & 0o2000) !== 0
  const child = newInode(ctx, object, { uid: caller.uid, gid: setgid ? parentBefore.gid : caller.gid }, parentInode)
  if (object.type === 'directory' && setgid) child.mode |= 0o2000
  m.putInode(inode, undefined, child)
  const parent = cloneInode(parentBefore)
  addEntry(m, parentInode, parent, name, inode, child.type)
  if (child.type === 'directory') parent.nlink += 1
  touch(ctx, parent, true)
  m.putInode(parentInode, parentBefore, parent)
  const directoryChange = { before: ctx.changes.report(parentBefore.change), after: parent.change, atomic: true }
  return { ...found(ctx, fs.id, inode, child), created: true, directory: directoryChange }
}

export async function link(ctx: FilesContext, caller: Caller, file: FileHandle, directory: FileHandle, name: string): Promise<{ attributes: FileAttributes; directory: DirectoryChange }> {
  const target = resolveHandle(ctx, file)
  const { fs, inode: parentInode } = resolveHandle(ctx, directory)
  if (target.fs.id !== fs.id) throw new FileError('cross-filesystem', 'hard links stay within a file system')
  checkName(name)
  requireWritable(fs)
  return ctx.meta.transact(async (tx) => {
    const m = new Mutation(tx, fs.id, ctx.chunkStore)
    const targetBefore = await requireInode(ctx, tx, fs.id, target.inode)
    if (targetBefore.type === 'directory') throw new FileError('is-directory', 'cannot hard-link a directory')
    const parentBefore = await requireInode(ctx, tx, fs.id, parentInode)
    requireDirectory(parentBefore)
    need(caller, parentBefore, { write: true, execute: true })
    if ((await getEntry(m, parentInode, name)) !== undefined) throw new StoreError('ALREADY_EXISTS', `${JSON.stringify(name)} exists`, { subject: 'entry' })
    if (targetBefore.nlink === 0) throw new StoreError('NOT_FOUND', 'the file was removed', { subject: 'inode' })
    if (targetBefore.nlink >= fileLimits.linksMax) throw new FileError('too-many-links', `a file has at most ${fileLimits.linksMax} links`)
    const targetAfter = cloneInode(targetBefore)
    targetAfter.nlink += 1
    touch(ctx, targetAfter, false)
    const parent = cloneInode(parentBefore)
    addEntry(m, parentInode, parent, name, target.inode, targetAfter.type)
    touch(ctx, parent, true)
    m.putInode(target.inode, targetBefore, targetAfter)
    m.putInode(parentInode, parentBefore, parent)
    await m.finish()
    return {
      attributes: attributesOf(ctx, fs.id, target.inode, targetAfter),
      directory: { before: ctx.changes.report(parentBefore.change), after: parent.change, atomic: true },
    }
  })
}
