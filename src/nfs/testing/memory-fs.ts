// An in-memory FileService (src/files/api.ts) for NFS tests and demos: POSIX namespace and
// permission rules, sparse file data in 64 KiB blocks, unlink-while-open, exclusive create
// verifiers, stable directory cookies. Nothing is durable: commit() is a no-op, and writeVerifier
// is fixed for the life of the object (a "restart" is a new MemoryFileService).
//
// It is a reference for the real files layer's semantics, kept simple: O(entries) directory
// paging, one Map per directory, no quotas.
import { StoreError, systemClock, type Clock } from '../../lib/index.ts'
import { nfsLimits } from '../../lib/index.ts'
import {
  FileError, posixAccess,
  type AttributeChanges, type Caller, type Created, type DirectoryChange, type DirectoryPage, type ExportPolicy,
  type FileAttributes, type FileHandle, type FileService, type FileSystemId, type FileSystemInfo, type FileSystemUsage,
  type Found, type NewObject, type ReadDirectoryOptions, type SetAttributeOptions, type Timestamp, type WriteStability,
  type Written,
} from '../../files/api.ts'
import { SparseData } from './sparse-data.ts'

export interface MemoryFileSystemOptions {
  readonly name: string
  readonly exportPolicy?: Partial<ExportPolicy>
  /** The file system itself refuses changes (FileError 'read-only'). */
  readonly readOnly?: boolean
}

export interface MemoryFileServiceOptions {
  readonly fileSystems: readonly MemoryFileSystemOptions[]
  readonly clock?: Clock
  readonly totalBytes?: number
  readonly maxFileSizeBytes?: number
}

interface Inode {
  readonly fileId: number
  readonly generation: number
  readonly type: FileAttributes['type']
  mode: number
  uid: number
  gid: number
  nlink: number
  data: SparseData
  target: string
  entries: Map<string, { fileId: number; cookie: bigint }>
  parent: number
  nextCookie: bigint
  change: bigint
  accessTime: Timestamp
  modifyTime: Timestamp
  changeTime: Timestamp
  createTime: Timestamp
  openCount: number
  exclusiveVerifier: Buffer | undefined
}

const handleBytes = 16
const firstCookie = 3n // NFS reserves 0, 1 and 2

export const defaultExportPolicy: ExportPolicy = {
  readOnly: false, rootSquash: false, anonymousUid: 65534, anonymousGid: 65534, allowedClients: [],
}

class MemoryFileSystem {
  readonly info: FileSystemInfo
  readonly readOnly: boolean
  readonly inodes = new Map<number, Inode>()
  readonly verifier: Buffer
  #nextFileId = 1
  #generation = 1
  #change = 1n

  constructor(number: number, options: MemoryFileSystemOptions, now: Timestamp) {
    this.readOnly = options.readOnly ?? false
    const root = this.allocate('directory', 0o755, { uid: 0, gid: 0, gids: [] }, now)
    root.parent = root.fileId
    root.nlink = 2
    this.verifier = Buffer.alloc(8)
    this.verifier.writeUInt32BE(number, 0)
    this.info = {
      id: `fs-${number.toString(16).padStart(8, '0')}` as FileSystemId,
      name: options.name,
      number,
      rootHandle: this.handleOf(root, number),
      exportPolicy: { ...defaultExportPolicy, ...options.exportPolicy },
    }
  }

  nextChange(): bigint {
    this.#change += 1n
    return this.#change
  }

  allocate(type: Inode['type'], mode: number, caller: Caller, now: Timestamp): Inode {
    const inode: Inode = {
      fileId: this.#nextFileId++, generation: this.#generation++, type, mode: mode & 0o7777, uid: caller.uid, gid: caller.gid,
      nlink: 1, data: new SparseData(), target: '', entries: new Map(), parent: 0, nextCookie: firstCookie,
      change: this.nextChange(), accessTime: now, modifyTime: now, changeTime: now, createTime: now, openCount: 0,
      exclusiveVerifier: undefined,
    }
    this.inodes.set(inode.fileId, inode)
    return inode
  }

  handleOf(inode: Inode, number = this.info.number): FileHandle {
    const handle = Buffer.alloc(handleBytes)
    handle.writeUInt32BE(number, 0)
    handle.writeUInt32BE(inode.generation, 4)
    handle.writeBigUInt64BE(BigInt(inode.fileId), 8)
    return handle as FileHandle
  }
}

export class MemoryFileService implements FileService {
  readonly writeVerifier: Buffer
  readonly maxFileSizeBytes: number
  readonly #clock: Clock
  readonly #totalBytes: number
  readonly #fileSystems = new Map<number, MemoryFileSystem>()

  constructor(options: MemoryFileServiceOptions) {
    this.#clock = options.clock ?? systemClock
    this.#totalBytes = options.totalBytes ?? 2 ** 40
    this.maxFileSizeBytes = options.maxFileSizeBytes ?? 2 ** 50
    this.writeVerifier = Buffer.from(this.#clock.nowMs().toString(16).padStart(16, '0').slice(-16), 'hex')
    options.fileSystems.forEach((fileSystem, index) => {
      this.#fileSystems.set(index + 1, new MemoryFileSystem(index + 1, fileSystem, this.#now()))
    })
  }

  #now(): Timestamp {
    const ms = this.#clock.nowMs()
    return { seconds: Math.floor(ms / 1000), nanoseconds: (ms % 1000) * 1_000_000 }
  }

  #resolve(handle: FileHandle): { fs: MemoryFileSystem; inode: Inode } {
    if (handle.length !== handleBytes) throw new StoreError('INVALID_ARGUMENT', 'not a file handle of this service')
    const fs = this.#fileSystems.get(handle.readUInt32BE(0))
    if (fs === undefined) throw new StoreError('NOT_FOUND', 'file system is gone', { subject: 'filesystem' })
    const inode = fs.inodes.get(Number(handle.readBigUInt64BE(8)))
    if (inode === undefined || inode.generation !== handle.readUInt32BE(4)) {
      throw new StoreError('NOT_FOUND', 'stale file handle', { subject: 'inode' })
    }
    return { fs, inode }
  }

  #directory(handle: FileHandle): { fs: MemoryFileSystem; inode: Inode } {
    const found = this.#resolve(handle)
    if (found.inode.type !== 'directory') throw new FileError('not-directory', 'not a directory')
    return found
  }

  #writable(fs: MemoryFileSystem): void {
    if (fs.readOnly) throw new FileError('read-only', `file system ${fs.info.name} is read-only`)
  }

  #attributes(inode: Inode): FileAttributes {
    const sizeBytes = inode.type === 'symlink' ? Buffer.byteLength(inode.target) : inode.type === 'directory' ? 4096 : inode.data.sizeBytes
    return {
      type: inode.type, mode: inode.mode, nlink: inode.nlink, uid: inode.uid, gid: inode.gid, sizeBytes,
      spaceUsedBytes: inode.type === 'regular' ? inode.data.allocatedBytes : 4096, fileId: inode.fileId, change: inode.change,
      accessTime: inode.accessTime, modifyTime: inode.modifyTime, changeTime: inode.changeTime, createTime: inode.createTime,
    }
  }

  #touch(fs: MemoryFileSystem, inode: Inode, what: { data?: boolean }): void {
    const now = this.#now()
    inode.change = fs.nextChange()
    inode.changeTime = now
    if (what.data) inode.modifyTime = now
  }

  #need(caller: Caller, inode: Inode, rights: { read?: boolean; write?: boolean; execute?: boolean }): void {
    const granted = posixAccess(inode, caller)
    if ((rights.read && !granted.read) || (rights.write && !granted.write) || (rights.execute && !granted.execute)) {
      throw new StoreError('ACCESS_DENIED', 'permission denied', { subject: 'inode' })
    }
  }

  #entry(directory: Inode, name: string): { fileId: number; cookie: bigint } {
    const entry = directory.entries.get(name)
    if (entry === undefined) throw new StoreError('NOT_FOUND', `no entry ${JSON.stringify(name)}`, { subject: 'entry' })
    return entry
  }

  #release(fs: MemoryFileSystem, inode: Inode): void {
    if (inode.nlink === 0 && inode.openCount === 0) fs.inodes.delete(inode.fileId)
  }

  #found(fs: MemoryFileSystem, inode: Inode): Found {
    return { handle: fs.handleOf(inode), attributes: this.#attributes(inode) }
  }

  async listFileSystems(): Promise<FileSystemInfo[]> {
    return [...this.#fileSystems.values()].map((fs) => fs.info)
  }

  async findFileSystem(nameOrId: string): Promise<FileSystemInfo | undefined> {
    return [...this.#fileSystems.values()].find((fs) => fs.info.name === nameOrId || fs.info.id === nameOrId)?.info
  }

  async fileSystemOf(handle: FileHandle): Promise<FileSystemInfo> {
    return this.#resolve(handle).fs.info
  }

  async usage(handle: FileHandle): Promise<FileSystemUsage> {
    const { fs } = this.#resolve(handle)
    let usedBytes = 0
    for (const inode of fs.inodes.values()) usedBytes += inode.data.allocatedBytes
    const freeBytes = Math.max(0, this.#totalBytes - usedBytes)
    const totalFiles = 1_000_000
    const freeFiles = totalFiles - fs.inodes.size
    return { totalBytes: this.#totalBytes, freeBytes, availableBytes: freeBytes, totalFiles, freeFiles, availableFiles: freeFiles }
  }

  async getAttributes(handle: FileHandle): Promise<FileAttributes> {
    return this.#attributes(this.#resolve(handle).inode)
  }

  async setAttributes(caller: Caller, handle: FileHandle, changes: AttributeChanges, options?: SetAttributeOptions): Promise<FileAttributes> {
    const { fs, inode } = this.#resolve(handle)
    this.#writable(fs)
    const isOwner = caller.uid === 0 || caller.uid === inode.uid
    if (changes.mode !== undefined && !isOwner) throw new FileError('not-owner', 'only the owner may change the mode')
    if (changes.uid !== undefined && changes.uid !== inode.uid && caller.uid !== 0) throw new FileError('not-owner', 'only root may change the owner')
    if (changes.gid !== undefined && changes.gid !== inode.gid && caller.uid !== 0) {
      if (caller.uid !== inode.uid || (caller.gid !== changes.gid && !caller.gids.includes(changes.gid))) {
        throw new FileError('not-owner', 'the owner may only change the group to one of its own')
      }
    }
    if (changes.sizeBytes !== undefined) {
      if (inode.type === 'directory') throw new FileError('is-directory', 'cannot truncate a directory')
      if (inode.type !== 'regular') throw new StoreError('INVALID_ARGUMENT', 'size applies to regular files')
      if (changes.sizeBytes > this.maxFileSizeBytes) throw new FileError('file-too-large', 'size above the maximum file size')
      if (!options?.openForWrite) this.#need(caller, inode, { write: true })
    }
    for (const time of [changes.accessTime, changes.modifyTime]) {
      if (time === undefined || isOwner) continue
      if (time !== 'now') throw new FileError('not-owner', 'only the owner may set explicit times')
      this.#need(caller, inode, { write: true })
    }
    const now = this.#now()
    if (changes.mode !== undefined) inode.mode = changes.mode & 0o7777
    if (changes.uid !== undefined) inode.uid = changes.uid
    if (changes.gid !== undefined) inode.gid = changes.gid
    if (changes.sizeBytes !== undefined) {
      inode.data.truncate(changes.sizeBytes)
      inode.modifyTime = now
    }
    if (changes.accessTime !== undefined) inode.accessTime = changes.accessTime === 'now' ? now : changes.accessTime
    if (changes.modifyTime !== undefined) inode.modifyTime = changes.modifyTime === 'now' ? now : changes.modifyTime
    inode.exclusiveVerifier = undefined
    inode.change = fs.nextChange()
    inode.changeTime = now
    return this.#attributes(inode)
  }

  async lookup(caller: Caller, directory: FileHandle, name: string): Promise<Found> {
    const { fs, inode } = this.#directory(directory)
    checkName(name)
    this.#need(caller, inode, { execute: true })
    const child = fs.inodes.get(this.#entry(inode, name).fileId)
    if (child === undefined) throw new StoreError('NOT_FOUND', 'entry without inode', { subject: 'entry' })
    return this.#found(fs, child)
  }

  async lookupParent(caller: Caller, directory: FileHandle): Promise<Found> {
    const { fs, inode } = this.#directory(directory)
    this.#need(caller, inode, { execute: true })
    if (inode.parent === inode.fileId) throw new StoreError('NOT_FOUND', 'the root has no parent here', { subject: 'entry' })
    const parent = fs.inodes.get(inode.parent)
    if (parent === undefined) throw new StoreError('NOT_FOUND', 'parent is gone', { subject: 'inode' })
    return this.#found(fs, parent)
  }

  async readDirectory(caller: Caller, directory: FileHandle, options: ReadDirectoryOptions): Promise<DirectoryPage> {
    const { fs, inode } = this.#directory(directory)
    this.#need(caller, inode, { read: true })
    if (options.cookie !== 0n) {
      if (options.cookie < firstCookie || options.cookie >= inode.nextCookie) throw new StoreError('INVALID_RANGE', 'unknown directory cookie')
      if (options.verifier !== undefined && !options.verifier.equals(fs.verifier)) {
        throw new StoreError('PRECONDITION_FAILED', 'directory verifier no longer valid', { subject: 'entry' })
      }
    }
    const maxEntries = Math.max(1, Math.min(options.maxEntries, nfsLimits.readdirEntriesMax))
    const entries: DirectoryPage['entries'][number][] = []
    let eof = true
    for (const [name, entry] of inode.entries) {
      if (entry.cookie <= options.cookie) continue
      if (entries.length === maxEntries) {
        eof = false
        break
      }
      const child = fs.inodes.get(entry.fileId)
      if (child !== undefined) entries.push({ name, cookie: entry.cookie, ...this.#found(fs, child) })
    }
    return { entries, verifier: fs.verifier, eof }
  }

  async create(caller: Caller, directory: FileHandle, name: string, object: NewObject): Promise<Created> {
    const { fs, inode: parent } = this.#directory(directory)
    checkName(name)
    const existing = parent.entries.get(name)
    if (existing !== undefined) {
      this.#need(caller, parent, { execute: true })
      const child = fs.inodes.get(existing.fileId)
      if (child !== undefined && object.type === 'regular' && child.type === 'regular') {
        const how = object.how
        const retransmitted = how.mode === 'exclusive' && child.exclusiveVerifier?.equals(how.verifier) === true
        if (how.mode === 'unchecked' || retransmitted) {
          return { ...this.#found(fs, child), created: false, directory: { before: parent.change, after: parent.change, atomic: true } }
        }
      }
      throw new StoreError('ALREADY_EXISTS', `${JSON.stringify(name)} exists`, { subject: 'entry' })
    }
    this.#writable(fs)
    this.#need(caller, parent, { write: true, execute: true })
    if (object.type === 'symlink' && Buffer.byteLength(object.target) > nfsLimits.symlinkTargetMaxBytes) {
      throw new FileError('name-too-long', 'symlink target too long')
    }
    const before = parent.change
    const owner = { ...caller, gid: (parent.mode & 0o2000) !== 0 ? parent.gid : caller.gid }
    const child = fs.allocate(object.type, object.type === 'symlink' ? 0o777 : object.mode, owner, this.#now())
    if (object.type === 'symlink') child.target = object.target
    if (object.type === 'regular' && object.how.mode === 'exclusive') child.exclusiveVerifier = Buffer.from(object.how.verifier)
    if (object.type === 'directory') {
      child.nlink = 2
      child.parent = parent.fileId
      if ((parent.mode & 0o2000) !== 0) child.mode |= 0o2000
      parent.nlink += 1
    }
    this.#link(parent, name, child.fileId)
    this.#touch(fs, parent, { data: true })
    return { ...this.#found(fs, child), created: true, directory: { before, after: parent.change, atomic: true } }
  }

  #link(directory: Inode, name: string, fileId: number): void {
    directory.entries.set(name, { fileId, cookie: directory.nextCookie })
    directory.nextCookie += 1n
  }

  async link(caller: Caller, file: FileHandle, directory: FileHandle, name: string): Promise<{ attributes: FileAttributes; directory: DirectoryChange }> {
    const { inode: target } = this.#resolve(file)
    const { fs, inode: parent } = this.#directory(directory)
    if (this.#resolve(file).fs !== fs) throw new FileError('cross-filesystem', 'hard links stay within a file system')
    checkName(name)
    this.#writable(fs)
    if (target.type === 'directory') throw new FileError('is-directory', 'cannot hard-link a directory')
    this.#need(caller, parent, { write: true, execute: true })
    if (parent.entries.has(name)) throw new StoreError('ALREADY_EXISTS', `${JSON.stringify(name)} exists`, { subject: 'entry' })
    if (target.nlink === 0) throw new StoreError('NOT_FOUND', 'the file was removed', { subject: 'inode' })
    const before = parent.change
    this.#link(parent, name, target.fileId)
    target.nlink += 1
    this.#touch(fs, target, {})
    this.#touch(fs, parent, { data: true })
    return { attributes: this.#attributes(target), directory: { before, after: parent.change, atomic: true } }
  }

  #mayUnlink(caller: Caller, parent: Inode, child: Inode): void {
    this.#need(caller, parent, { write: true, execute: true })
    const sticky = (parent.mode & 0o1000) !== 0
    if (sticky && caller.uid !== 0 && caller.uid !== parent.uid && caller.uid !== child.uid) {
      throw new FileError('not-owner', 'sticky directory: only the owner may remove or rename')
    }
  }

  async remove(caller: Caller, directory: FileHandle, name: string): Promise<DirectoryChange> {
    const { fs, inode: parent } = this.#directory(directory)
    checkName(name)
    this.#writable(fs)
    const child = fs.inodes.get(this.#entry(parent, name).fileId)
    if (child === undefined) throw new StoreError('NOT_FOUND', 'entry without inode', { subject: 'entry' })
    this.#mayUnlink(caller, parent, child)
    if (child.type === 'directory' && child.entries.size > 0) throw new StoreError('NOT_EMPTY', 'directory not empty', { subject: 'inode' })
    const before = parent.change
    this.#unlinkChild(fs, parent, name, child)
    return { before, after: parent.change, atomic: true }
  }

  #unlinkChild(fs: MemoryFileSystem, parent: Inode, name: string, child: Inode): void {
    parent.entries.delete(name)
    if (child.type === 'directory') {
      child.nlink = 0
      parent.nlink -= 1
    } else {
      child.nlink -= 1
    }
    this.#touch(fs, child, {})
    this.#touch(fs, parent, { data: true })
    this.#release(fs, child)
  }

  async rename(caller: Caller, fromDirectory: FileHandle, fromName: string, toDirectory: FileHandle, toName: string): Promise<{ from: DirectoryChange; to: DirectoryChange }> {
    const { fs, inode: source } = this.#directory(fromDirectory)
    const { fs: targetFs, inode: target } = this.#directory(toDirectory)
    if (fs !== targetFs) throw new FileError('cross-filesystem', 'rename stays within a file system')
    checkName(fromName)
    checkName(toName)
    this.#writable(fs)
    const moving = fs.inodes.get(this.#entry(source, fromName).fileId)
    if (moving === undefined) throw new StoreError('NOT_FOUND', 'entry without inode', { subject: 'entry' })
    this.#mayUnlink(caller, source, moving)
    this.#need(caller, target, { write: true, execute: true })
    const fromBefore = source.change
    const toBefore = target.change
    const replaced = target.entries.get(toName)
    const victim = replaced === undefined ? undefined : fs.inodes.get(replaced.fileId)
    if (victim === moving) return { from: { before: fromBefore, after: fromBefore, atomic: true }, to: { before: toBefore, after: toBefore, atomic: true } }
    if (moving.type === 'directory') {
      if (source !== target) this.#need(caller, moving, { write: true })
      for (let cursor = target; ; cursor = fs.inodes.get(cursor.parent) as Inode) {
        if (cursor === moving) throw new StoreError('INVALID_ARGUMENT', 'cannot move a directory into itself')
        if (cursor.parent === cursor.fileId) break
      }
    }
    if (victim !== undefined) {
      this.#mayUnlink(caller, target, victim)
      if (moving.type === 'directory' && victim.type !== 'directory') throw new FileError('not-directory', 'cannot replace a non-directory with a directory')
      if (moving.type !== 'directory' && victim.type === 'directory') throw new FileError('is-directory', 'cannot replace a directory with a non-directory')
      if (victim.type === 'directory' && victim.entries.size > 0) throw new StoreError('NOT_EMPTY', 'target directory not empty', { subject: 'inode' })
      this.#unlinkChild(fs, target, toName, victim)
    }
    source.entries.delete(fromName)
    this.#link(target, toName, moving.fileId)
    if (moving.type === 'directory' && source !== target) {
      moving.parent = target.fileId
      source.nlink -= 1
      target.nlink += 1
    }
    this.#touch(fs, moving, {})
    this.#touch(fs, source, { data: true })
    if (target !== source) this.#touch(fs, target, { data: true })
    return { from: { before: fromBefore, after: source.change, atomic: true }, to: { before: toBefore, after: target.change, atomic: true } }
  }

  async readLink(handle: FileHandle): Promise<string> {
    const { inode } = this.#resolve(handle)
    if (inode.type !== 'symlink') throw new FileError('not-symlink', 'not a symbolic link')
    return inode.target
  }

  async read(handle: FileHandle, offsetBytes: number, lengthBytes: number): Promise<{ data: Buffer; eof: boolean }> {
    const { inode } = this.#resolve(handle)
    if (inode.type === 'directory') throw new FileError('is-directory', 'cannot read a directory')
    if (inode.type !== 'regular') throw new StoreError('INVALID_ARGUMENT', 'not a regular file')
    inode.accessTime = this.#now()
    const data = inode.data.read(offsetBytes, lengthBytes)
    return { data, eof: offsetBytes + data.length >= inode.data.sizeBytes }
  }

  async write(handle: FileHandle, offsetBytes: number, data: Buffer, stability: WriteStability): Promise<Written> {
    const { fs, inode } = this.#resolve(handle)
    this.#writable(fs)
    if (inode.type === 'directory') throw new FileError('is-directory', 'cannot write a directory')
    if (inode.type !== 'regular') throw new StoreError('INVALID_ARGUMENT', 'not a regular file')
    if (offsetBytes + data.length > this.maxFileSizeBytes) throw new FileError('file-too-large', 'write past the maximum file size')
    inode.data.write(offsetBytes, data)
    this.#touch(fs, inode, { data: true })
    return { committed: stability === 'unstable' ? 'unstable' : 'file-sync' }
  }

  async commit(handle: FileHandle): Promise<void> {
    this.#resolve(handle)
  }

  async openFile(handle: FileHandle): Promise<void> {
    this.#resolve(handle).inode.openCount += 1
  }

  async closeFile(handle: FileHandle): Promise<void> {
    const { fs, inode } = this.#resolve(handle)
    if (inode.openCount > 0) inode.openCount -= 1
    this.#release(fs, inode)
  }
}

function checkName(name: string): void {
  if (name === '' || name === '.' || name === '..' || name.includes('/') || name.includes('\0')) {
    throw new FileError('invalid-name', `invalid file name ${JSON.stringify(name)}`)
  }
  if (Buffer.byteLength(name) > nfsLimits.nameMaxBytes) throw new FileError('name-too-long', 'file name too long')
}
