// One metadata transaction of one file system, with the bookkeeping every change needs: inode
// reads and writes that keep the usage counters (docs/format/files.md 6) in step, and chunk use
// counts (5.2) whose crossings of zero move the chunk store's references. Callers change inodes,
// entries and extents through it, then call finish() once, inside the same transaction.
//
// Invariants: usage counters move by exactly the difference between an inode's old and new
// record; a file system holds one chunk-store reference per chunk it counts. Never: write an
// inode or an extent of this file system without going through a Mutation.
import { assert, chunkIdHex, StoreError, type ChunkId } from '../lib/index.ts'
import type { WriteTx } from '../meta/index.ts'
import type { ChunkStore } from '../chunk/index.ts'
import type { FileSystemId } from './api.ts'
import { chunkRefKey, inodeKey, systemKey, usageKey } from './keys.ts'
import {
  decodeChunkRef, decodeFileSystem, decodeInode, decodeUsage, emptyUsage, encodeChunkRef, encodeInode, encodeUsage, usageCounterNames,
  type InodeRecord, type UsageCounter, type UsageCounters,
} from './records.ts'

export interface ChunkInfo {
  readonly storedBytes: number
  readonly plainBytes: number
}

interface ChunkDelta {
  readonly id: ChunkId
  delta: number
  info: ChunkInfo | undefined
}

function usageOf(inode: InodeRecord | undefined): Partial<UsageCounters> {
  if (inode === undefined) return {}
  if (inode.type === 'directory') return { directories: 1 }
  if (inode.type === 'symlink') return { symlinks: 1 }
  return inode.storageClass === 'standard'
    ? { files: 1, logicalStandard: inode.sizeBytes, allocatedStandard: inode.allocatedBytes }
    : { files: 1, logicalInfrequentAccess: inode.sizeBytes, allocatedInfrequentAccess: inode.allocatedBytes }
}

export class Mutation {
  readonly tx: WriteTx
  readonly fsId: FileSystemId
  readonly #chunkStore: ChunkStore
  readonly #usage = emptyUsage()
  readonly #chunks = new Map<string, ChunkDelta>()
  #finished = false

  constructor(tx: WriteTx, fsId: FileSystemId, chunkStore: ChunkStore) {
    this.tx = tx
    this.fsId = fsId
    this.#chunkStore = chunkStore
  }

  /** A fresh, mutable copy of the inode record, or undefined. */
  async inode(inode: number): Promise<InodeRecord | undefined> {
    const bytes = await this.tx.get(inodeKey(this.fsId, inode))
    return bytes === undefined ? undefined : decodeInode(bytes, `inode ${this.fsId}/${inode}`)
  }

  /** Write (after) or delete (after undefined) an inode whose stored record is `before`. */
  putInode(inode: number, before: InodeRecord | undefined, after: InodeRecord | undefined): void {
    assert(!this.#finished, 'mutation already finished')
    if (after === undefined) this.tx.delete(inodeKey(this.fsId, inode))
    else this.tx.put(inodeKey(this.fsId, inode), encodeInode(after))
    const old = usageOf(before)
    const now = usageOf(after)
    for (const name of usageCounterNames) this.#usage[name] += (now[name] ?? 0) - (old[name] ?? 0)
  }

  /** One more extent names the chunk; `info` is required when it may be new to this file system. */
  addChunk(id: ChunkId, info?: ChunkInfo): void {
    const entry = this.#delta(id)
    entry.delta += 1
    entry.info ??= info
  }

  dropChunk(id: ChunkId): void {
    this.#delta(id).delta -= 1
  }

  #delta(id: ChunkId): ChunkDelta {
    const hex = chunkIdHex(id)
    let entry = this.#chunks.get(hex)
    if (entry === undefined) {
      entry = { id, delta: 0, info: undefined }
      this.#chunks.set(hex, entry)
    }
    return entry
  }

  count(name: UsageCounter, delta: number): void {
    this.#usage[name] += delta
  }

  /**
   * Apply the chunk counts (moving chunk-store references at zero crossings) and the usage
   * counters. NOT_FOUND 'filesystem' when the file system is being deleted: nothing may add
   * records behind its purge.
   */
  async finish(): Promise<void> {
    assert(!this.#finished, 'mutation finished twice')
    this.#finished = true
    const system = await this.tx.get(systemKey(this.fsId))
    if (system === undefined || decodeFileSystem(system, 'file system record').state !== 'available') {
      throw new StoreError('NOT_FOUND', `file system ${this.fsId} does not exist`, { subject: 'filesystem' })
    }
    const changed = [...this.#chunks.values()].filter((entry) => entry.delta !== 0)
    const stored = changed.length === 0 ? [] : await this.tx.getMany(changed.map((entry) => chunkRefKey(this.fsId, entry.id)))
    const adds: ChunkId[] = []
    const drops: ChunkId[] = []
    changed.forEach((entry, at) => {
      const bytes = stored[at]
      const old = bytes === undefined ? undefined : decodeChunkRef(bytes, entry.id)
      const count = (old?.count ?? 0) + entry.delta
      assert(count >= 0, `chunk ${chunkIdHex(entry.id)}: file system ${this.fsId} drops a reference it does not hold`)
      const key = chunkRefKey(this.fsId, entry.id)
      if (count === 0) {
        this.tx.delete(key)
        drops.push(entry.id)
        this.#usage.storedBytes -= old?.storedBytes ?? 0
        return
      }
      const info = old ?? entry.info
      assert(info !== undefined, `chunk ${chunkIdHex(entry.id)} is new to file system ${this.fsId} but its sizes are unknown`)
      this.tx.put(key, encodeChunkRef({ count, storedBytes: info.storedBytes, plainBytes: info.plainBytes }))
      if (old === undefined) {
        adds.push(entry.id)
        this.#usage.storedBytes += info.storedBytes
      }
    })
    if (adds.length > 0) await this.#chunkStore.addRefs(this.tx, adds)
    if (drops.length > 0) await this.#chunkStore.dropRefs(this.tx, drops)
    if (usageCounterNames.every((name) => this.#usage[name] === 0)) return
    const key = usageKey(this.fsId)
    const bytes = await this.tx.get(key)
    const usage = bytes === undefined ? emptyUsage() : decodeUsage(bytes, `usage ${this.fsId}`)
    for (const name of usageCounterNames) {
      usage[name] += this.#usage[name]
      assert(usage[name] >= 0, `usage counter ${name} of ${this.fsId} went negative`)
    }
    this.tx.put(key, encodeUsage(usage))
  }
}
