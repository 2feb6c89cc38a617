// FileEngine: the files layer (POSIX semantics without NFS) on the MetaStore and the ChunkStore.
// It implements the front-end contract FileService (api.ts) and manages file systems for the
// admin API (create, list, describe, change, delete), storage-class lifecycle and usage.
//
// Open: bump the boot counter (change attribute, write verifier), load the file systems, resume
// interrupted deletions, finish trims and reclaim orphans (nothing is open in a new process),
// create `default` on first start; then serve. Background work (age-based flushes, lifecycle
// passes, reclaims, tier moves) is tracked: close() stops timers, flushes every buffered write,
// waits for background work, and leaves the stores open (their owner closes them).
// Never: acknowledge a stable write, commit or close before its metadata transaction committed.
import { contentDefinedChunkerDefaults, type ChunkStore, type ContentDefinedChunkerOptions } from '../chunk/index.ts'
import { fileLimits, StoreError, systemClock, systemRandom, type Clock, type Random } from '../lib/index.ts'
import type { MetaStore } from '../meta/index.ts'
import type {
  AttributeChanges, Caller, Created, DirectoryChange, DirectoryPage, FileAttributes, FileHandle, FileService, FileSystemId,
  FileSystemInfo, FileSystemUsage, Found, NewObject, ReadDirectoryOptions, SetAttributeOptions, WriteStability, Written,
} from './api.ts'
import { ActiveFiles } from './active.ts'
import { getAttributes, setAttributes } from './attributes.ts'
import { ChangeCounter, msOf } from './change.ts'
import { ChunkCache, ChunkerPool, FileSystemRegistry, infoOf, resolveHandle, type FilesContext, type FilesLog, type FilesTuning } from './context.ts'
import { closeFile, commit, openFile, read, write, type OnAccess } from './data.ts'
import {
  createFileSystem, describe, ensureDefault, findRecord, loadFileSystems, markDeleted, purgeFileSystem, updateFileSystem, usageReport,
} from './file-systems.ts'
import { flushFile, flushInBackground } from './flush.ts'
import { checkFileSystem, type FsckReport } from './fsck.ts'
import { runLifecycle, transition } from './lifecycle.ts'
import { create, createMany, link, lookup, lookupParent, readDirectory, readLink } from './namespace.ts'
import { reclaimOrphan, recoverFileSystem } from './reclaim.ts'
import { remove, rename } from './unlink.ts'
import { inodeKey } from './keys.ts'
import { decodeInode, encodeInode } from './records.ts'
import { timestampOf } from './change.ts'
import type { FileSystemChanges, FileSystemDescription, FileSystemOptions, LifecycleReport } from './types.ts'

export interface FilesOptions {
  readonly meta: MetaStore
  readonly chunkStore: ChunkStore
  readonly clock?: Clock
  readonly random?: Random
  /** Length of a lifecycle "day" (default 24 h; tests use seconds). */
  readonly dayMs?: number
  /** How often lifecycle passes run (default a quarter day, at most an hour); 0: only on request. */
  readonly lifecycleIntervalMs?: number
  /** Content-defined chunking sizes (default the objects layer's, so files dedup with objects). */
  readonly chunking?: ContentDefinedChunkerOptions
  /** Free bytes where the packs live (statfs); default: report 1 PiB free. */
  readonly freeBytes?: () => Promise<number>
  /** Create the `default` file system on first open (default true). */
  readonly createDefault?: boolean
  /** Test knobs: buffer sizes and reclaim page size. */
  readonly tuning?: Partial<Pick<FilesTuning, 'dirtyBytesMax' | 'dirtyBytesPerFileFlushAt' | 'dirtyAgeMsMax' | 'reclaimPageKeys'>>
  readonly log?: FilesLog
  /** A bug in background work: main logs it and exits. */
  readonly onBug?: (error: Error) => void
}

export interface FilesRecovery {
  readonly boot: number
  readonly fileSystems: number
  readonly trimsFinished: number
  readonly orphansReclaimed: number
  readonly deletionsResumed: number
}

const defaultDayMs = 24 * 60 * 60 * 1000

export class FileEngine implements FileService {
  readonly writeVerifier: Buffer
  readonly maxFileSizeBytes = fileLimits.fileSizeBytesMax
  readonly recovery: FilesRecovery
  readonly #ctx: FilesContext
  readonly #options: FilesOptions
  readonly #tasks = new Set<Promise<unknown>>()
  readonly #reclaiming = new Set<string>()
  readonly #transitioning = new Set<string>()
  readonly #lifecycleIntervalMs: number
  #lastLifecycleMs: number
  #lifecycleRunning: Promise<unknown> | undefined
  #timer: ReturnType<typeof setInterval> | undefined
  #closing: Promise<void> | undefined

  private constructor(ctx: FilesContext, options: FilesOptions, recovery: FilesRecovery) {
    this.#ctx = ctx
    this.#options = options
    this.recovery = recovery
    this.writeVerifier = Buffer.alloc(8)
    this.writeVerifier.writeBigUInt64BE(BigInt(ctx.changes.boot))
    this.#lifecycleIntervalMs = options.lifecycleIntervalMs ?? Math.min(60 * 60 * 1000, Math.max(1, Math.floor(ctx.tuning.dayMs / 4)))
    this.#lastLifecycleMs = ctx.clock.nowMs()
  }

  static async open(options: FilesOptions): Promise<FileEngine> {
    const clock = options.clock ?? systemClock
    const dayMs = options.dayMs ?? defaultDayMs
    if (!Number.isSafeInteger(dayMs) || dayMs < 1) throw new StoreError('INVALID_ARGUMENT', 'dayMs must be a positive integer')
    const tuning: FilesTuning = {
      dayMs,
      accessTimeResolutionMs: Math.min(fileLimits.accessTimeResolutionMsMax, Math.max(1, Math.floor(dayMs / 4))),
      chunking: options.chunking ?? contentDefinedChunkerDefaults,
      dirtyBytesMax: options.tuning?.dirtyBytesMax ?? fileLimits.dirtyBytesMax,
      dirtyBytesPerFileFlushAt: options.tuning?.dirtyBytesPerFileFlushAt ?? fileLimits.dirtyBytesPerFileFlushAt,
      dirtyAgeMsMax: options.tuning?.dirtyAgeMsMax ?? fileLimits.dirtyAgeMsMax,
      reclaimPageKeys: options.tuning?.reclaimPageKeys ?? fileLimits.reclaimPageKeys,
    }
    const changes = await ChangeCounter.open(options.meta)
    const tasks = new Set<Promise<unknown>>()
    let engine: FileEngine | undefined
    const log: FilesLog = options.log ?? (() => {})
    const ctx: FilesContext = {
      meta: options.meta, chunkStore: options.chunkStore, clock, random: options.random ?? systemRandom, changes, tuning, log,
      fileSystems: new FileSystemRegistry(), active: new ActiveFiles(),
      chunks: new ChunkCache(options.chunkStore, fileLimits.readChunkCacheEntriesMax),
      chunkers: new ChunkerPool(tuning.chunking),
      background: (name, work) => (engine === undefined ? tasks.add(work()) : engine.track(name, work)),
    }
    const recovery = await recover(ctx, options)
    engine = new FileEngine(ctx, options, recovery)
    for (const task of tasks) engine.track('open', () => task)
    engine.#startTimer()
    return engine
  }

  /** Run background work; close() waits for it; failures are logged (bugs go to onBug). */
  track(name: string, work: () => Promise<unknown>): void {
    const task = work().catch((error: unknown) => {
      if (error instanceof StoreError) this.#ctx.log('files.background-failed', { task: name, code: error.code, error: error.message })
      else this.#options.onBug?.(error instanceof Error ? error : new TypeError(String(error)))
    })
    this.#tasks.add(task)
    void task.finally(() => this.#tasks.delete(task))
  }

  /** Resolves when no background work is running (tests). */
  async idle(): Promise<void> {
    while (this.#tasks.size > 0) await Promise.allSettled([...this.#tasks])
  }

  #startTimer(): void {
    const tickMs = Math.max(10, Math.min(1000, Math.floor(this.#ctx.tuning.dirtyAgeMsMax / 4), this.#lifecycleIntervalMs || 1000))
    this.#timer = setInterval(() => this.#tick(), tickMs)
    this.#timer.unref()
  }

  #tick(): void {
    const now = this.#ctx.clock.nowMs()
    for (const file of this.#ctx.active.all()) {
      if (file.dirtySinceMs !== undefined && now - file.dirtySinceMs >= this.#ctx.tuning.dirtyAgeMsMax) flushInBackground(this.#ctx, file, 'all')
    }
    if (this.#lifecycleIntervalMs > 0 && this.#lifecycleRunning === undefined && now - this.#lastLifecycleMs >= this.#lifecycleIntervalMs) {
      this.#lastLifecycleMs = now
      const running = this.runLifecycle().finally(() => {
        this.#lifecycleRunning = undefined
      })
      this.#lifecycleRunning = running
      this.track('lifecycle', () => running)
    }
  }

  #reclaim = (fsId: FileSystemId, inode: number): void => {
    const key = ActiveFiles.keyOf(fsId, inode)
    if (this.#reclaiming.has(key)) return
    this.#reclaiming.add(key)
    this.track('reclaim', async () => {
      try {
        await reclaimOrphan(this.#ctx, fsId, inode)
      } finally {
        this.#reclaiming.delete(key)
      }
    })
  }

  /** Reads and writes: persist atime now and then (relatime-like); IA files may move back. */
  #onAccess: OnAccess = async (fs, inode, record, kind) => {
    const ctx = this.#ctx
    if (record.storageClass === 'infrequent-access' && fs.lifecycle.transitionToStandardOnAccess) {
      const key = ActiveFiles.keyOf(fs.id, inode)
      if (!this.#transitioning.has(key)) {
        this.#transitioning.add(key)
        this.track('transition', async () => {
          try {
            await transition(ctx, fs.id, inode, 'standard')
          } finally {
            this.#transitioning.delete(key)
          }
        })
      }
    }
    const now = ctx.clock.nowMs()
    // Writes set mtime (which lifecycle reads too), not atime.
    if (kind === 'write' || now - msOf(record.accessTime) < ctx.tuning.accessTimeResolutionMs || fs.exportPolicy.readOnly) return
    await ctx.meta.transact(async (tx) => {
      const stored = await tx.get(inodeKey(fs.id, inode))
      if (stored === undefined) return
      const current = decodeInode(stored, `inode ${fs.id}/${inode}`)
      if (msOf(current.accessTime) >= now) return
      current.accessTime = timestampOf(now)
      tx.put(inodeKey(fs.id, inode), encodeInode(current))
    })
  }

  // ---- FileService ----

  async listFileSystems(): Promise<FileSystemInfo[]> {
    this.#checkOpen()
    return this.#ctx.fileSystems.list().map(infoOf)
  }

  async findFileSystem(nameOrId: string): Promise<FileSystemInfo | undefined> {
    this.#checkOpen()
    const record = this.#ctx.fileSystems.byNameOrId(nameOrId)
    return record === undefined ? undefined : infoOf(record)
  }

  async fileSystemOf(handle: FileHandle): Promise<FileSystemInfo> {
    this.#checkOpen()
    return infoOf(resolveHandle(this.#ctx, handle).fs)
  }

  async usage(handle: FileHandle): Promise<FileSystemUsage> {
    this.#checkOpen()
    const { fs } = resolveHandle(this.#ctx, handle)
    const report = await usageReport(this.#ctx, fs.id)
    const usedBytes = report.standard.allocatedBytes + report.infrequentAccess.allocatedBytes
    const freeBytes = Math.max(0, (await this.#options.freeBytes?.()) ?? 2 ** 50)
    const totalFiles = 2 ** 32
    const freeFiles = Math.max(0, totalFiles - report.files - report.directories - report.symlinks)
    return { totalBytes: usedBytes + freeBytes, freeBytes, availableBytes: freeBytes, totalFiles, freeFiles, availableFiles: freeFiles }
  }

  getAttributes(handle: FileHandle): Promise<FileAttributes> {
    return this.#run(() => getAttributes(this.#ctx, handle))
  }

  setAttributes(caller: Caller, handle: FileHandle, changes: AttributeChanges, options?: SetAttributeOptions): Promise<FileAttributes> {
    return this.#run(() => setAttributes(this.#ctx, caller, handle, changes, options))
  }

  lookup(caller: Caller, directory: FileHandle, name: string): Promise<Found> {
    return this.#run(() => lookup(this.#ctx, caller, directory, name))
  }

  lookupParent(caller: Caller, directory: FileHandle): Promise<Found> {
    return this.#run(() => lookupParent(this.#ctx, caller, directory))
  }

  readDirectory(caller: Caller, directory: FileHandle, options: ReadDirectoryOptions): Promise<DirectoryPage> {
    return this.#run(() => readDirectory(this.#ctx, caller, directory, options))
  }

  create(caller: Caller, directory: FileHandle, name: string, object: NewObject): Promise<Created> {
    return this.#run(() => create(this.#ctx, caller, directory, name, object))
  }

  /** Create many entries in one directory in one transaction (bulk loads; all or none). */
  createMany(caller: Caller, directory: FileHandle, names: readonly string[], object: NewObject): Promise<Created[]> {
    return this.#run(() => createMany(this.#ctx, caller, directory, names, object))
  }

  link(caller: Caller, file: FileHandle, directory: FileHandle, name: string): Promise<{ attributes: FileAttributes; directory: DirectoryChange }> {
    return this.#run(() => link(this.#ctx, caller, file, directory, name))
  }

  remove(caller: Caller, directory: FileHandle, name: string): Promise<DirectoryChange> {
    return this.#run(() => remove(this.#ctx, caller, directory, name, this.#reclaim))
  }

  rename(caller: Caller, fromDirectory: FileHandle, fromName: string, toDirectory: FileHandle, toName: string): Promise<{ from: DirectoryChange; to: DirectoryChange }> {
    return this.#run(() => rename(this.#ctx, caller, fromDirectory, fromName, toDirectory, toName, this.#reclaim))
  }

  readLink(handle: FileHandle): Promise<string> {
    return this.#run(() => readLink(this.#ctx, handle))
  }

  read(handle: FileHandle, offsetBytes: number, lengthBytes: number, signal?: AbortSignal): Promise<{ data: Buffer; eof: boolean }> {
    return this.#run(() => read(this.#ctx, handle, offsetBytes, lengthBytes, this.#onAccess, signal))
  }

  write(handle: FileHandle, offsetBytes: number, data: Buffer, stability: WriteStability, signal?: AbortSignal): Promise<Written> {
    return this.#run(() => write(this.#ctx, handle, offsetBytes, data, stability, this.#onAccess, signal))
  }

  commit(handle: FileHandle, signal?: AbortSignal): Promise<void> {
    return this.#run(() => commit(this.#ctx, handle, signal))
  }

  openFile(handle: FileHandle): Promise<void> {
    return this.#run(() => openFile(this.#ctx, handle))
  }

  closeFile(handle: FileHandle, signal?: AbortSignal): Promise<void> {
    return this.#run(() => closeFile(this.#ctx, handle, this.#reclaim, signal))
  }

  // ---- management (admin API) ----

  async createFileSystem(name: string, options: FileSystemOptions = {}): Promise<FileSystemDescription> {
    this.#checkOpen()
    return describe(this.#ctx, await createFileSystem(this.#ctx, name, options))
  }

  async describeFileSystems(): Promise<FileSystemDescription[]> {
    this.#checkOpen()
    return Promise.all(this.#ctx.fileSystems.list().map((record) => describe(this.#ctx, record)))
  }

  async describeFileSystem(nameOrId: string): Promise<FileSystemDescription> {
    this.#checkOpen()
    return describe(this.#ctx, findRecord(this.#ctx, nameOrId))
  }

  async updateFileSystem(nameOrId: string, changes: FileSystemChanges): Promise<FileSystemDescription> {
    this.#checkOpen()
    return describe(this.#ctx, await updateFileSystem(this.#ctx, nameOrId, changes))
  }

  /** Hides the file system at once; its data is removed in the background (see idle()). */
  async deleteFileSystem(nameOrId: string): Promise<void> {
    this.#checkOpen()
    const record = await markDeleted(this.#ctx, nameOrId)
    this.track('purge', () => purgeFileSystem(this.#ctx, record.id))
  }

  /** Run a lifecycle pass now over one file system or all of them. */
  async runLifecycle(nameOrId?: string): Promise<LifecycleReport> {
    this.#checkOpen()
    const records = nameOrId === undefined ? this.#ctx.fileSystems.list() : [findRecord(this.#ctx, nameOrId)]
    const total = { scannedFiles: 0, toInfrequentAccess: 0, toStandard: 0, movedChunks: 0 }
    for (const record of records) {
      const report = await runLifecycle(this.#ctx, record)
      total.scannedFiles += report.scannedFiles
      total.toInfrequentAccess += report.toInfrequentAccess
      total.toStandard += report.toStandard
      total.movedChunks += report.movedChunks
    }
    return total
  }

  /** Check a file system's metadata for consistency (tests, operators; reads it all). */
  async check(nameOrId: string): Promise<FsckReport> {
    this.#checkOpen()
    return checkFileSystem(this.#ctx, findRecord(this.#ctx, nameOrId).id)
  }

  /** Flush every buffered write (as if every file were committed). */
  async flushAll(): Promise<void> {
    for (const file of this.#ctx.active.all()) await flushFile(this.#ctx, file, 'all')
  }

  /** Bytes buffered in memory across files (tests, metrics). */
  get bufferedBytes(): number {
    return this.#ctx.active.bufferedBytes
  }

  close(): Promise<void> {
    this.#closing ??= (async () => {
      if (this.#timer !== undefined) clearInterval(this.#timer)
      await this.idle()
      await this.flushAll()
      await this.idle()
    })()
    return this.#closing
  }

  /** Stop like a crash would: timers stop, buffered writes are dropped, nothing is flushed (tests). */
  async discard(): Promise<void> {
    this.#closing ??= (async () => {
      if (this.#timer !== undefined) clearInterval(this.#timer)
      for (const file of this.#ctx.active.all()) this.#ctx.active.drop(file)
      await this.idle()
    })()
    return this.#closing
  }

  #checkOpen(): void {
    if (this.#closing !== undefined) throw new StoreError('CLOSED', 'the files engine is closed')
  }

  #run<T>(fn: () => Promise<T>): Promise<T> {
    try {
      this.#checkOpen()
      return fn()
    } catch (error) {
      return Promise.reject(error)
    }
  }
}

async function recover(ctx: FilesContext, options: FilesOptions): Promise<FilesRecovery> {
  let trimsFinished = 0
  let orphansReclaimed = 0
  let deletionsResumed = 0
  for (const record of await loadFileSystems(ctx)) {
    ctx.fileSystems.set(record)
    if (record.state === 'deleting') {
      deletionsResumed += 1
      ctx.background('purge', () => purgeFileSystem(ctx, record.id))
      continue
    }
    const recovered = await recoverFileSystem(ctx, record.id)
    trimsFinished += recovered.trims
    orphansReclaimed += recovered.orphans
  }
  if (options.createDefault !== false) await ensureDefault(ctx)
  const recovery = { boot: ctx.changes.boot, fileSystems: ctx.fileSystems.list().length, trimsFinished, orphansReclaimed, deletionsResumed }
  ctx.log('files.open', { ...recovery })
  return recovery
}
