// What every part of the files engine works with: the stores, the injected world, the change
// counter, the file systems (cached: this process is the only writer of their records), the
// active files, a chunk read cache, and the small helpers operations share (handle resolution,
// permission checks, attributes).
import { ContentDefinedChunker, type ChunkStore, type ContentDefinedChunkerOptions } from '../chunk/index.ts'
import { chunkIdHex, StoreError, type ChunkId, type Clock, type Random } from '../lib/index.ts'
import type { MetaStore, ReadTx } from '../meta/index.ts'
import { FileError, posixAccess, type Caller, type FileAttributes, type FileHandle, type FileSystemId, type FileSystemInfo } from './api.ts'
import { ActiveFiles } from './active.ts'
import { msOf, timestampOf, type ChangeCounter } from './change.ts'
import { decodeHandle, encodeHandle } from './handles.ts'
import { inodeKey } from './keys.ts'
import { decodeInode, type FileSystemRecord, type InodeRecord } from './records.ts'

export type FilesLog = (event: string, fields: Record<string, unknown>) => void

export interface FilesTuning {
  readonly dayMs: number
  readonly accessTimeResolutionMs: number
  readonly chunking: Readonly<ContentDefinedChunkerOptions>
  readonly dirtyBytesMax: number
  readonly dirtyBytesPerFileFlushAt: number
  readonly dirtyAgeMsMax: number
  readonly reclaimPageKeys: number
}

export interface FilesContext {
  readonly meta: MetaStore
  readonly chunkStore: ChunkStore
  readonly clock: Clock
  readonly random: Random
  readonly changes: ChangeCounter
  readonly tuning: FilesTuning
  readonly log: FilesLog
  readonly fileSystems: FileSystemRegistry
  readonly active: ActiveFiles
  readonly chunks: ChunkCache
  readonly chunkers: ChunkerPool
  /** Run background work (reclaims, tier moves): tracked so close() waits, failures logged. */
  background(name: string, work: () => Promise<unknown>): void
}

/** Live file systems by id, and the ids being deleted. */
export class FileSystemRegistry {
  readonly #live = new Map<FileSystemId, FileSystemRecord>()
  readonly deleting = new Set<FileSystemId>()

  set(record: FileSystemRecord): void {
    if (record.state === 'available') {
      this.#live.set(record.id, record)
      this.deleting.delete(record.id)
    } else {
      this.#live.delete(record.id)
      this.deleting.add(record.id)
    }
  }

  forget(id: FileSystemId): void {
    this.#live.delete(id)
    this.deleting.delete(id)
  }

  get(id: FileSystemId): FileSystemRecord | undefined {
    return this.#live.get(id)
  }

  byNameOrId(nameOrId: string): FileSystemRecord | undefined {
    const byId = this.#live.get(nameOrId as FileSystemId)
    if (byId !== undefined) return byId
    for (const record of this.#live.values()) if (record.name === nameOrId) return record
    return undefined
  }

  /** Live file systems by number. */
  list(): FileSystemRecord[] {
    return [...this.#live.values()].sort((a, b) => a.number - b.number)
  }

  /** NOT_FOUND 'filesystem' unless it is live. */
  require(id: FileSystemId): FileSystemRecord {
    const record = this.#live.get(id)
    if (record === undefined) throw new StoreError('NOT_FOUND', `file system ${id} does not exist`, { subject: 'filesystem' })
    return record
  }
}

export function infoOf(record: FileSystemRecord): FileSystemInfo {
  return { id: record.id, name: record.name, number: record.number, rootHandle: encodeHandle(record.id, rootInode), exportPolicy: record.exportPolicy }
}

export const rootInode = 1

/** Decoded chunks for reads, least recently used first out. */
export class ChunkCache {
  readonly #entries = new Map<string, Promise<Buffer>>()
  readonly #chunkStore: ChunkStore
  readonly #max: number

  constructor(chunkStore: ChunkStore, max: number) {
    this.#chunkStore = chunkStore
    this.#max = max
  }

  get(id: ChunkId, signal?: AbortSignal): Promise<Buffer> {
    const hex = chunkIdHex(id)
    const cached = this.#entries.get(hex)
    if (cached !== undefined) {
      this.#entries.delete(hex)
      this.#entries.set(hex, cached)
      return cached
    }
    const loading = this.#chunkStore.get(id, { signal })
    this.#entries.set(hex, loading)
    loading.catch(() => this.#entries.delete(hex))
    while (this.#entries.size > this.#max) this.#entries.delete(this.#entries.keys().next().value as string)
    return loading
  }
}

/** Idle content-defined chunkers for reuse (each holds a carry buffer of maxBytes). */
export class ChunkerPool {
  readonly #idle: ContentDefinedChunker[] = []
  readonly #options: Readonly<ContentDefinedChunkerOptions>

  constructor(options: Readonly<ContentDefinedChunkerOptions>) {
    this.#options = options
  }

  take(): ContentDefinedChunker {
    return this.#idle.pop() ?? new ContentDefinedChunker(this.#options)
  }

  give(chunker: ContentDefinedChunker): void {
    chunker.finish()
    if (this.#idle.length < 4) this.#idle.push(chunker)
  }
}

export interface Resolved {
  readonly fs: FileSystemRecord
  readonly inode: number
}

export function resolveHandle(ctx: FilesContext, handle: FileHandle): Resolved {
  const { fsId, inode } = decodeHandle(handle)
  return { fs: ctx.fileSystems.require(fsId), inode }
}

/**
 * The inode record, or NOT_FOUND 'inode' (a stale handle). An unlinked file that nothing holds
 * open is gone for callers even while its data is being reclaimed.
 */
export async function requireInode(ctx: FilesContext, tx: ReadTx, fsId: FileSystemId, inode: number): Promise<InodeRecord> {
  const bytes = await tx.get(inodeKey(fsId, inode))
  if (bytes === undefined) throw new StoreError('NOT_FOUND', 'stale file handle', { subject: 'inode' })
  const record = decodeInode(bytes, `inode ${fsId}/${inode}`)
  if (record.nlink === 0 && record.type === 'regular' && !ctx.active.isOpen(fsId, inode)) {
    throw new StoreError('NOT_FOUND', 'stale file handle (the file was removed)', { subject: 'inode' })
  }
  return record
}

export function requireDirectory(record: InodeRecord): void {
  if (record.type !== 'directory') throw new FileError('not-directory', 'not a directory')
}

export function requireWritable(fs: FileSystemRecord): void {
  if (fs.exportPolicy.readOnly) throw new FileError('read-only', `file system ${fs.name} is read-only`)
}

export function need(caller: Caller, record: InodeRecord, rights: { read?: boolean; write?: boolean; execute?: boolean }): void {
  const granted = posixAccess(record, caller)
  if ((rights.read === true && !granted.read) || (rights.write === true && !granted.write) || (rights.execute === true && !granted.execute)) {
    throw new StoreError('ACCESS_DENIED', 'permission denied', { subject: 'inode' })
  }
}

export function cloneInode(record: InodeRecord): InodeRecord {
  return { ...record }
}

/** A record's attributes as callers see them: buffered writes included. */
export function attributesOf(ctx: FilesContext, fsId: FileSystemId, inode: number, record: InodeRecord): FileAttributes {
  const file = ctx.active.get(fsId, inode)
  let sizeBytes = record.sizeBytes
  let spaceUsedBytes = 4096
  let modifyTime = record.modifyTime
  let changeTime = record.changeTime
  if (record.type === 'regular') {
    sizeBytes = Math.max(record.sizeBytes, file?.bufferedEnd ?? 0)
    spaceUsedBytes = Math.min(sizeBytes, record.allocatedBytes + (file?.bufferedBytes ?? 0))
    const pending = file?.pendingModifyMs
    if (pending !== undefined && pending > msOf(record.modifyTime)) modifyTime = timestampOf(pending)
    if (pending !== undefined && pending > msOf(record.changeTime)) changeTime = timestampOf(pending)
  } else if (record.type === 'directory') {
    sizeBytes = 4096
  }
  return {
    type: record.type, mode: record.mode, nlink: record.nlink, uid: record.uid, gid: record.gid, sizeBytes, spaceUsedBytes,
    fileId: inode, change: ctx.changes.report(record.change, file?.pendingChange),
    accessTime: record.accessTime, modifyTime, changeTime, createTime: record.createTime,
  }
}
