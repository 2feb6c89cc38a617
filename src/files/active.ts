// In-memory state of files in use: open counts (NFS opens keep unlinked files alive) and
// buffered writes. A file is active while it is open, holds buffered bytes, or is being flushed;
// an idle file is forgotten.
//
// Buffered bytes of one file are two layers: `flushing` (being stored by the running flush,
// still visible to readers) under `dirty` (newer writes). Readers capture both layer objects
// before reading metadata, so a flush that commits meanwhile never hides bytes from them.
// Invariants: `bufferedBytes` of the registry is the sum over files of both layers; nothing else
// holds file data in memory. Never: drop a layer's bytes before they are committed or restored.
import type { FileSystemId } from './api.ts'
import { DirtyBuffer } from './dirty.ts'
import { Mutex } from './mutex.ts'

export class ActiveFile {
  readonly fsId: FileSystemId
  readonly inode: number
  openCount = 0
  dirty = new DirtyBuffer()
  flushing: DirtyBuffer | undefined
  /** Change value reported for the newest buffered write (persisted by the flush that stores it). */
  pendingChange: bigint | undefined
  /** Time of the newest buffered write: the flush stores it as mtime/ctime. */
  pendingModifyMs: number | undefined
  /** When the oldest buffered byte was written (age-based flushing). */
  dirtySinceMs: number | undefined
  /** Serializes flushes, truncates and reclaims of this file. */
  readonly lock = new Mutex()
  /** Bytes the last 'cut' flush left buffered: the next one waits for a threshold more. */
  keptBytes = 0
  /** The running background flush, if any. */
  background: Promise<void> | undefined
  /** Bytes this file contributes to the registry's total (kept by ActiveFiles.account). */
  counted = 0

  constructor(fsId: FileSystemId, inode: number) {
    this.fsId = fsId
    this.inode = inode
  }

  get bufferedBytes(): number {
    return this.dirty.sizeBytes + (this.flushing?.sizeBytes ?? 0)
  }

  /** One past the last buffered byte of either layer. */
  get bufferedEnd(): number {
    return Math.max(this.dirty.endBytes, this.flushing?.endBytes ?? 0)
  }

  /** The layers a reader overlays, oldest first. */
  layers(): DirtyBuffer[] {
    return this.flushing === undefined ? [this.dirty] : [this.flushing, this.dirty]
  }

  get idle(): boolean {
    return this.openCount === 0 && this.dirty.isEmpty && this.flushing === undefined && !this.lock.busy && this.background === undefined
  }
}

export class ActiveFiles {
  readonly #files = new Map<string, ActiveFile>()
  #bufferedBytes = 0
  #waiters: Array<() => void> = []

  static keyOf(fsId: string, inode: number): string {
    return `${fsId}/${inode}`
  }

  get bufferedBytes(): number {
    return this.#bufferedBytes
  }

  get(fsId: string, inode: number): ActiveFile | undefined {
    return this.#files.get(ActiveFiles.keyOf(fsId, inode))
  }

  obtain(fsId: FileSystemId, inode: number): ActiveFile {
    const key = ActiveFiles.keyOf(fsId, inode)
    let file = this.#files.get(key)
    if (file === undefined) {
      file = new ActiveFile(fsId, inode)
      this.#files.set(key, file)
    }
    return file
  }

  isOpen(fsId: string, inode: number): boolean {
    return (this.get(fsId, inode)?.openCount ?? 0) > 0
  }

  /** Re-count a file's buffered bytes after its layers changed; forget it when idle. */
  account(file: ActiveFile): void {
    const now = file.bufferedBytes
    this.#bufferedBytes += now - file.counted
    file.counted = now
    if (file.dirty.isEmpty) file.dirtySinceMs = undefined
    if (file.idle) this.#files.delete(ActiveFiles.keyOf(file.fsId, file.inode))
    if (this.#waiters.length > 0) {
      const waiters = this.#waiters
      this.#waiters = []
      for (const wake of waiters) wake()
    }
  }

  /** Resolves at the next change of the buffered total (writers wait on it above the budget). */
  changed(): Promise<void> {
    return new Promise((resolve) => this.#waiters.push(resolve))
  }

  all(): ActiveFile[] {
    return [...this.#files.values()]
  }

  /** Forget a file whose inode is gone (its buffered bytes are dropped). */
  drop(file: ActiveFile): void {
    file.dirty = new DirtyBuffer()
    file.pendingChange = undefined
    file.pendingModifyMs = undefined
    this.account(file)
  }

  forgetFileSystem(fsId: string): void {
    for (const file of this.all()) {
      if (file.fsId !== fsId) continue
      file.dirty = new DirtyBuffer()
      file.openCount = 0
      this.account(file)
    }
  }
}
