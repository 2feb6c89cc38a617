// Test support for the files tests (not used by production code): a FileEngine over a real
// ChunkStore and KeyRing on a temp dir, reopenable on the same data, with small chunks so tests
// exercise many chunks cheaply.
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ChunkStore, KeyRing, type ContentDefinedChunkerOptions } from '../chunk/index.ts'
import { masterKeyFromBytes } from '../crypto/index.ts'
import { nodeIo } from '../io/index.ts'
import { systemClock, systemRandom, type Clock } from '../lib/index.ts'
import { LevelMetaStore, MemoryMetaStore, type MetaStore } from '../meta/index.ts'
import type { Caller, FileHandle } from './api.ts'
import { FileEngine, type FilesOptions } from './service.ts'

export const root: Caller = { uid: 0, gid: 0, gids: [] }
export const smallChunks: ContentDefinedChunkerOptions = { minBytes: 1024, averageBytes: 4096, maxBytes: 16 * 1024 }

export interface FilesTestOptions {
  metaBackend?: 'memory' | 'level'
  directory?: string
  clock?: Clock
  gcGraceMs?: number
  files?: Partial<Omit<FilesOptions, 'meta' | 'chunkStore'>>
}

export interface FilesTestSetup {
  readonly directory: string
  readonly meta: MetaStore
  chunkStore: ChunkStore
  files: FileEngine
  /** The default file system's root. */
  root(): Promise<FileHandle>
  /** Close the engine (flushing) and the chunk store, and open both again on the same data. */
  reopen(overrides?: Partial<Omit<FilesOptions, 'meta' | 'chunkStore'>>): Promise<FileEngine>
  /** Open a new engine without closing the old one cleanly (buffered writes are lost, as in a crash). */
  crash(): Promise<FileEngine>
  cleanup(): Promise<void>
}

export async function filesTestSetup(options: FilesTestOptions = {}): Promise<FilesTestSetup> {
  const directory = options.directory ?? (await mkdtemp(join(tmpdir(), 'cairn-files-')))
  const meta = options.metaBackend === 'level' ? await LevelMetaStore.open(join(directory, 'meta')) : new MemoryMetaStore()
  const clock = options.clock ?? systemClock
  const openStore = async (): Promise<ChunkStore> => {
    const keyRing = await KeyRing.open({ meta, masterKey: masterKeyFromBytes(Buffer.alloc(32, 7)), random: systemRandom })
    return ChunkStore.open({
      io: nodeIo, meta, keyRing, clock, random: systemRandom,
      tierPaths: { hot: join(directory, 'packs'), cold: join(directory, 'cold') },
      packTargetBytes: 8 * 1024 * 1024, gcGraceMs: options.gcGraceMs ?? 60_000,
    })
  }
  const openFiles = (chunkStore: ChunkStore, overrides: Partial<Omit<FilesOptions, 'meta' | 'chunkStore'>> = {}): Promise<FileEngine> =>
    FileEngine.open({ meta, chunkStore, clock, chunking: smallChunks, lifecycleIntervalMs: 0, ...options.files, ...overrides, onBug: (error) => { throw error } })
  const chunkStore = await openStore()
  const setup: FilesTestSetup = {
    directory, meta, chunkStore,
    files: await openFiles(chunkStore),
    async root() {
      const info = await setup.files.findFileSystem('default')
      if (info === undefined) throw new Error('no default file system')
      return info.rootHandle
    },
    async reopen(overrides) {
      await setup.files.close()
      await setup.chunkStore.close()
      setup.chunkStore = await openStore()
      setup.files = await openFiles(setup.chunkStore, overrides)
      return setup.files
    },
    async crash() {
      await setup.files.discard()
      setup.files = await openFiles(setup.chunkStore)
      return setup.files
    },
    async cleanup() {
      await setup.files.close().catch(() => undefined)
      await setup.chunkStore.close().catch(() => undefined)
      await meta.close()
      await rm(directory, { recursive: true, force: true })
    },
  }
  return setup
}
